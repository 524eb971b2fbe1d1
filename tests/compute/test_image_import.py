"""Images from OVA / OVF packages through HttpNfcLease, against spherekit.sim.

The package is tests/sim/data/tiny.ova (see make_tiny_ova.py); broken variants are built
in tmp_path. After every failure: no VM left behind, the lease aborted, the journal tells it.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import spherekit
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.image_import import import_image
from spherekit.compute.placement import PlacementError
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.transfer import http as xfer
from spherekit.transfer.ova import ChecksumMismatch, PackageError
from spherekit.transfer.ovf_import import OvfError
from spherekit.wire.transport import Request, Response

DATA = Path(__file__).resolve().parents[1] / "sim" / "data"
OVA = DATA / "tiny.ova"
OVF = (DATA / "tiny.ovf").read_bytes()
DISK = (DATA / "tiny-disk1.vmdk").read_bytes()


def manifest(files: dict[str, bytes], algo: str = "SHA256") -> bytes:
    return "".join(
        f"{algo}({n})= {hashlib.new(algo.lower(), d).hexdigest()}\n" for n, d in files.items()
    ).encode()


def make_ova(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def vm_names(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"]))


def methods(journal: Journal) -> list[tuple[str, str]]:
    return [(e.method, e.outcome) for e in journal.entries()]


def disk_bytes(session: Session, vm: spherekit.MoRef) -> bytes:
    """The bytes of the VM's first disk, read back through /folder."""
    (row,) = spherekit.property.retrieve(
        session, spherekit.property.filter_spec("VirtualMachine", ["config.hardware.device"], [vm])
    )
    disk = next(d for d in row[1]["config.hardware.device"] if type(d).__name__ == "VirtualDisk")
    ds, _, rel = disk.backing.fileName.partition("] ")
    buf = bytearray()
    xfer.get(session, f"/folder/{rel}?dcPath=DC0&dsName={ds.lstrip('[')}", buf.extend)
    return bytes(buf)


def test_import_makes_a_template_with_the_ovf_hardware_and_disk(
    session: Session, journal: Journal
) -> None:
    seen: list[int] = []
    result = import_image(session, OVA, journal=journal, on_progress=lambda p, d, t: seen.append(p))
    assert result.uploaded and result.bytes == len(DISK)
    digest = hashlib.sha256(OVF + (DATA / "tiny.mf").read_bytes()).hexdigest()
    assert result.name == f"tiny-{digest[:12]}" and result.digest == digest
    image = result.image
    assert image is not None and image.template
    assert (image.cpus, image.memory_mb) == (1, 256)
    assert [n.deviceInfo.summary for n in image.nics()] == ["VM Network"]
    assert image.disk_bytes == 2 * 2**30
    assert disk_bytes(session, result.ref) == DISK
    assert seen == sorted(seen) and seen[-1] == 100
    calls = methods(journal)
    assert calls[0] == ("ImportVApp", "ok")
    assert ("HttpNfcLeaseComplete", "ok") in calls and calls[-1] == ("MarkAsTemplate", "ok")
    assert "chosen" in str(result.placement)


def test_a_second_import_returns_the_existing_image(session: Session, journal: Journal) -> None:
    first = import_image(session, OVA, journal=journal)
    second = import_image(session, OVA, journal=journal)
    assert not second.uploaded and second.ref == first.ref
    assert [m for m, _ in methods(journal)].count("ImportVApp") == 1


def test_concurrent_imports_of_one_image_upload_once(session: Session, journal: Journal) -> None:
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(import_image(session, OVA, journal=journal))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len({r.ref for r in results}) == 1
    assert sum(r.uploaded for r in results) == 1
    assert [m for m, _ in methods(journal)].count("ImportVApp") == 1


def test_an_ovf_with_its_files_and_an_explicit_name(session: Session, journal: Journal) -> None:
    result = import_image(session, DATA / "tiny.ovf", name="tiny-from-ovf", journal=journal)
    assert result.image is not None and result.image.name == "tiny-from-ovf"
    assert disk_bytes(session, result.ref) == DISK


