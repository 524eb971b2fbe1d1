"""Exporting images to OVA / OVF through ExportVm, against spherekit.sim."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

import spherekit
from spherekit import find
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.image_import import ImportResult, export_image, import_image
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.transfer.ova import parse_manifest
from tests.compute.test_image_import import DISK, OVA, disk_bytes, methods, vm_names


@pytest.fixture
def image(session: Session) -> ImportResult:
    return import_image(session, OVA, journal=Journal())


def test_export_writes_an_ova_that_re_imports(
    session: Session, journal: Journal, image: ImportResult, tmp_path: Path
) -> None:
    seen: list[int] = []
    out = export_image(session, image.ref, tmp_path / "tiny.ova", journal=journal,
                       on_progress=lambda p, d, t: seen.append(p))  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == 100
    with tarfile.open(out.path) as tar:
        names = tar.getnames()
        assert names[0].endswith(".ovf") and names[1].endswith(".mf")  # as OVA requires
        mf = parse_manifest(tar.extractfile(names[1]).read(), "mf")  # type: ignore[union-attr]
        for n in (names[0], names[2]):
            data = tar.extractfile(n).read()  # type: ignore[union-attr]
            assert mf[n].algorithm == "sha256"
            assert mf[n].digest == hashlib.sha256(data).hexdigest()
        assert tar.extractfile(names[2]).read() == DISK  # type: ignore[union-attr]
    assert [m for m, _ in methods(journal)] == [
        "ExportVm", "HttpNfcLeaseProgress", "HttpNfcLeaseProgress", "HttpNfcLeaseComplete",
    ]  # fmt: skip
    again = import_image(session, out.path, journal=journal)
    assert again.uploaded and again.ref != image.ref
    assert again.image is not None and image.image is not None
    assert (again.image.cpus, again.image.memory_mb) == (image.image.cpus, image.image.memory_mb)
    assert disk_bytes(session, again.ref) == DISK
    assert list(tmp_path.iterdir()) == [out.path]  # no staging left


def test_export_to_a_directory(
    session: Session, journal: Journal, image: ImportResult, tmp_path: Path
) -> None:
    out = export_image(session, image.name, tmp_path / "pkg", journal=journal)
    files = sorted(p.name for p in out.path.iterdir())
    assert files == sorted(f"{image.name}{s}" for s in (".ovf", ".mf", "-disk1.vmdk"))
    assert (out.path / f"{image.name}-disk1.vmdk").read_bytes() == DISK
    again = import_image(session, out.path / f"{image.name}.ovf", name="copy", journal=journal)
    assert again.uploaded and disk_bytes(session, again.ref) == DISK


def test_bad_exports_are_refused_before_any_write(
    session: Session, journal: Journal, image: ImportResult, tmp_path: Path
) -> None:
    running = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    with pytest.raises(spherekit.UsageError, match="power it off"):
        export_image(session, running, tmp_path / "x.ova", journal=journal)
    (tmp_path / "taken.ova").write_bytes(b"mine")
    with pytest.raises(spherekit.UsageError, match="exists"):
        export_image(session, image.ref, tmp_path / "taken.ova", journal=journal)
    with pytest.raises(spherekit.UsageError, match="does not exist"):
        export_image(session, image.ref, tmp_path / "no" / "dir" / "x.ova", journal=journal)
    assert journal.entries() == []
    assert [p.name for p in tmp_path.iterdir()] == ["taken.ova"]
    assert (tmp_path / "taken.ova").read_bytes() == b"mine"


@pytest.mark.parametrize("method", ["CreateDescriptor", "HttpNfcLeaseComplete"])
def test_a_failed_export_aborts_the_lease_and_removes_local_files(
    sim: Simulator,
    session: Session,
    journal: Journal,
    image: ImportResult,
    tmp_path: Path,
    method: str,
) -> None:
    before = vm_names(session)
    sim.control.add_fault({"method": method, "fault": "SystemError", "fields": {"reason": "x"}})
    for dest in (tmp_path / "t.ova", tmp_path / "dir"):
        with pytest.raises(OperationFailed, match="undone: abort") as caught:
            export_image(session, image.ref, dest, journal=journal)
        assert "remove the partial local files" in str(caught.value)
        assert list(tmp_path.iterdir()) == []
    assert vm_names(session) == before
    outcomes = methods(journal)
    assert ("HttpNfcLeaseAbort", "ok") in outcomes
    assert outcomes.count(("undo", "undo ok")) == 4
