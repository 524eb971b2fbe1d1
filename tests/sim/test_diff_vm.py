"""The same pyVmomi VirtualMachine scenarios against govmomi's vcsim and spherekit.sim.

Where both implement a behaviour they must agree (power transitions and their faults,
CPU / memory / extraConfig reconfiguration, adding a disk, full clones, templates,
migration to another host of the cluster). Where vcsim 0.24.2 departs from vCenter's
documented behaviour, a test names the departure and asserts that spherekit.sim follows
vCenter:

- ShutdownGuest needs VMware Tools running ("ToolsUnavailable: VMware Tools is not
  running"); vcsim powers the VM off without asking the guest.
- A disk may not shrink: vCenter answers ``InvalidDeviceOperation`` ("Invalid operation for
  device '0'."); vcsim 0.24.2 shrinks it (govmomi issue 2910, fixed in later releases).
- CPUs cannot be added to a powered-on VM unless ``cpuHotAddEnabled``; vcsim changes them.
- ``HostSystem.vm`` lists the VMs on the host; after RelocateVM_Task vcsim 0.24.2 leaves the
  relocated VM out of its new host's list.
"""

from __future__ import annotations

from typing import Any

from tests.sim.diff import peer_fixture, wait
from tests.sim.pyvmomi_client import find, read, vim

peer = peer_fixture()


def fault_name(fn: Any) -> str | None:
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__.rpartition(".")[2]
    return None


def disks(vm: Any) -> list[Any]:
    return [x for x in vm.config.hardware.device if isinstance(x, vim.vm.device.VirtualDisk)]


def test_power_transitions_agree(peer: tuple[str, Any]) -> None:
    _name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    seen = []
    assert fault_name(lambda: wait(vm.PowerOnVM_Task())) == "InvalidPowerState"
    wait(vm.SuspendVM_Task())
    seen.append(vm.runtime.powerState)
    wait(vm.PowerOnVM_Task())
    seen.append(vm.runtime.powerState)
    wait(vm.ResetVM_Task())
    seen.append(vm.runtime.powerState)
    wait(vm.PowerOffVM_Task())
    seen.append(vm.runtime.powerState)
    assert fault_name(lambda: wait(vm.PowerOffVM_Task())) == "InvalidPowerState"
    assert fault_name(vm.ShutdownGuest) == "InvalidPowerState"
    assert seen == ["suspended", "poweredOn", "poweredOn", "poweredOff"]


def test_reconfigure_agrees(peer: tuple[str, Any]) -> None:
    _name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM1")
    wait(vm.PowerOffVM_Task())
    before = len(disks(vm))
    disk = vim.vm.device.VirtualDisk(
        key=-1,
        controllerKey=disks(vm)[0].controllerKey,
        unitNumber=5,
        capacityInKB=4096,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName="", diskMode="persistent", thinProvisioned=True
        ),
    )
    spec = vim.vm.ConfigSpec(
        numCPUs=2,
        memoryMB=128,
        annotation="notes",
        extraConfig=[vim.option.OptionValue(key="guestinfo.k", value="v")],
        deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk)
        ],
    )
    wait(vm.ReconfigVM_Task(spec=spec))
    assert (vm.config.hardware.numCPU, vm.config.hardware.memoryMB) == (2, 128)
    assert (vm.summary.config.numCpu, vm.summary.config.memorySizeMB) == (2, 128)
    assert vm.config.annotation == "notes"
    assert {o.key: o.value for o in vm.config.extraConfig}["guestinfo.k"] == "v"
    new = disks(vm)
    assert len(new) == before + 1
    added = next(x for x in new if x.unitNumber == 5)
    assert added.capacityInKB == 4096 and added.key > 0
    assert added.backing.fileName.endswith(".vmdk")


def test_clone_and_templates_agree(peer: tuple[str, Any]) -> None:
    _name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    assert fault_name(vm.MarkAsTemplate) == "InvalidPowerState"
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), template=False, powerOn=False)
    new = wait(vm.CloneVM_Task(folder=vm.parent, name="copy1", spec=spec))
    assert new.name == "copy1" and new.runtime.powerState == "poweredOff"
    assert new.config.uuid != vm.config.uuid
    assert new.resourcePool == vm.resourcePool
    assert new in vm.parent.childEntity
    new.MarkAsTemplate()
    assert new.config.template is True and new.summary.config.template is True
    assert read(si, new, "resourcePool") is None
    assert fault_name(new.MarkAsTemplate) == "NotSupported"
    new.MarkAsVirtualMachine(pool=vm.resourcePool)
    assert new.config.template is False and new.resourcePool == vm.resourcePool


def test_migrate_within_the_cluster_agrees(peer: tuple[str, Any]) -> None:
    _name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_C0_RP0_VM0")
    target = find(si, vim.HostSystem, "DC0_C0_H2")
    wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=target)))
    assert vm.runtime.host == target


def test_departure_relocate_keeps_host_vm_list(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_C0_RP0_VM0")
    source = vm.runtime.host
    target = find(si, vim.HostSystem, "DC0_C0_H2")
    wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(host=target)))
    if name == "vcsim":
        assert vm not in target.vm
    else:
        assert vm in target.vm and vm not in source.vm


# -- where vcsim departs from vCenter ------------------------------------------------------------


def test_departure_shutdown_guest_without_tools(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    assert vm.guest.toolsRunningStatus != "guestToolsRunning"
    got = fault_name(vm.ShutdownGuest)
    if name == "vcsim":
        assert got is None and vm.runtime.powerState == "poweredOff"
    else:
        assert got == "ToolsUnavailable" and vm.runtime.powerState == "poweredOn"


def test_departure_disk_shrink(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    disk = disks(vm)[0]
    disk.capacityInKB //= 2
    disk.capacityInBytes = disk.capacityInKB * 1024
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)
    got = fault_name(lambda: wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit]))))
    assert got == (None if name == "vcsim" else "InvalidDeviceOperation")


def test_departure_cpu_hot_add_disabled(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    assert vm.runtime.powerState == "poweredOn" and not vm.config.cpuHotAddEnabled
    got = fault_name(lambda: wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(numCPUs=2))))
    assert got == (None if name == "vcsim" else "InvalidPowerState")
