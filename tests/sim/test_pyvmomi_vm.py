"""pyVmomi drives the simulator's VirtualMachine operations unmodified (served, HTTPS):
power and guest power, reconfiguration with devices, clones and templates, relocation,
migration and compatibility checks, questions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from spherekit.schema.base import MoRef
from spherekit.sim import Simulator, VpxModel
from spherekit.sim.vm_power import ask_moved_or_copied, context_for
from tests.sim.pyvmomi_client import connected, find, vim, wait


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(VpxModel(datastores=2), seed=1) as s:
        yield s


@pytest.fixture
def si(sim: Simulator) -> Iterator[Any]:
    with connected(sim) as conn:
        yield conn


def test_power_and_guest_power(sim: Simulator, si: Any) -> None:
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    with pytest.raises(vim.fault.ToolsUnavailable):  # its guest has not booted yet
        vm.ShutdownGuest()
    wait(vm.SuspendVM_Task())
    assert vm.runtime.powerState == "suspended"
    wait(vm.PowerOnVM_Task())
    wait(vm.ResetVM_Task())  # the guest boots; tools run
    assert vm.runtime.powerState == "poweredOn"
    assert vm.guest.toolsRunningStatus == "guestToolsRunning"
    vm.ShutdownGuest()
    deadline = time.monotonic() + 5
    while vm.runtime.powerState != "poweredOff":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(vim.fault.InvalidPowerState):
        vm.RebootGuest()
    with pytest.raises(vim.fault.InvalidPowerState):
        wait(vm.ResetVM_Task())


def test_reconfigure_devices(si: Any) -> None:
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM1")
    wait(vm.PowerOffVM_Task())
    disk = vim.vm.device.VirtualDisk(
        key=-1,
        controllerKey=1000,
        capacityInKB=2048,
        backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
            fileName="", diskMode="persistent", thinProvisioned=True
        ),
    )
    net = find(si, vim.Network, "VM Network")
    nic = vim.vm.device.VirtualVmxnet3(
        key=-2,
        backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName="VM Network", network=net
        ),
    )
    spec = vim.vm.ConfigSpec(
        numCPUs=2,
        memoryMB=256,
        extraConfig=[vim.option.OptionValue(key="guestinfo.x", value="y")],
        deviceChange=[
            vim.vm.device.VirtualDeviceSpec(operation="add", fileOperation="create", device=disk),
            vim.vm.device.VirtualDeviceSpec(operation="add", device=nic),
        ],
    )
    wait(vm.ReconfigVM_Task(spec=spec))
    assert vm.config.hardware.numCPU == 2 and vm.summary.config.memorySizeMB == 256
    disks = [x for x in vm.config.hardware.device if isinstance(x, vim.vm.device.VirtualDisk)]
    assert [x.key for x in disks] == [2000, 2001]
    assert disks[1].backing.fileName == "[LocalDS_0] DC0_H0_VM1/DC0_H0_VM1_1.vmdk"
    nics = [x for x in vm.config.hardware.device if isinstance(x, vim.vm.device.VirtualVmxnet3)]
    assert nics[-1].key == 4001 and nics[-1].macAddress.startswith("00:50:56:")
    assert net in vm.network
    # growing through the device read back works; shrinking is refused as vCenter does
    grow = disks[1]
    grow.capacityInKB = 4096
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=grow)
    wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit])))
    disk = next(x for x in vm.config.hardware.device if x.key == 2001)
    assert disk.capacityInKB == 4096
    disk.capacityInKB = 1024
    disk.capacityInBytes = 1024 * 1024
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk)
    with pytest.raises(vim.fault.InvalidDeviceOperation) as err:
        wait(vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=[edit])))
    assert err.value.deviceIndex == 0


def test_clone_template_and_deploy(sim: Simulator, si: Any) -> None:
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    folder = vm.parent
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(), template=True, powerOn=False)
    tpl = wait(vm.CloneVM_Task(folder=folder, name="tpl", spec=spec))
    assert isinstance(tpl, vim.VirtualMachine)
    assert tpl.config.template is True and tpl.resourcePool is None
    assert tpl.config.files.vmPathName == "[LocalDS_0] tpl/tpl.vmtx"
    pool = find(si, vim.ResourcePool, "Resources")
    spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=pool), template=False, powerOn=True)
    web = wait(tpl.CloneVM_Task(folder=folder, name="web", spec=spec))
    assert web.runtime.powerState == "poweredOn"
    assert web.config.uuid not in (tpl.config.uuid, vm.config.uuid)
    with pytest.raises(vim.fault.DuplicateName):
        wait(tpl.CloneVM_Task(folder=folder, name="web", spec=spec))
    wait(web.PowerOffVM_Task())
    web.MarkAsTemplate()
    assert web.config.template is True
    web.MarkAsVirtualMachine(pool=pool)
    assert web.config.template is False and web.resourcePool == pool
    assert sim.backend.storage.exists("LocalDS_0", "web/web.vmx")


def test_relocate_migrate_and_checks(sim: Simulator, si: Any) -> None:
    vm = find(si, vim.VirtualMachine, "DC0_C0_RP0_VM0")
    h2 = find(si, vim.HostSystem, "DC0_C0_H2")
    wait(vm.MigrateVM_Task(host=h2, priority="defaultPriority"))
    assert vm.runtime.host == h2
    content = si.RetrieveContent()
    results = wait(
        content.vmProvisioningChecker.QueryVMotionCompatibilityEx_Task(vm=[vm], host=[h2])
    )
    assert len(results) == 1 and not results[0].error
    (res,) = wait(content.vmProvisioningChecker.CheckMigrate_Task(vm=vm, host=h2))
    assert not res.error
    ds1 = find(si, vim.Datastore, "LocalDS_1")
    wait(vm.PowerOffVM_Task())
    wait(vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(datastore=ds1)))
    assert vm.config.files.vmPathName.startswith("[LocalDS_1] ")
    assert [ds.name for ds in vm.datastore] == ["LocalDS_1"]


def test_answer_vm(sim: Simulator, si: Any) -> None:
    vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
    uuid = vm.config.uuid
    ref = MoRef("VirtualMachine", vm._moId)
    with sim.backend.registry.lock:
        qid = ask_moved_or_copied(context_for(sim.backend, ref), ref)
    question = vm.runtime.question
    assert question.id == qid
    assert [c.key for c in question.choice.choiceInfo] == ["0", "1", "2"]
    vm.AnswerVM(questionId=qid, answerChoice="2")
    assert vm.runtime.question is None and vm.config.uuid != uuid
