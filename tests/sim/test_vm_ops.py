"""VirtualMachine operations as vCenter performs them: power, guest power, reconfiguration,
devices, clones, templates, relocation and migration, questions, customization."""

from __future__ import annotations

import time
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecFileOperation as FOP
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecOperation as OP
from spherekit.schema.vim25.enums import VirtualSCSISharing
from spherekit.sim import VpxModel
from spherekit.sim.values import clone
from spherekit.sim.vm_power import ask_moved_or_copied, context_for
from tests.sim.conftest import SimFactory, Target
from tests.sim.test_audit_events import linux_prep


def get(s: spherekit.Session, ref: MoRef, *paths: str) -> dict[str, Any]:
    ((_r, row),) = retrieve(s, filter_spec(ref.type, list(paths), [ref]))
    return row


def wait(s: spherekit.Session, task: MoRef) -> Any:
    return spherekit.wait_for_task(s, task, timeout=10)


def reconfig(s: spherekit.Session, vm: MoRef, *changes: d.VirtualDeviceConfigSpec) -> Any:
    spec = d.VirtualMachineConfigSpec(deviceChange=list(changes))
    return wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))


def messages(sim: Target, since: int = 0) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.fullFormattedMessage or "")
        for e in list(sim.backend.events.events)[since:]
    ]


def devices(s: spherekit.Session, vm: MoRef) -> list[Any]:
    return list(get(s, vm, "config.hardware.device")["config.hardware.device"])


def tools_running(sim: Target, vm: MoRef) -> None:
    reg = sim.backend.registry
    with reg.lock:
        guest = clone(reg.prop(vm, "guest"), toolsRunningStatus="guestToolsRunning")
        reg.update(vm, {"guest": guest})


VM0 = "DC0/vm/DC0_H0_VM0"


# -- power ------------------------------------------------------------------------------------


