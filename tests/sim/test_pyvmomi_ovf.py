"""pyVmomi deploys an OVA and exports it again against the served simulator, the way
VMware's community sample (deploy_ova.py) does: ParseDescriptor, CreateImportSpec,
ImportVApp, upload each file item to its lease URL ('*' replaced by the host), progress,
complete; then ExportVm and a download of the same bytes; abort; lease expiry."""

from __future__ import annotations

import ssl
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from spherekit.sim import Simulator
from spherekit.sim.storage import parse_ds_path
from tests.sim.pyvmomi_client import connected, vim, vmodl

OVA = Path(__file__).parent / "data" / "tiny.ova"


@pytest.fixture
def served() -> Iterator[Simulator]:
    with Simulator(seed=1) as sim:
        yield sim


def member(name: str) -> bytes:
    with tarfile.open(OVA) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def http(method: str, url: str, host: str, body: bytes | None = None) -> bytes:
    """What deploy_ova.py does: the lease URL with '*' replaced, no session cookie."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    headers = {"Content-Type": "application/x-vnd.vmware-streamVmdk"} if body else {}
    req = urllib.request.Request(url.replace("*", host), body, headers, method=method)
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        data: bytes = resp.read()
        return data


def wait_lease(lease: Any, *states: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while (state := lease.state) not in states:
        assert time.monotonic() < deadline, f"lease stuck in {state}"
        time.sleep(0.05)
    return str(state)


def placement(si: Any) -> tuple[Any, Any, Any, Any]:
    """(datacenter, pool of DC0_H0, LocalDS_0, DC0_H0)."""
    dc = si.content.rootFolder.childEntity[0]
    compute = next(c for c in dc.hostFolder.childEntity if c.name == "DC0_H0")
    return dc, compute.resourcePool, dc.datastore[0], compute.host[0]


def import_ova(si: Any, name: str, host_port: str, upload: bool = True) -> tuple[Any, Any]:
    """(lease, import spec result) of the tiny OVA imported as ``name``."""
    descriptor = member("tiny.ovf").decode()
    om = si.content.ovfManager
    dc, pool, ds, _host = placement(si)
    params = vim.OvfManager.CreateImportSpecParams(entityName=name, diskProvisioning="thin")
    cisr = om.CreateImportSpec(descriptor, pool, ds, params)
    assert not cisr.error, cisr.error
    lease = pool.ImportVApp(cisr.importSpec, dc.vmFolder)
    assert wait_lease(lease, "ready", "error") == "ready"
    if upload:
        for item in cisr.fileItem:
            url = next(u for u in lease.info.deviceUrl if u.importKey == item.deviceId)
            http("POST", url.url, host_port, member(item.path))
            lease.HttpNfcLeaseProgress(100)
    return lease, cisr


def test_deploy_and_export(served: Simulator) -> None:
    host_port = urlsplit(served.sdk_url).netloc
    with connected(served) as si:
        parsed = si.content.ovfManager.ParseDescriptor(
            member("tiny.ovf").decode(),
            vim.OvfManager.ParseDescriptorParams(),
        )
        assert not parsed.error
        assert parsed.defaultEntityName == "tiny"
        assert [n.name for n in parsed.network] == ["VM Network"]
        assert {p.id for p in parsed.property} == {"hostname", "mode", "password", "debug"}
        lease, _cisr = import_ova(si, "deployed", host_port)
        lease.HttpNfcLeaseComplete()
        assert lease.state == "done"
        vm = lease.info.entity
        assert vm.name == "deployed"
        assert vm.config.hardware.numCPU == 1
        assert vm.config.hardware.memoryMB == 256
        assert vm.config.guestId == "otherLinux64Guest"
        assert vm.runtime.powerState == "poweredOff"
        devices: list[Any] = list(vm.config.hardware.device)
        disks: list[Any] = [x for x in devices if isinstance(x, vim.vm.device.VirtualDisk)]
        assert [x.capacityInKB for x in disks] == [2 * 1024 * 1024]
        nics: list[Any] = [x for x in devices if isinstance(x, vim.vm.device.VirtualVmxnet3)]
        assert [n.backing.deviceName for n in nics] == ["VM Network"]
        uploaded = member("tiny-disk1.vmdk")
        stored = served.backend.storage.read(*parse_ds_path(disks[0].backing.fileName))
        assert stored == uploaded

        export = vm.ExportVm()
        assert wait_lease(export, "ready") == "ready"
        [url] = export.info.deviceUrl
        assert http("GET", url.url, host_port) == uploaded
        [entry] = export.HttpNfcLeaseGetManifest()
        assert entry.size == len(uploaded)
        descriptor = si.content.ovfManager.CreateDescriptor(
            vm,
            vim.OvfManager.CreateDescriptorParams(
                ovfFiles=[
                    vim.OvfManager.OvfFile(deviceId=url.key, path=url.targetId, size=entry.size)
                ]
            ),
        )
        assert f'ovf:href="{url.targetId}"' in descriptor.ovfDescriptor
        export.HttpNfcLeaseComplete()
        assert export.state == "done"


def test_abort_removes_the_vm(served: Simulator) -> None:
    with connected(served) as si:
        lease, _cisr = import_ova(si, "aborted", urlsplit(served.sdk_url).netloc)
        vm = lease.info.entity
        lease.HttpNfcLeaseAbort()
        assert lease.state == "error"
        assert isinstance(lease.error, vmodl.fault.RequestCanceled)  # pyVmomi unwraps it
        dc = placement(si)[0]
        assert si.content.searchIndex.FindChild(dc.vmFolder, "aborted") is None
        with pytest.raises(vmodl.fault.ManagedObjectNotFound):
            _ = vm.name


def test_lease_expires() -> None:
    with Simulator(seed=1, lease_timeout=0.4) as sim, connected(sim) as si:
        lease, _cisr = import_ova(si, "expired", "", upload=False)
        assert lease.info.leaseTimeout == 1
        assert wait_lease(lease, "error") == "error"
        assert isinstance(lease.error, vim.fault.Timedout)
        with pytest.raises(vim.fault.Timedout):
            lease.HttpNfcLeaseComplete()
        dc = placement(si)[0]
        assert si.content.searchIndex.FindChild(dc.vmFolder, "expired") is None
