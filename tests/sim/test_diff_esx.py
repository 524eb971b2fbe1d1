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

from typing import Any

from pyVim.task import WaitForTask
from pyVmomi import vim as _vim
from pyVmomi import vmodl as _vmodl

from tests.sim.diff import peer_fixture, started

vim: Any = _vim
vmodl: Any = _vmodl


peer = peer_fixture(esx=True)


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
    with started("vcsim", esx=True) as target:
        vm = first_vm(target.si)
        task = vm.CloneVM_Task(folder=vm.parent, name="copy", spec=spec)
        WaitForTask(task)  # type: ignore[no-untyped-call]
        assert task.info.state == "success"  # vcsim: the clone exists
    with started("spherekit", esx=True) as target:
        vm = first_vm(target.si)
        clone = lambda: vm.CloneVM_Task(folder=vm.parent, name="copy", spec=spec)  # noqa: E731
        assert fault_name(clone) == "NotSupported"  # ESXi: cloning needs vCenter
