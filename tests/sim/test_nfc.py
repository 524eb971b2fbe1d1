"""ImportVApp / ExportVm and the HttpNfcLease life cycle through the spherekit client, with
the disk bytes moved over the lease URLs (in-process or served, as SPHEREKIT_SIM_MODE says)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import spherekit
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim.storage import parse_ds_path
from spherekit.wire.transport import Request, Response

from .conftest import SimFactory, Target
from .test_ovf import create_import_spec, placement

DISK = (Path(__file__).parent / "data" / "tiny-disk1.vmdk").read_bytes()


def import_spec(sim: Target, s: spherekit.Session, name: str = "imp") -> Any:
    r = create_import_spec(sim, s, name=name)
    assert r.error is None
    return placement(sim)[0], r


def nfc(sim: Target, method: str, url: str, body: bytes = b"") -> Response:
    path = url.split("*", 1)[1]
    return sim.transport().send(Request(method, path, {}, body))


def wait_state(sim: Target, lease: MoRef, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sim.backend.registry.prop(lease, "state") != state:
        assert time.monotonic() < deadline, f"lease never reached {state}"
        time.sleep(0.02)


def vm_named(sim: Target, name: str) -> MoRef | None:
    reg = sim.backend.registry
    return next((v for v in reg.of_type("VirtualMachine") if reg.prop(v, "name") == name), None)


def test_import_upload_complete(sim: Target) -> None:
    s = sim.connect()
    pool, r = import_spec(sim, s)
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    reg = sim.backend.registry
    assert lease.type == "HttpNfcLease"
    assert reg.prop(lease, "state") == "ready"
    info = reg.prop(lease, "info")
    vm = info.entity
    assert reg.prop(vm, "name") == "imp"
    assert "PowerOnVM_Task" in reg.prop(vm, "disabledMethod")
    assert info.leaseTimeout == 300
    [url] = info.deviceUrl
    assert url.importKey == r.fileItem[0].deviceId
    assert url.key == f"/{vm.value}/VirtualLsiLogicController0:0"
    assert url.url.startswith("https://*/nfc/") and url.url.endswith("/disk-0.vmdk")
    assert url.disk is True
    assert nfc(sim, "GET", url.url).status == 405
    assert nfc(sim, "PUT", url.url, DISK).status == 200
    s.call(lease, "HttpNfcLeaseProgress", percent=60)
    assert reg.prop(lease, "transferProgress") == 60
    [entry] = s.call(lease, "HttpNfcLeaseGetManifest")
    assert (entry.key, entry.size, entry.disk) == (url.key, len(DISK), True)
    s.call(lease, "HttpNfcLeaseComplete")
    assert reg.prop(lease, "state") == "done"
    assert reg.prop(vm, "disabledMethod") is None
    config = reg.prop(vm, "config")
    assert (config.hardware.numCPU, config.hardware.memoryMB) == (1, 256)
    [disk] = [x for x in config.hardware.device if type(x) is d.VirtualDisk]
    assert isinstance(disk.backing, d.VirtualDiskFlatVer2BackingInfo)
    assert disk.capacityInKB == 2 * 1024 * 1024
    assert sim.backend.storage.read(*parse_ds_path(disk.backing.fileName)) == DISK
    assert {p.id for p in config.vAppConfig.property} == {"hostname", "mode", "password", "debug"}
    # the lease is over: its URL is gone and it cannot be completed again
    assert nfc(sim, "PUT", url.url, DISK).status == 404
    with pytest.raises(d.InvalidState):
        s.call(lease, "HttpNfcLeaseComplete")


def test_export_serves_the_uploaded_bytes(sim: Target) -> None:
    s = sim.connect()
    pool, r = import_spec(sim, s)
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    reg = sim.backend.registry
    url = reg.prop(lease, "info").deviceUrl[0].url
    nfc(sim, "POST", url, DISK)
    s.call(lease, "HttpNfcLeaseComplete")
    vm = reg.prop(lease, "info").entity
    export = s.call(vm, "ExportVm")
    [dev] = reg.prop(export, "info").deviceUrl
    assert dev.targetId == "disk-0.vmdk"
    got = nfc(sim, "GET", dev.url)
    assert got.status == 200 and got.body == DISK
    assert nfc(sim, "HEAD", dev.url).body == b""
    assert nfc(sim, "PUT", dev.url, b"x").status == 405
    [entry] = s.call(export, "HttpNfcLeaseGetManifest")
    assert entry.size == len(DISK)
    s.call(export, "HttpNfcLeaseComplete")
    assert reg.prop(export, "state") == "done"


def test_export_of_a_vm_without_files_gets_a_placeholder(sim: Target) -> None:
    s = sim.connect()
    vm = vm_named(sim, "DC0_H0_VM0")
    assert vm is not None
    with pytest.raises(d.InvalidPowerState) as err:
        s.call(vm, "ExportVm")
    assert err.value.existingState == "poweredOn"
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
    reg, storage = sim.backend.registry, sim.backend.storage
    disk = next(x for x in reg.prop(vm, "config").hardware.device if isinstance(x, d.VirtualDisk))
    assert isinstance(disk.backing, d.VirtualDiskFlatVer2BackingInfo)
    where = parse_ds_path(disk.backing.fileName)
    if storage.exists(*where):  # the stored disk file is what an export serves
        stored = storage.read(*where)
        export = s.call(vm, "ExportVm")
        assert nfc(sim, "GET", reg.prop(export, "info").deviceUrl[0].url).body == stored
        s.call(export, "HttpNfcLeaseComplete")
        storage.delete(*where)
    export = s.call(vm, "ExportVm")
    url = reg.prop(export, "info").deviceUrl[0].url
    first, second = nfc(sim, "GET", url), nfc(sim, "GET", url)
    assert first.status == 200 and first.body[:4] == b"KDMV"
    assert first.body == second.body
    s.call(export, "HttpNfcLeaseAbort")
    assert vm_named(sim, "DC0_H0_VM0") == vm  # aborting an export removes nothing


def test_abort_removes_the_imported_vm(sim: Target) -> None:
    s = sim.connect()
    pool, r = import_spec(sim, s, "gone")
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    reg = sim.backend.registry
    vm = reg.prop(lease, "info").entity
    disk_file: str = next(
        x.backing.fileName  # type: ignore[union-attr]
        for x in reg.prop(vm, "config").hardware.device
        if isinstance(x, d.VirtualDisk)
    )
    nfc(sim, "PUT", reg.prop(lease, "info").deviceUrl[0].url, DISK)
    s.call(lease, "HttpNfcLeaseAbort")
    assert reg.prop(lease, "state") == "error"
    assert isinstance(reg.prop(lease, "error").fault, d.RequestCanceled)
    assert vm not in reg
    assert vm_named(sim, "gone") is None
    assert not sim.backend.storage.exists(*parse_ds_path(disk_file))
    with pytest.raises(d.InvalidState):
        s.call(lease, "HttpNfcLeaseAbort")


def test_lease_expires_without_progress(sim_factory: SimFactory) -> None:
    sim = sim_factory(seed=1, lease_timeout=0.3)
    s = sim.connect()
    pool, r = import_spec(sim, s, "late")
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    reg = sim.backend.registry
    vm = reg.prop(lease, "info").entity
    for _ in range(3):  # progress keeps it alive past its timeout
        time.sleep(0.15)
        s.call(lease, "HttpNfcLeaseProgress", percent=10)
    assert reg.prop(lease, "state") == "ready"
    wait_state(sim, lease, "error")
    assert isinstance(reg.prop(lease, "error").fault, d.Timedout)
    assert vm not in reg
    with pytest.raises(d.Timedout):
        s.call(lease, "HttpNfcLeaseComplete")
    with pytest.raises(d.Timedout):
        s.call(lease, "HttpNfcLeaseProgress", percent=50)


def test_initializing_then_ready(sim_factory: SimFactory) -> None:
    sim = sim_factory(seed=1, lease_init_delay=0.2)
    s = sim.connect()
    pool, r = import_spec(sim, s)
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    reg = sim.backend.registry
    assert reg.prop(lease, "state") == "initializing"
    assert reg.prop(lease, "info") is None
    with pytest.raises(d.InvalidState):
        s.call(lease, "HttpNfcLeaseComplete")
    wait_state(sim, lease, "ready")
    assert reg.prop(lease, "initializeProgress") == 100
    s.call(lease, "HttpNfcLeaseComplete")


def test_bad_requests(sim: Target) -> None:
    s = sim.connect()
    pool, r = import_spec(sim, s)
    assert sim.transport().send(Request("PUT", "/nfc/nope/disk-0.vmdk", {}, b"")).status == 404
    lease = s.call(pool, "ImportVApp", spec=r.importSpec)
    url = sim.backend.registry.prop(lease, "info").deviceUrl[0].url
    assert nfc(sim, "PUT", url.replace("disk-0", "disk-9"), b"").status == 404
    with pytest.raises(d.InvalidArgument):
        s.call(lease, "HttpNfcLeaseProgress", percent=101)
    # the same name again is a DuplicateName
    with pytest.raises(d.DuplicateName):
        s.call(pool, "ImportVApp", spec=r.importSpec)
    with pytest.raises(d.NotSupported):
        s.call(pool, "ImportVApp", spec=d.VirtualAppImportSpec(
            name="app", vAppConfigSpec=d.VAppConfigSpec(),
            resourcePoolSpec=r.importSpec.configSpec and _pool_spec()))  # fmt: skip


def _pool_spec() -> d.ResourceConfigSpec:
    alloc = d.ResourceAllocationInfo(
        reservation=0, expandableReservation=True, limit=-1,
        shares=d.SharesInfo(shares=4000, level=e.SharesLevel.normal),
    )  # fmt: skip
    return d.ResourceConfigSpec(cpuAllocation=alloc, memoryAllocation=alloc)
