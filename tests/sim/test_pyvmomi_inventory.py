"""pyVmomi drives the inventory operations of the served simulator, unmodified.

pyVmomi objects are handled as ``Any`` (its stubs make every property optional).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connected, disk_specs, vim, vmodl, wait


@pytest.fixture
def si() -> Iterator[Any]:
    with Simulator(seed=1) as sim, connected(sim) as conn:
        yield conn


def find(si: Any, path: str) -> Any:
    return si.content.searchIndex.FindByInventoryPath(path)


def config_spec(name: str) -> Any:
    nic = vim.vm.device.VirtualDeviceSpec(
        operation="add",
        device=vim.vm.device.VirtualVmxnet3(
            backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName="VM Network")
        ),
    )
    return vim.vm.ConfigSpec(
        name=name,
        numCPUs=2,
        memoryMB=512,
        guestId="ubuntu64Guest",
        files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"),
        deviceChange=[*disk_specs(4 * 1024 * 1024), nic],
    )


def test_folders_datacenters_clusters(si: Any) -> None:
    root = si.content.rootFolder
    dc = root.CreateDatacenter(name="Lab")
    assert dc.name == "Lab" and dc.vmFolder.name == "vm" and dc.parent == root
    cluster = dc.hostFolder.CreateClusterEx(
        name="C1", spec=vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(enabled=True))
    )
    assert cluster.resourcePool.name == "Resources"
    assert cluster.configurationEx.drsConfig.enabled is True
    folder = dc.vmFolder.CreateFolder("apps")
    assert find(si, "Lab/vm/apps") == folder
    with pytest.raises(vim.fault.DuplicateName) as err:
        dc.vmFolder.CreateFolder("apps")
    assert err.value.object == folder
    with pytest.raises(vim.fault.InvalidName):
        dc.vmFolder.CreateFolder("")
    with pytest.raises(vmodl.fault.NotSupported):
        dc.vmFolder.CreateDatacenter(name="x")
    wait(folder.Rename_Task("web"))
    assert folder.name == "web"
    wait(folder.Destroy_Task())
    assert find(si, "Lab/vm/web") is None


def test_create_move_rename_destroy_vm(si: Any) -> None:
    vm_folder = find(si, "DC0/vm")
    pool = find(si, "DC0/host/DC0_C0/Resources")
    vm = wait(vm_folder.CreateVM_Task(config=config_spec("pv1"), pool=pool))
    assert isinstance(vm, vim.VirtualMachine)
    assert vm.name == "pv1" and vm.config.files.vmPathName == "[LocalDS_0] pv1/pv1.vmx"
    assert vm.summary.config.numCpu == 2 and vm.config.hardware.memoryMB == 512
    assert vm.config.guestFullName == "Ubuntu Linux (64-bit)"
    disk = next(x for x in vm.config.hardware.device if isinstance(x, vim.vm.device.VirtualDisk))
    assert disk.backing.fileName == "[LocalDS_0] pv1/pv1.vmdk"
    assert vm in vm.runtime.host.vm and vm in pool.vm and vm.resourcePool == pool
    with pytest.raises(vim.fault.DuplicateName):
        wait(vm.Rename_Task("DC0_C0_RP0_VM1"))
    sub = vm_folder.CreateFolder("moved")
    wait(sub.MoveIntoFolder_Task([vm]))
    assert vm.parent == sub
    wait(vm.Rename_Task("pv2"))
    assert vm.name == "pv2" and vm.config.name == "pv2"
    with pytest.raises(vim.fault.InvalidPowerState):
        wait(find(si, "DC0/vm/DC0_H0_VM0").Destroy_Task())
    vm.UnregisterVM()
    again = wait(sub.RegisterVM_Task(path="[LocalDS_0] pv1/pv1.vmx", asTemplate=False, pool=pool))
    assert again.name == "pv1" and again.config.hardware.numCPU == 2
    with pytest.raises(vim.fault.AlreadyExists):
        wait(sub.RegisterVM_Task(path="[LocalDS_0] pv1/pv1.vmx", asTemplate=False, pool=pool))
    wait(again.Destroy_Task())
    with pytest.raises(vim.fault.FileNotFound):
        wait(sub.RegisterVM_Task(path="[LocalDS_0] pv1/pv1.vmx", asTemplate=False, pool=pool))


def test_resource_pools_and_vapps(si: Any) -> None:
    root = find(si, "DC0/host/DC0_C0/Resources")
    alloc = vim.ResourceAllocationInfo(
        reservation=0,
        expandableReservation=True,
        limit=-1,
        shares=vim.SharesInfo(level="normal", shares=4000),
    )
    spec = vim.ResourceConfigSpec(cpuAllocation=alloc, memoryAllocation=alloc)
    pool = root.CreateResourcePool(name="team", spec=spec)
    assert pool.parent == root and pool.owner == find(si, "DC0/host/DC0_C0")
    with pytest.raises(vim.fault.DuplicateName):
        root.CreateResourcePool(name="team", spec=spec)
    pool.UpdateConfig(name="team2", config=None)
    assert pool.name == "team2"
    vapp = root.CreateVApp(
        name="app", resSpec=spec, configSpec=vim.vApp.VAppConfigSpec(annotation="x")
    )
    assert isinstance(vapp, vim.VirtualApp) and vapp.vAppConfig.annotation == "x"
    assert vapp in find(si, "DC0/vm").childEntity
    wait(vapp.Destroy_Task())
    wait(pool.Destroy_Task())
    assert pool not in (root.resourcePool or [])