def test_suspend_resume_reset_post_vcenters_events(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    start = len(sim.backend.events.events)
    wait(s, s.call(vm, "SuspendVM_Task"))
    assert get(s, vm, "runtime.powerState")["runtime.powerState"] == "suspended"
    with pytest.raises(faults.InvalidPowerState):
        wait(s, s.call(vm, "SuspendVM_Task"))
    with pytest.raises(faults.InvalidPowerState):
        wait(s, s.call(vm, "ResetVM_Task"))
    wait(s, s.call(vm, "PowerOnVM_Task"))  # resume
    boot = get(s, vm, "runtime.bootTime")["runtime.bootTime"]
    wait(s, s.call(vm, "ResetVM_Task"))
    row = get(s, vm, "runtime.powerState", "runtime.bootTime", "summary.runtime.bootTime")
    assert row["runtime.powerState"] == "poweredOn"
    assert (
        row["runtime.bootTime"] >= boot
        and row["summary.runtime.bootTime"] == row["runtime.bootTime"]
    )
    wait(s, s.call(vm, "PowerOffVM_Task"))
    got = [m for m in messages(sim, start) if m[0] != "TaskEvent"]
    assert got == [
        ("VmSuspendingEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is being suspended"),
        ("VmSuspendedEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is suspended"),
        ("VmResumingEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is resumed"),
        ("VmPoweredOnEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is powered on"),
        ("VmResettingEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is reset"),
        ("VmStoppingEvent", "DC0_H0_VM0 on host DC0_H0 in DC0 is stopping"),
        ("VmPoweredOffEvent", "DC0_H0_VM0 on DC0_H0 in DC0 is powered off"),
    ]
    wait(s, s.call(vm, "PowerOnVM_Task"))
    assert messages(sim)[-2][0] == "VmStartingEvent"


def test_guest_operations_need_tools_and_power(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    with pytest.raises(faults.ToolsUnavailable):
        s.call(vm, "ShutdownGuest")
    tools_running(sim, vm)
    s.call(vm, "RebootGuest")
    s.call(vm, "ShutdownGuest")  # returns at once; the guest powers off a little later
    assert messages(sim)[-1] == (
        "VmGuestShutdownEvent",
        "Guest OS shut down for DC0_H0_VM0 on DC0_H0 in DC0",
    )
    deadline = time.monotonic() + 5
    while get(s, vm, "runtime.powerState")["runtime.powerState"] != "poweredOff":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert messages(sim)[-1][0] == "VmPoweredOffEvent"
    with pytest.raises(faults.InvalidPowerState) as err:
        s.call(vm, "StandbyGuest")
    assert err.value.existingState == "poweredOff"


def test_standby_suspends(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    tools_running(sim, vm)
    s.call(vm, "StandbyGuest")
    deadline = time.monotonic() + 5
    while get(s, vm, "runtime.powerState")["runtime.powerState"] != "suspended":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_answer_vm_copied_gives_a_new_identity(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    before = get(s, vm, "config.uuid", "config.hardware.device")
    with sim.backend.registry.lock:
        qid = ask_moved_or_copied(context_for(sim.backend, vm), vm)
    q = get(s, vm, "runtime.question")["runtime.question"]
    assert q.id == qid and q.text.startswith("msg.uuid.altered:")
    assert [c.summary for c in q.choice.choiceInfo] == ["Cancel", "I Moved It", "I Copied It"]
    with pytest.raises(faults.InvalidArgument):
        s.call(vm, "AnswerVM", questionId=qid, answerChoice="9")
    with pytest.raises(faults.InvalidArgument):
        s.call(vm, "AnswerVM", questionId="nope", answerChoice="2")
    s.call(vm, "AnswerVM", questionId=qid, answerChoice="2")
    after = get(s, vm, "config.uuid", "config.hardware.device", "runtime.question")
    assert after.get("runtime.question") is None
    assert after["config.uuid"] != before["config.uuid"]
    macs = [x.macAddress for x in after["config.hardware.device"] if hasattr(x, "macAddress")]
    assert macs and macs != [
        x.macAddress for x in before["config.hardware.device"] if hasattr(x, "macAddress")
    ]


# -- reconfiguration ------------------------------------------------------------------------


def test_cpu_and_memory_follow_hot_plug_rules(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    with pytest.raises(faults.InvalidPowerState):
        wait(s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(numCPUs=2)))
    with pytest.raises(faults.InvalidPowerState):
        spec = d.VirtualMachineConfigSpec(cpuHotAddEnabled=True)
        wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    wait(s, s.call(vm, "PowerOffVM_Task"))
    spec = d.VirtualMachineConfigSpec(cpuHotAddEnabled=True, memoryHotAddEnabled=True)
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    wait(s, s.call(vm, "PowerOnVM_Task"))
    spec = d.VirtualMachineConfigSpec(numCPUs=4, memoryMB=128)
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    row = get(s, vm, "config.hardware", "summary.config")
    assert row["config.hardware"].numCPU == 4 and row["config.hardware"].memoryMB == 128
    assert row["summary.config"].numCpu == 4 and row["summary.config"].memorySizeMB == 128
    with pytest.raises(faults.NotSupported):
        wait(s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(memoryMB=64)))
    with pytest.raises(faults.InvalidPowerState):  # no cpuHotRemoveEnabled
        wait(s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(numCPUs=2)))
    with pytest.raises(faults.InvalidArgument):
        wait(s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(numCPUs=0)))


def test_name_annotation_extra_config_and_change_version(
    sim: Target, session: spherekit.Session
) -> None:
    s = session
    vm = find.by_path(s, VM0)
    version = get(s, vm, "config.changeVersion")["config.changeVersion"]
    start = len(sim.backend.events.events)
    spec = d.VirtualMachineConfigSpec(
        name="renamed",
        annotation="notes",
        extraConfig=[d.OptionValue(key="guestinfo.a", value="1")],
    )
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    row = get(s, vm, "name", "config", "summary.config")
    assert row["name"] == "renamed" == row["config"].name == row["summary.config"].name
    assert row["config"].annotation == "notes" == row["summary.config"].annotation
    assert {o.key: o.value for o in row["config"].extraConfig}["guestinfo.a"] == "1"
    assert row["config"].changeVersion != version
    assert ("VmReconfiguredEvent", "Reconfigured renamed on DC0_H0 in DC0") in messages(sim, start)
    # an empty value removes the key; a stale changeVersion is refused
    spec = d.VirtualMachineConfigSpec(extraConfig=[d.OptionValue(key="guestinfo.a", value="")])
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    keys = [o.key for o in get(s, vm, "config.extraConfig")["config.extraConfig"]]
    assert "guestinfo.a" not in keys
    with pytest.raises(faults.ConcurrentAccess):
        spec = d.VirtualMachineConfigSpec(changeVersion=version, annotation="x")
        wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    with pytest.raises(faults.DuplicateName):
        spec = d.VirtualMachineConfigSpec(name="DC0_H0_VM1")
        wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    with pytest.raises(faults.NotSupported):  # never silently ignored
        spec = d.VirtualMachineConfigSpec(npivWorldWideNameOp="generate")
        wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))


