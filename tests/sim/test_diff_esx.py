"""ESXi mode: the same pyVmomi scenario against ``vcsim -esx`` and ``Simulator(esx=True)``.

They agree on ``about``, on the inventory's names and morefs, on the managers an ESXi
host has, and on what ESXi refuses (CreateDatacenter, CreateClusterEx, CreateFolder:
``NotSupported``; SessionIsActive: ``NotImplemented``). Where vcsim departs from ESXi,
the test names it and asserts spherekit.sim follows ESXi:

- CloneVM_Task on a standalone host fails with ``NotSupported`` (cloning needs vCenter;
  ``ServiceInstance.capability.provisioningSupported`` is false on a host); vcsim's ESX model
  clones anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim as _vim
from pyVmomi import vmodl as _vmodl

from spherekit.sim import Simulator
from tests.interop.vcsim import Vcsim, VcsimError

vim: Any = _vim
vmodl: Any = _vmodl


def _connect(sdk_url: str) -> Any:
    u = urlsplit(sdk_url)
    si: Any = SmartConnect(  # type: ignore[no-untyped-call]
        host=u.hostname, port=u.port, user="user", pwd="pass", disableSslCertValidation=True
    )
    return si


@contextmanager
def started(name: str) -> Iterator[Any]:
    """A pyVmomi ServiceInstance on a fresh ESXi-mode vcsim or spherekit.sim."""
    if name == "vcsim":
        try:
            sim = Vcsim().start(esx=True)
        except VcsimError as exc:
            pytest.fail(f"cannot start vcsim -esx, the interop peer:\n{exc}", pytrace=False)
        try:
            si = _connect(sim.sdk_url)
            yield si
            Disconnect(si)  # type: ignore[no-untyped-call]
        finally:
            sim.stop()
    else:
        with Simulator(seed=1, esx=True) as ours:
            si = _connect(ours.sdk_url)
            yield si
            Disconnect(si)  # type: ignore[no-untyped-call]


@pytest.fixture(params=["vcsim", "spherekit"])
def peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    with started(request.param) as si:
        yield request.param, si


def inventory(si: Any) -> dict[str, tuple[str, str]]:
    """moref value -> (type, name) of every entity but the datastores (whose morefs are
    host-specific: a VMFS UUID on ESXi, a path in vcsim)."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [], True)
    try:
        out = {}
        for obj in view.view:
            if not isinstance(obj, vim.Datastore):
                out[obj._moId] = (type(obj).__name__, obj.name)
        return out
    finally:
        view.DestroyView()


def fault_name(fn: Any) -> str:
    try:
        fn()
    except vmodl.MethodFault as exc:
        return type(exc).__name__.rpartition(".")[2]
    return "no fault"


def first_vm(si: Any) -> Any:
    content = si.RetrieveContent()
    return content.rootFolder.childEntity[0].vmFolder.childEntity[0]


def test_about_and_managers_agree(peer: tuple[str, Any]) -> None:
    _name, si = peer
    content = si.RetrieveContent()
    about = content.about
    assert (about.name, about.apiType, about.productLineId, about.osType) == (
        "VMware ESXi",
        "HostAgent",
        "embeddedEsx",
        "vmnix-x86",
    )
    assert content.rootFolder._moId == "ha-folder-root"
    for field in ("alarmManager", "customizationSpecManager", "scheduledTaskManager"):
        assert getattr(content, field) is None, field
    for field in ("viewManager", "searchIndex", "fileManager", "virtualDiskManager"):
        assert getattr(content, field) is not None, field


def test_inventory_agrees(peer: tuple[str, Any]) -> None:
    _name, si = peer
    found = inventory(si)
    vm_names = sorted(name for kind, name in found.values() if kind == "vim.VirtualMachine")
    assert vm_names == ["ha-host_VM0", "ha-host_VM1"]
    rest = {k: v for k, v in found.items() if v[0] != "vim.VirtualMachine"}
    assert rest == {
        "ha-datacenter": ("vim.Datacenter", "ha-datacenter"),
        "ha-folder-vm": ("vim.Folder", "vm"),
        "ha-folder-host": ("vim.Folder", "host"),
        "ha-folder-datastore": ("vim.Folder", "datastore"),
        "ha-folder-network": ("vim.Folder", "network"),
        "ha-compute-res": ("vim.ComputeResource", "localhost.localdomain"),
        "ha-host": ("vim.HostSystem", "localhost.localdomain"),
        "ha-root-pool": ("vim.ResourcePool", "Resources"),
        "HaNetwork-VM Network": ("vim.Network", "VM Network"),
    }
    vm = first_vm(si)
    assert vm.runtime.host._moId == "ha-host"
    assert vm.resourcePool._moId == "ha-root-pool"
    assert [ds.name for ds in vm.datastore] == ["LocalDS_0"]
    host_folder = si.RetrieveContent().rootFolder.childEntity[0].hostFolder
    assert list(host_folder.childType) == ["ComputeResource"]


def test_esxi_refuses_vcenter_calls_alike(peer: tuple[str, Any]) -> None:
    _name, si = peer
    content = si.RetrieveContent()
    dc = content.rootFolder.childEntity[0]
    spec = vim.cluster.ConfigSpecEx()
    assert fault_name(lambda: content.rootFolder.CreateDatacenter(name="dc2")) == "NotSupported"
    assert fault_name(lambda: dc.hostFolder.CreateClusterEx(name="c", spec=spec)) == (
        "NotSupported"
    )
    assert fault_name(lambda: dc.vmFolder.CreateFolder(name="f")) == "NotSupported"
    sm = content.sessionManager
    key = sm.currentSession.key
    assert fault_name(lambda: sm.SessionIsActive(sessionID=key, userName="user")) == (
        "NotImplemented"
    )


def test_departure_vcsim_clones_on_a_standalone_host() -> None:
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec())
    with started("vcsim") as si:
        vm = first_vm(si)
        task = vm.CloneVM_Task(folder=vm.parent, name="copy", spec=spec)
        WaitForTask(task)  # type: ignore[no-untyped-call]
        assert task.info.state == "success"  # vcsim: the clone exists
    with started("spherekit") as si:
        vm = first_vm(si)
        clone = lambda: vm.CloneVM_Task(folder=vm.parent, name="copy", spec=spec)  # noqa: E731
        assert fault_name(clone) == "NotSupported"  # ESXi: cloning needs vCenter