@pytest.fixture
def web() -> Iterator[str]:
    """tests/sim/data served over plain HTTP on loopback."""
    handler = functools.partial(_Quiet, directory=str(DATA))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt: str, *args: Any) -> None:
        pass


def test_an_ova_and_an_ovf_by_url_are_streamed(
    session: Session, journal: Journal, web: str
) -> None:
    result = import_image(session, f"{web}/tiny.ova", journal=journal)
    assert result.uploaded and disk_bytes(session, result.ref) == DISK
    other = import_image(session, f"{web}/tiny.ovf", name="tiny-url-ovf", journal=journal)
    assert other.uploaded and disk_bytes(session, other.ref) == DISK
    with pytest.raises(PackageError, match="HTTP 404"):
        import_image(session, f"{web}/missing.ova", journal=journal)


def test_plan_lists_the_calls_and_writes_nothing(session: Session, journal: Journal) -> None:
    before = vm_names(session)
    result = import_image(session, OVA, journal=journal, plan=True)
    assert [c.method for c in result.planned] == [
        "ImportVApp",
        "HttpNfcLeaseComplete",
        "MarkAsTemplate",
    ]
    assert result.image is None and vm_names(session) == before


# -- bad input: a clear error before anything is written -----------------------------------


def _nothing_written(session: Session, journal: Journal, before: list[str]) -> None:
    assert vm_names(session) == before
    assert journal.entries() == []


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([("tiny.ovf", OVF), ("tiny.mf", b"SHA256(tiny.ovf)= nothex\n")], "not a manifest line"),
        (
            [("tiny.ovf", OVF), ("tiny.mf", manifest({"tiny.ovf": b"other"}))],
            "the package is corrupt",
        ),
        ([("tiny.mf", b""), ("disk.vmdk", DISK)], "no .ovf descriptor"),
        ([("tiny.ovf", OVF), ("tiny.mf", manifest({"tiny.ovf": OVF}))], "lacks tiny-disk1.vmdk"),
        (
            [
                ("tiny.ovf", OVF),
                ("tiny.mf", manifest({"tiny.ovf": OVF})),
                ("tiny-disk1.vmdk", DISK),
            ],
            "lists no digest for tiny-disk1.vmdk",
        ),
        ([("tiny.ovf", b"<Envelope"), ("tiny-disk1.vmdk", DISK)], "descriptor is not valid"),
    ],
    ids=["bad-line", "ovf-digest", "no-ovf", "no-disk", "disk-unlisted", "bad-xml"],
)
def test_a_corrupt_package_is_refused_before_any_write(
    session: Session, journal: Journal, tmp_path: Path, members: list[tuple[str, bytes]], match: str
) -> None:
    before = vm_names(session)
    with pytest.raises((PackageError, OvfError), match=match):
        import_image(session, make_ova(tmp_path / "bad.ova", members), journal=journal)
    _nothing_written(session, journal, before)


