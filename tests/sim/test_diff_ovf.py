"""The same pyVmomi OVA deployment against govmomi's vcsim (0.24.2) and spherekit.sim.

vcsim implements OvfManager.CreateImportSpec, ResourcePool.ImportVApp, the HttpNfcLease
methods Progress / Complete / Abort and the ``/nfc`` URLs; for those the two must agree
(the VM they create has the OVF's hardware). Where vcsim departs from vCenter's
documented behaviour, a test names the departure and asserts spherekit.sim follows
vCenter:

- **uploads are discarded**: vcsim's NFC handler copies PUT/POST bodies to
  ``io.Discard``; vCenter writes them to the disk file (and ExportVm serves them back).
- **the lease vanishes on Complete / Abort**: vcsim deletes the HttpNfcLease object;
  vCenter keeps it in ``done`` / ``error`` ("In this state, the error property can be
  read to determine the cause").
- **Abort keeps the VM**: vCenter: "If the lease belongs to an import session, all objects
  created during the import are removed when the lease enters this state"; vcsim leaves it.
- **a malformed descriptor is a SOAP fault**: vcsim raises ``InvalidArgument``; vCenter
  reports OVF problems in the result's ``error`` list (``OvfXmlFormat`` with a line).
- vcsim does not implement ParseDescriptor or ExportVm (MethodNotFound).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyVmomi import vim, vmodl

from tests.sim.diff import PEERS, started

from .test_pyvmomi_ovf import http, member, placement


@pytest.fixture(params=PEERS)
def peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any, str]]:
    """(name, pyVmomi ServiceInstance, host:port) of a fresh vcsim or spherekit.sim."""
    with started(request.param) as p:
        yield p.name, p.si, p.host_port


def start_import(si: Any, name: str) -> tuple[Any, Any, Any]:
    """(lease, CreateImportSpec result, datacenter) for the tiny OVA as ``name``."""
    dc, pool, ds, _host = placement(si)
    params = vim.OvfManager.CreateImportSpecParams(  # type: ignore[no-untyped-call]
        entityName=name, diskProvisioning="thin"
    )
    cisr = si.content.ovfManager.CreateImportSpec(member("tiny.ovf").decode(), pool, ds, params)
    assert not cisr.error
    lease = pool.ImportVApp(cisr.importSpec, dc.vmFolder)
    assert lease.state == "ready"
    return lease, cisr, dc


def upload(lease: Any, cisr: Any, host_port: str) -> tuple[str, bytes]:
    [item] = cisr.fileItem
    url = next(u for u in lease.info.deviceUrl if u.importKey == item.deviceId)
    data = member(item.path)
    http("POST", url.url, host_port, data)
    return url.url, data


def test_deploy_agrees(peer: tuple[str, Any, str]) -> None:
    _name, si, host_port = peer
    lease, cisr, _dc = start_import(si, "deployed")
    config = cisr.importSpec.configSpec
    assert (config.name, config.numCPUs, config.memoryMB) == ("deployed", 1, 256)
    [item] = cisr.fileItem
    assert (item.path, item.size, item.cimType) == ("tiny-disk1.vmdk", 4096, 17)
    assert lease.info.leaseTimeout > 0
    upload(lease, cisr, host_port)
    lease.HttpNfcLeaseProgress(100)
    vm = lease.info.entity
    lease.HttpNfcLeaseComplete()
    assert vm.name == "deployed"
    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (1, 256)
    assert vm.runtime.powerState == "poweredOff"
    devices = vm.config.hardware.device
    disks = [x.capacityInKB for x in devices if isinstance(x, vim.vm.device.VirtualDisk)]
    assert disks == [2 * 1024 * 1024]
    assert sum(isinstance(x, vim.vm.device.VirtualVmxnet3) for x in devices) == 1
    assert sum(isinstance(x, vim.vm.device.VirtualLsiLogicController) for x in devices) == 1


def test_departure_uploads_are_discarded(peer: tuple[str, Any, str]) -> None:
    name, si, host_port = peer
    lease, cisr, _dc = start_import(si, "kept")
    url, data = upload(lease, cisr, host_port)
    if name == "vcsim":
        assert http("GET", url, host_port) != data  # the bytes went to io.Discard
        lease.HttpNfcLeaseComplete()
        return
    vm = lease.info.entity
    lease.HttpNfcLeaseComplete()
    export = vm.ExportVm()
    [dev] = export.info.deviceUrl
    assert http("GET", dev.url, host_port) == data
    export.HttpNfcLeaseComplete()


def test_departure_lease_vanishes_on_complete(peer: tuple[str, Any, str]) -> None:
    name, si, host_port = peer
    lease, cisr, _dc = start_import(si, "done")
    upload(lease, cisr, host_port)
    lease.HttpNfcLeaseComplete()
    if name == "vcsim":
        with pytest.raises(vmodl.fault.ManagedObjectNotFound):
            _ = lease.state
    else:
        assert lease.state == "done"


def test_departure_abort_keeps_the_vm(peer: tuple[str, Any, str]) -> None:
    name, si, _host_port = peer
    lease, _cisr, dc = start_import(si, "aborted")
    lease.HttpNfcLeaseAbort()
    left = si.content.searchIndex.FindChild(dc.vmFolder, "aborted")
    if name == "vcsim":
        assert left is not None
    else:
        assert left is None
        assert lease.state == "error"


def test_departure_malformed_descriptor(peer: tuple[str, Any, str]) -> None:
    name, si, _host_port = peer
    _dc, pool, ds, _host = placement(si)
    om = si.content.ovfManager
    params = vim.OvfManager.CreateImportSpecParams(entityName="bad")  # type: ignore[no-untyped-call]
    if name == "vcsim":
        with pytest.raises(vmodl.fault.InvalidArgument):
            om.CreateImportSpec("<Envelope><x></Envelope>", pool, ds, params)
        with pytest.raises(vmodl.fault.MethodNotFound):
            pdp = vim.OvfManager.ParseDescriptorParams()  # type: ignore[no-untyped-call]
            om.ParseDescriptor(member("tiny.ovf").decode(), pdp)
        return
    result = om.CreateImportSpec("<Envelope><x></Envelope>", pool, ds, params)
    assert result.importSpec is None
    [error] = result.error
    assert isinstance(error, vim.fault.OvfXmlFormat)
    assert error.lineNumber == 1