def _disk(kb: int, key: int = -1, controller: int = 1000) -> d.VirtualDeviceConfigSpec:
    return d.VirtualDeviceConfigSpec(
        operation=OP.add,
        fileOperation=FOP.create,
        device=d.VirtualDisk(
            key=key,
            capacityInKB=kb,
            controllerKey=controller,
            backing=d.VirtualDiskFlatVer2BackingInfo(fileName="", diskMode="persistent"),
        ),
    )


def test_disks_add_grow_shrink_remove(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    storage = sim.backend.storage
    spec = d.VirtualMachineConfigSpec(deviceChange=[_disk(4096)])
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    disk: Any = next(x for x in devices(s, vm) if isinstance(x, d.VirtualDisk) and x.key != 2000)
    assert disk.key == 2001 and disk.unitNumber == 1 and disk.controllerKey == 1000
    assert disk.capacityInBytes == 4096 * 1024 and disk.deviceInfo.label == "Hard disk 2"
    assert disk.backing.fileName == "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0_1.vmdk"
    assert storage.exists("LocalDS_0", "DC0_H0_VM0/DC0_H0_VM0_1.vmdk")
    ctl: Any = next(x for x in devices(s, vm) if x.key == 1000)
    assert ctl.device == [2000, 2001]
    row = get(s, vm, "summary.config.numVirtualDisks", "layoutEx", "storage")
    assert row["summary.config.numVirtualDisks"] == 2
    assert "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0_1.vmdk" in [f.name for f in row["layoutEx"].file]
    assert 2001 in [x.key for x in row["layoutEx"].disk]
    # grow: fine; shrink: vCenter's InvalidDeviceOperation
    grown = clone(disk, capacityInKB=8192)
    edit = d.VirtualDeviceConfigSpec(operation=OP.edit, device=grown)
    reconfig(s, vm, edit)
    disk = next(x for x in devices(s, vm) if x.key == 2001)
    assert disk.capacityInKB == 8192 and disk.capacityInBytes == 8192 * 1024
    assert disk.deviceInfo.summary == "8,192 KB"
    shrink = d.VirtualDeviceConfigSpec(
        operation=OP.edit, device=clone(disk, capacityInKB=1024, capacityInBytes=1024 * 1024)
    )
    with pytest.raises(faults.InvalidDeviceOperation) as err:
        wait(
            s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(deviceChange=[shrink]))
        )
    assert err.value.deviceIndex == 0 and err.value.badOp == "edit"
    assert "Invalid operation for device '0'." in str(err.value)
    with pytest.raises(faults.InvalidArgument) as bad:
        wait(
            s,
            s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(deviceChange=[_disk(0)])),
        )
    assert bad.value.invalidProperty == "capacityInKB"
    # remove with destroy deletes the file
    remove = d.VirtualDeviceConfigSpec(operation=OP.remove, fileOperation=FOP.destroy, device=disk)
    reconfig(s, vm, remove)
    assert 2001 not in [x.key for x in devices(s, vm)]
    assert not storage.exists("LocalDS_0", "DC0_H0_VM0/DC0_H0_VM0_1.vmdk")
    with pytest.raises(faults.InvalidDeviceSpec):
        wait(
            s, s.call(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(deviceChange=[remove]))
        )