def test_missing_and_non_tar_packages_are_refused(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    before = vm_names(session)
    with pytest.raises(PackageError, match="does not exist"):
        import_image(session, tmp_path / "nope.ova", journal=journal)
    (tmp_path / "junk.ova").write_bytes(b"not a tar" * 100)
    with pytest.raises(PackageError, match="not a readable OVA"):
        import_image(session, tmp_path / "junk.ova", journal=journal)
    _nothing_written(session, journal, before)


def test_an_ovf_network_that_does_not_exist_must_be_mapped(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    ovf = OVF.replace(b'"VM Network"', b'"Lab Net"').replace(b">VM Network<", b">Lab Net<")
    ova = make_ova(tmp_path / "net.ova", [("tiny.ovf", ovf), ("tiny-disk1.vmdk", DISK)])
    before = vm_names(session)
    with pytest.raises(spherekit.UsageError, match=r"'Lab Net' does not exist.*network_mapping"):
        import_image(session, ova, journal=journal)
    with pytest.raises(spherekit.UsageError, match="which the OVF does not use"):
        import_image(session, ova, journal=journal, network_mapping={"Other": "VM Network"})
    with pytest.raises(PlacementError, match="unknown datastore"):
        import_image(session, ova, journal=journal, datastore="NoSuchDS")
    _nothing_written(session, journal, before)
    result = import_image(session, ova, journal=journal, network_mapping={"Lab Net": "DC0_DVPG0"})
    assert result.image is not None
    names = dict(spherekit.fetch(session, "Network", ["name"]))
    assert [names[n]["name"] for n in result.image.networks] == ["DC0_DVPG0"]


# -- failures after the first write: undone, nothing left -----------------------------------


def _aborted(session: Session, journal: Journal, before: list[str]) -> None:
    assert vm_names(session) == before
    calls = methods(journal)
    assert ("HttpNfcLeaseAbort", "ok") in calls
    assert calls[-1][0] == "undo" and calls[-1][1] == "undo ok"


def test_a_disk_that_does_not_match_the_manifest_aborts_and_removes_the_vm(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    bad = DISK[:-1] + b"\x00"
    mf = manifest({"tiny.ovf": OVF, "tiny-disk1.vmdk": DISK})
    ova = make_ova(
        tmp_path / "x.ova", [("tiny.ovf", OVF), ("tiny.mf", mf), ("tiny-disk1.vmdk", bad)]
    )
    before = vm_names(session)
    with pytest.raises(OperationFailed) as caught:
        import_image(session, ova, journal=journal)
    assert isinstance(caught.value.cause, ChecksumMismatch)
    assert "sha256 is" in str(caught.value) and "undone: abort" in str(caught.value)
    _aborted(session, journal, before)


def test_sha1_manifests_are_checked_too(session: Session, journal: Journal, tmp_path: Path) -> None:
    mf = manifest({"tiny.ovf": OVF, "tiny-disk1.vmdk": b"other"}, "SHA1")
    ova = make_ova(
        tmp_path / "s.ova", [("tiny.ovf", OVF), ("tiny.mf", mf), ("tiny-disk1.vmdk", DISK)]
    )
    with pytest.raises(OperationFailed, match="sha1 is"):
        import_image(session, ova, journal=journal)


#: a disk of several chunks: hashed in the digest worker thread, beside the send
BIG = 3 * 1024 * 1024 + 123


def big_ova(tmp_path: Path, disk: bytes, listed: bytes, algo: str = "SHA256") -> Path:
    """An OVA whose disk is ``disk`` and whose manifest lists the digest of ``listed``."""
    ovf = OVF.replace(b'ovf:size="4096"', f'ovf:size="{len(disk)}"'.encode())
    mf = manifest({"tiny.ovf": ovf, "tiny-disk1.vmdk": listed}, algo)
    members = [("tiny.ovf", ovf), ("tiny.mf", mf), ("tiny-disk1.vmdk", disk)]
    return make_ova(tmp_path / f"big-{algo}.ova", members)


@pytest.mark.parametrize("algo", ["SHA256", "SHA1"])
def test_a_large_disk_is_checked_while_it_streams_and_stored_whole(
    session: Session, journal: Journal, tmp_path: Path, algo: str
) -> None:
    disk = os.urandom(BIG)
    result = import_image(session, big_ova(tmp_path, disk, disk, algo), journal=journal)
    assert result.uploaded and result.bytes == BIG
    assert disk_bytes(session, result.ref) == disk


@pytest.mark.parametrize("algo", ["SHA256", "SHA1"])
def test_a_large_disk_that_does_not_match_aborts_and_removes_the_vm(
    session: Session, journal: Journal, tmp_path: Path, algo: str
) -> None:
    disk = bytearray(os.urandom(BIG))
    good = bytes(disk)
    disk[BIG // 2] ^= 0xFF  # one bit in the second chunk
    before = vm_names(session)
    with pytest.raises(OperationFailed) as caught:
        import_image(session, big_ova(tmp_path, bytes(disk), good, algo), journal=journal)
    assert isinstance(caught.value.cause, ChecksumMismatch)
    assert f"{algo.lower()} is" in str(caught.value) and "undone: abort" in str(caught.value)
    _aborted(session, journal, before)


def test_a_package_cut_short_during_the_upload_aborts_and_removes_the_vm(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    disk = os.urandom(BIG)
    ova = big_ova(tmp_path, disk, disk)
    before = vm_names(session)

    def cut(percent: int, done: int, total: int) -> None:
        if done and ova.stat().st_size > BIG:  # the first chunk is read: cut the rest off
            with ova.open("r+b") as f:
                f.truncate(ova.stat().st_size - BIG // 2)

    with pytest.raises(OperationFailed) as caught:
        import_image(session, ova, journal=journal, on_progress=cut)
    assert isinstance(caught.value.cause, PackageError)
    assert "reading tiny-disk1.vmdk failed" in str(caught.value)
    assert "the archive ends" in str(caught.value) and "undone: abort" in str(caught.value)
    _aborted(session, journal, before)


def test_a_lease_that_is_still_initializing_is_waited_for(tmp_path: Path) -> None:
    sim = Simulator(seed=1, lease_init_delay=0.3)
    try:
        s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
        result = import_image(s, OVA, journal=Journal())
        assert result.image is not None and disk_bytes(s, result.ref) == DISK
    finally:
        sim.stop()


def test_a_fault_at_import_vapp_leaves_nothing(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    before = vm_names(session)
    sim.control.add_fault({"method": "ImportVApp", "fault": "InsufficientResourcesFault"})
    with pytest.raises(OperationFailed, match="Insufficient"):
        import_image(session, OVA, journal=journal)
    assert vm_names(session) == before
    assert methods(journal) == [("ImportVApp", "error: InsufficientResourcesFault")]


def test_a_fault_at_lease_complete_aborts_and_removes_the_vm(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    before = vm_names(session)
    sim.control.add_fault({"method": "HttpNfcLeaseComplete", "fault": "SystemError",
                           "fields": {"reason": "injected"}})  # fmt: skip
    with pytest.raises(OperationFailed) as caught:
        import_image(session, OVA, journal=journal)
    assert "undone: abort" in str(caught.value)
    _aborted(session, journal, before)
    assert ("HttpNfcLeaseComplete", "error: SystemError") in methods(journal)


def test_a_fault_at_mark_as_template_destroys_the_imported_vm(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    before = vm_names(session)
    sim.control.add_fault({"method": "MarkAsTemplate", "fault": "InvalidState"})
    with pytest.raises(OperationFailed, match="undone: destroy the imported VM"):
        import_image(session, OVA, journal=journal)
    assert vm_names(session) == before


# -- the lease is kept alive -----------------------------------------------------------------


class SlowNfc:
    """Wraps a transport: every NFC upload takes ``delay`` seconds longer (a slow link)."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    def _wait(self, request: Request) -> None:
        if "/nfc/" in request.path:
            threading.Event().wait(self.delay)

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        self._wait(request)
        return self.inner.send(request, timeout=timeout)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


def test_a_slow_upload_outlives_the_lease_timeout_thanks_to_progress(tmp_path: Path) -> None:
    sim = Simulator(seed=1, lease_timeout=1)  # the lease dies after 1 s without progress
    try:
        s = spherekit.connect(sim.inprocess_url, transport=SlowNfc(sim.transport(), 2.0))
        journal = Journal()
        result = import_image(s, OVA, journal=journal)
        assert result.image is not None and disk_bytes(s, result.ref) == DISK
        (summary,) = [e for e in journal.entries() if e.method == "HttpNfcLeaseProgress"
                      and "calls" in e.args]  # fmt: skip
        assert summary.args["calls"] >= 4 and summary.outcome == "ok"
    finally:
        sim.stop()
