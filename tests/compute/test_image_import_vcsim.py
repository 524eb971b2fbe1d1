"""OVA import against govmomi's vcsim (an interop peer nobody here wrote).

vcsim departures these tests account for:

- ``OvfManager.ParseDescriptor`` answers MethodNotFound: the import reads the OVF's name
  and networks from the descriptor itself and says so in ``warnings``;
- the NFC upload is accepted but the bytes are discarded: the disk file on the datastore
  is empty (asserted below), so only the lease flow, the template and its hardware are
  checked here (the spherekit.sim tests check the bytes);
- ``HttpNfcLeaseAbort`` leaves the imported VM in place (vCenter removes it): the import's
  undo finds it still there and destroys it, which the journal shows.

vcsim is a required peer: without Go or govmomi the fixture fails, it never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import spherekit
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.image_import import import_image
from spherekit.session import Session
from spherekit.transfer import http as xfer
from spherekit.transfer.ova import ChecksumMismatch
from tests.compute.test_image_import import DISK, OVA, OVF, make_ova, manifest, methods, vm_names


def test_import_makes_a_template_once(vcsim_session: Session) -> None:
    s, journal = vcsim_session, Journal()
    seen: list[int] = []
    result = import_image(s, OVA, journal=journal, on_progress=lambda p, d, t: seen.append(p))
    assert result.uploaded and result.bytes == len(DISK) and seen[-1] == 100
    assert any("ParseDescriptor" in w for w in result.warnings)  # the departure, said
    image = result.image
    assert image is not None and image.template
    assert (image.cpus, image.memory_mb, image.disk_bytes) == (1, 256, 2 * 2**30)
    assert [m for m, _ in methods(journal)] == [
        "ImportVApp", "HttpNfcLeaseProgress", "HttpNfcLeaseProgress", "HttpNfcLeaseComplete",
        "MarkAsTemplate",
    ]  # fmt: skip
    again = import_image(s, OVA, journal=journal)
    assert not again.uploaded and again.ref == result.ref
    # the departure: vcsim discards NFC uploads, the datastore does not hold the disk's bytes
    (row,) = spherekit.property.retrieve(
        s,
        spherekit.property.filter_spec("VirtualMachine", ["config.hardware.device"], [result.ref]),
    )
    disk = next(d for d in row[1]["config.hardware.device"] if type(d).__name__ == "VirtualDisk")
    ds, _, rel = disk.backing.fileName.partition("] ")
    stored = bytearray()
    xfer.get(s, f"/folder/{rel}?dcPath=DC0&dsName={ds.lstrip('[')}", stored.extend)
    assert bytes(stored) == b""


def test_a_corrupt_disk_aborts_and_leaves_no_vm(vcsim_session: Session, tmp_path: Path) -> None:
    s, journal = vcsim_session, Journal()
    mf = manifest({"tiny.ovf": OVF, "tiny-disk1.vmdk": b"something else"})
    ova = make_ova(tmp_path / "bad.ova",
                   [("tiny.ovf", OVF), ("tiny.mf", mf), ("tiny-disk1.vmdk", DISK)])  # fmt: skip
    before = vm_names(s)
    with pytest.raises(OperationFailed) as caught:
        import_image(s, ova, journal=journal)
    assert isinstance(caught.value.cause, ChecksumMismatch)
    assert vm_names(s) == before
    calls = methods(journal)
    assert ("HttpNfcLeaseAbort", "ok") in calls
    assert ("Destroy_Task", "started") in calls  # vcsim's abort left the VM: undo removed it
    assert calls[-1] == ("undo", "undo ok")