def test_new_controller_by_negative_key(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    ctl = d.VirtualDeviceConfigSpec(
        operation=OP.add,
        device=d.VirtualLsiLogicController(
            key=-10, busNumber=1, sharedBus=VirtualSCSISharing.noSharing
        ),
    )
    spec = d.VirtualMachineConfigSpec(deviceChange=[_disk(1024, -11, -10), ctl])
    wait(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    by_key: dict[int, Any] = {x.key: x for x in devices(s, vm)}
    assert by_key[1001].deviceInfo.label == "SCSI controller 1"
    assert isinstance(by_key[1001], d.VirtualLsiLogicController)
    assert by_key[2016].controllerKey == 1001 and by_key[2016].unitNumber == 0
    assert by_key[1001].device == [2016]


def test_nics_and_cdroms(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    net = find.by_path(s, "DC0/network/VM Network")
    nic = d.VirtualDeviceConfigSpec(
        operation=OP.add,
        device=d.VirtualE1000(
            key=-1, backing=d.VirtualEthernetCardNetworkBackingInfo(deviceName="", network=net)
        ),
    )
    reconfig(s, vm, nic)
    card: Any = next(x for x in devices(s, vm) if isinstance(x, d.VirtualE1000))
    assert card.key == 4001 and card.unitNumber == 8 and card.controllerKey == 100
    assert card.macAddress.startswith("00:50:56:") and card.addressType == "assigned"
    assert card.deviceInfo.label == "Network adapter 2" and card.deviceInfo.summary == "VM Network"
    assert net in get(s, vm, "network")["network"]
    assert vm in get(s, net, "vm")["vm"]
    assert messages(sim)[-2] == (
        "VmMacAssignedEvent",
        f"New MAC address ({card.macAddress}) assigned to adapter Network adapter 2 for DC0_H0_VM0",
    )
    remove = d.VirtualDeviceConfigSpec(operation=OP.remove, device=card)
    reconfig(s, vm, remove)
    assert net not in get(s, vm, "network")["network"]
    assert vm not in (get(s, net, "vm").get("vm") or [])
    # an IDE CD-ROM cannot be hot-added; powered off it can, with an ISO
    cd = d.VirtualDeviceConfigSpec(
        operation=OP.add,
        device=d.VirtualCdrom(
            key=-1, backing=d.VirtualCdromIsoBackingInfo(fileName="[LocalDS_0] iso/a.iso")
        ),
    )
    with pytest.raises(faults.DeviceHotPlugNotSupported):
        reconfig(s, vm, cd)
    wait(s, s.call(vm, "PowerOffVM_Task"))
    reconfig(s, vm, cd)
    drive: Any = next(x for x in devices(s, vm) if isinstance(x, d.VirtualCdrom) and x.key != 3000)
    assert drive.key == 3002 and drive.controllerKey == 201
    assert drive.deviceInfo.summary == "ISO [LocalDS_0] iso/a.iso"


# -- clones and templates ----------------------------------------------------------------------


def test_full_clone(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    folder = find.by_path(s, "DC0/vm")
    start = len(sim.backend.events.events)
    spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(),
        template=False,
        powerOn=True,
        config=d.VirtualMachineConfigSpec(numCPUs=2, annotation="cloned"),
        customization=linux_prep("web1"),
    )
    new = wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="clone1", spec=spec))
    assert new.type == "VirtualMachine"
    src = get(s, vm, "config", "resourcePool")
    row = get(s, new, "name", "config", "runtime", "resourcePool", "summary", "datastore", "parent")
    assert row["name"] == "clone1" and row["parent"] == folder
    assert row["runtime"].powerState == "poweredOn"
    assert row["config"].uuid != src["config"].uuid
    assert row["config"].instanceUuid != src["config"].instanceUuid
    assert row["config"].hardware.numCPU == 2 and row["config"].annotation == "cloned"
    assert row["resourcePool"] == src["resourcePool"]
    assert row["config"].files.vmPathName == "[LocalDS_0] clone1/clone1.vmx"
    disk: Any = next(x for x in row["config"].hardware.device if isinstance(x, d.VirtualDisk))
    assert disk.backing.fileName == "[LocalDS_0] clone1/clone1.vmdk"
    assert disk.backing.parent is None
    old_macs = {x.macAddress for x in src["config"].hardware.device if hasattr(x, "macAddress")}
    new_macs = {x.macAddress for x in row["config"].hardware.device if hasattr(x, "macAddress")}
    assert new_macs and not old_macs & new_macs
    assert sim.backend.storage.exists("LocalDS_0", "clone1/clone1.vmx")
    assert sim.backend.storage.exists("LocalDS_0", "clone1/clone1.vmdk")
    assert b"displayName" in sim.backend.storage.read("LocalDS_0", "clone1/clone1.vmx")
    assert new in get(s, folder, "childEntity")["childEntity"]
    assert new in get(s, src["resourcePool"], "vm")["vm"]
    # the customization went to the guest model, which applies it as the clone boots
    assert "CustomizationStartedEvent" in [k for k, _m in messages(sim, start)]
    got = [m for m in messages(sim, start) if m[0] in ("VmBeingClonedEvent", "VmClonedEvent")]
    assert got == [
        ("VmBeingClonedEvent", "Cloning DC0_H0_VM0 on host DC0_H0 in DC0 to clone1 on host DC0_H0"),
        ("VmClonedEvent", "Clone of DC0_H0_VM0 completed"),
    ]
    with pytest.raises(faults.DuplicateName) as err:
        wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="clone1", spec=spec))
    assert err.value.object == new


def test_linked_clone_from_snapshot(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    reg = sim.backend.registry
    snap = MoRef("VirtualMachineSnapshot", "snapshot-900")
    with reg.lock:  # as the snapshot module keeps it: the VM's config at snapshot time
        reg.add(snap, {"vm": vm, "config": reg.prop(vm, "config")})
    spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(diskMoveType="createNewChildDiskBacking"),
        template=False,
        powerOn=False,
        snapshot=snap,
    )
    folder = find.by_path(s, "DC0/vm")
    new = wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="linked", spec=spec))
    disk: Any = next(x for x in devices(s, new) if isinstance(x, d.VirtualDisk))
    assert disk.backing.parent.fileName == "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0.vmdk"
    assert disk.backing.fileName == "[LocalDS_0] linked/linked.vmdk"
    layout = get(s, new, "layoutEx")["layoutEx"]
    assert len(layout.disk[0].chain) == 2
    # without a snapshot a linked clone is refused
    bad = clone(spec, snapshot=None)
    with pytest.raises(faults.InvalidArgument):
        wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="linked2", spec=bad))


def test_templates(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    with pytest.raises(faults.InvalidPowerState):
        s.call(vm, "MarkAsTemplate")
    wait(s, s.call(vm, "PowerOffVM_Task"))
    pool = get(s, vm, "resourcePool")["resourcePool"]
    s.call(vm, "MarkAsTemplate")
    row = get(s, vm, "config.template", "summary.config", "resourcePool")
    assert row["config.template"] is True and row["summary.config"].template is True
    assert row.get("resourcePool") is None
    assert row["summary.config"].vmPathName.endswith(".vmtx")
    assert vm not in (get(s, pool, "vm").get("vm") or [])
    with pytest.raises(faults.NotSupported):
        wait(s, s.call(vm, "PowerOnVM_Task"))
    folder = find.by_path(s, "DC0/vm")
    spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(), template=False, powerOn=False
    )
    with pytest.raises(faults.InvalidArgument) as err:  # a template has no pool to inherit
        wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="fromtpl", spec=spec))
    assert err.value.invalidProperty == "spec.location.pool"
    spec = clone(spec, location=d.VirtualMachineRelocateSpec(pool=pool))
    new = wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="fromtpl", spec=spec))
    assert get(s, new, "config.template")["config.template"] is False
    assert messages(sim)[-1] == (
        "VmDeployedEvent",
        "Template DC0_H0_VM0 deployed on host DC0_H0",
    )
    host = find.by_path(s, "DC0/host/DC0_C0/DC0_C0_H0")
    with pytest.raises(faults.InvalidArgument):
        s.call(vm, "MarkAsVirtualMachine", pool=pool, host=host)
    s.call(vm, "MarkAsVirtualMachine", pool=pool)
    row = get(s, vm, "config.template", "resourcePool", "config.files.vmPathName")
    assert row["config.template"] is False and row["resourcePool"] == pool
    assert row["config.files.vmPathName"].endswith(".vmx")
    with pytest.raises(faults.NotSupported):
        s.call(vm, "MarkAsVirtualMachine", pool=pool)


def test_customize_vm(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    spec = linux_prep("db1")
    with pytest.raises(faults.InvalidPowerState):
        wait(s, s.call(vm, "CustomizeVM_Task", spec=spec))
    wait(s, s.call(vm, "PowerOffVM_Task"))
    wait(s, s.call(vm, "CustomizeVM_Task", spec=spec))


# -- relocation and migration ----------------------------------------------------------------


def test_relocate_moves_files_and_host(sim_factory: SimFactory) -> None:
    sim = sim_factory(VpxModel(datastores=2), seed=1)
    s = sim.connect()
    vm = find.by_path(s, VM0)
    folder = find.by_path(s, "DC0/vm")
    spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(), template=False, powerOn=False
    )
    new = wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="mover", spec=spec))
    ds1 = find.by_path(s, "DC0/datastore/LocalDS_1")
    host = find.by_path(s, "DC0/host/DC0_C0/DC0_C0_H1")
    start = len(sim.backend.events.events)
    spec2 = d.VirtualMachineRelocateSpec(datastore=ds1, host=host)
    wait(s, s.call(new, "RelocateVM_Task", spec=spec2))
    row = get(s, new, "runtime.host", "resourcePool", "datastore", "config", "summary.config")
    assert row["runtime.host"] == host and row["datastore"] == [ds1]
    cluster_pool = find.by_path(s, "DC0/host/DC0_C0/Resources")
    assert row["resourcePool"] == cluster_pool
    assert row["config"].files.vmPathName == "[LocalDS_1] mover/mover.vmx"
    assert row["summary.config"].vmPathName == "[LocalDS_1] mover/mover.vmx"
    disk: Any = next(x for x in row["config"].hardware.device if isinstance(x, d.VirtualDisk))
    assert disk.backing.fileName == "[LocalDS_1] mover/mover.vmdk" and disk.backing.datastore == ds1
    storage = sim.backend.storage
    assert storage.exists("LocalDS_1", "mover/mover.vmx")
    assert not storage.exists("LocalDS_0", "mover")
    assert new in get(s, host, "vm")["vm"] and new in get(s, ds1, "vm")["vm"]
    assert messages(sim)[-1] == (
        "VmRelocatedEvent",
        "Completed the relocation of the virtual machine",
    )
    assert any(m[0] == "VmBeingRelocatedEvent" for m in messages(sim, start))


def test_relocate_refuses_a_disk_locator_for_no_disk(sim_factory: SimFactory) -> None:
    sim = sim_factory(VpxModel(datastores=2), seed=1)
    s = sim.connect()
    vm = find.by_path(s, VM0)
    ds1 = find.by_path(s, "DC0/datastore/LocalDS_1")
    spec = d.VirtualMachineRelocateSpec(
        disk=[d.VirtualMachineRelocateSpecDiskLocator(diskId=999, datastore=ds1)]
    )
    with pytest.raises(faults.InvalidArgument) as caught:
        s.call(vm, "RelocateVM_Task", spec=spec)
    assert caught.value.invalidProperty == "spec.disk.diskId"
    gone = d.VirtualMachineRelocateSpec(
        disk=[d.VirtualMachineRelocateSpecDiskLocator(
            diskId=2000, datastore=MoRef("Datastore", "datastore-404"))]
    )  # fmt: skip
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(vm, "RelocateVM_Task", spec=gone)


def test_migrate_and_compatibility(sim_factory: SimFactory) -> None:
    sim = sim_factory(VpxModel(datacenters=2), seed=1)
    s = sim.connect()
    vm = find.by_path(s, "DC0/vm/DC0_C0_RP0_VM0")
    target = find.by_path(s, "DC0/host/DC0_C0/DC0_C0_H2")
    other_dc = find.by_path(s, "DC1/host/DC1_H0/DC1_H0")
    wait(s, s.call(vm, "MigrateVM_Task", host=target, priority="defaultPriority"))
    assert get(s, vm, "runtime.host")["runtime.host"] == target
    assert messages(sim)[-1][0] == "VmMigratedEvent"
    assert messages(sim)[-1][1].startswith("Migration of virtual machine DC0_C0_RP0_VM0 from ")
    with pytest.raises(faults.InvalidPowerState):
        wait(
            s,
            s.call(
                vm, "MigrateVM_Task", host=target, priority="defaultPriority", state="poweredOff"
            ),
        )
    checker = s.content.vmProvisioningChecker
    assert checker is not None
    results = wait(
        s, s.call(checker, "QueryVMotionCompatibilityEx_Task", vm=[vm], host=[target, other_dc])
    )
    assert [r.host for r in results] == [target, other_dc]
    assert results[0].error is None
    kinds = {type(e.fault).__name__ for e in results[1].error}
    assert "DatacenterMismatch" in kinds
    (one,) = wait(s, s.call(checker, "CheckMigrate_Task", vm=vm, host=other_dc))
    assert one.error
    with pytest.raises(faults.DatacenterMismatch):
        wait(s, s.call(vm, "MigrateVM_Task", host=other_dc, priority="defaultPriority"))
