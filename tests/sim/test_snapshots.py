"""VM snapshots: the tree, delta disks and files, revert, remove, rename, faults, events."""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import EventFilterSpec, VirtualDisk
from tests.sim.conftest import Target

VM = "DC0/vm/DC0_H0_VM0"
REVERTED = "com.vmware.vc.vm.VmStateRevertedToSnapshot"


def props(s: spherekit.Session, ref: MoRef, names: list[str]) -> dict[str, Any]:
    ((_r, row),) = retrieve(s, filter_spec(ref.type, names, [ref]))
    return row


def event_manager(s: spherekit.Session) -> MoRef:
    ref = s.content.eventManager
    assert ref is not None
    return ref


def disk(config: Any) -> Any:
    (d,) = [x for x in config.hardware.device if isinstance(x, VirtualDisk)]
    return d.backing


def chain(backing: Any) -> list[str]:
    out = []
    while backing is not None:
        out.append(backing.fileName.rpartition("/")[2])
        backing = backing.parent
    return out


def snap(
    s: spherekit.Session,
    vm: MoRef,
    name: str,
    memory: bool = False,
    quiesce: bool = False,
    **kw: Any,
) -> MoRef:
    task = s.call(vm, "CreateSnapshot_Task", name=name, memory=memory, quiesce=quiesce, **kw)
    ref = spherekit.wait_for_task(s, task, timeout=10)
    assert isinstance(ref, MoRef) and ref.type == "VirtualMachineSnapshot"
    return ref


def run(s: spherekit.Session, ref: MoRef, method: str, **kw: Any) -> Any:
    return spherekit.wait_for_task(s, s.call(ref, method, **kw), timeout=10)


def files(sim: Target, vm_name: str) -> set[str]:
    root = sim.backend.storage.path("LocalDS_0", vm_name)
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_create_builds_the_tree_and_delta_disks(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    assert props(s, vm, ["name"]).get("snapshot") is None
    s1 = snap(s, vm, "s1", memory=True, description="first")
    s2 = snap(s, vm, "s2")
    row = props(s, vm, ["snapshot", "rootSnapshot", "config"])
    info = row["snapshot"]
    assert info.currentSnapshot == s2 and row["rootSnapshot"] == [s1]
    (root,) = info.rootSnapshotList
    assert (root.snapshot, root.vm, root.name, root.description, root.id) == (
        s1,
        vm,
        "s1",
        "first",
        1,
    )
    assert root.state == "poweredOn" and root.quiesced is False  # a memory snapshot of a running VM
    (child,) = root.childSnapshotList
    assert (child.name, child.id, child.state, child.description) == ("s2", 2, "poweredOff", "")
    assert child.createTime >= root.createTime
    # the VM runs on a new redo log on top of each snapshot's frozen disk
    current = disk(row["config"])
    assert chain(current) == ["DC0_H0_VM0-000002.vmdk", "DC0_H0_VM0-000001.vmdk", "DC0_H0_VM0.vmdk"]
    assert current.deltaDiskFormat == "redoLogFormat" and current.parent.parent.parent is None
    s1_row = props(s, s1, ["config", "childSnapshot", "vm"])
    assert s1_row["childSnapshot"] == [s2] and s1_row["vm"] == vm
    assert chain(disk(s1_row["config"])) == ["DC0_H0_VM0.vmdk"]
    assert chain(disk(props(s, s2, ["config"])["config"]))[0] == "DC0_H0_VM0-000001.vmdk"
    on_disk = files(sim, "DC0_H0_VM0")
    assert {"DC0_H0_VM0-000001.vmdk", "DC0_H0_VM0-000002.vmdk"} <= on_disk
    assert {"DC0_H0_VM0-Snapshot1.vmsn", "DC0_H0_VM0-Snapshot1.vmem"} <= on_disk
    assert "DC0_H0_VM0-Snapshot2.vmsn" in on_disk and "DC0_H0_VM0-Snapshot2.vmem" not in on_disk


def test_memory_of_a_powered_off_vm_and_quiesce_without_tools(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    with pytest.raises(faults.ToolsUnavailable):
        run(s, vm, "CreateSnapshot_Task", name="q", memory=False, quiesce=True)
    run(s, vm, "PowerOffVM_Task")
    ref = snap(s, vm, "off", memory=True, quiesce=True)  # both ignored while off
    (node,) = props(s, vm, ["snapshot"])["snapshot"].rootSnapshotList
    assert node.snapshot == ref and node.state == "poweredOff" and node.quiesced is False
    ex = run(s, vm, "CreateSnapshotEx_Task", name="ex", memory=False)
    assert props(s, vm, ["snapshot"])["snapshot"].currentSnapshot == ex


def test_revert_restores_config_power_and_disks(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s1 = snap(s, vm, "on", memory=True)
    run(s, vm, "PowerOffVM_Task")
    s2 = snap(s, vm, "off")
    with sim.backend.registry.lock:
        sim.backend.registry.update(vm, {"config.hardware.memoryMB": 256})
    run(s, s1, "RevertToSnapshot_Task")
    row = props(s, vm, ["snapshot", "runtime.powerState", "config"])
    assert row["runtime.powerState"] == "poweredOn"  # a memory snapshot resumes the VM
    assert row["snapshot"].currentSnapshot == s1
    assert row["config"].hardware.memoryMB == 32
    assert chain(disk(row["config"])) == ["DC0_H0_VM0-000003.vmdk", "DC0_H0_VM0.vmdk"]
    on_disk = files(sim, "DC0_H0_VM0")
    assert "DC0_H0_VM0-000002.vmdk" not in on_disk  # the discarded running delta
    assert "DC0_H0_VM0-000001.vmdk" in on_disk  # still s2's disk
    run(s, s2, "RevertToSnapshot_Task")
    assert props(s, vm, ["runtime.powerState"])["runtime.powerState"] == "poweredOff"
    run(s, s1, "RevertToSnapshot_Task", suppressPowerOn=True)
    assert props(s, vm, ["runtime.powerState"])["runtime.powerState"] == "poweredOff"
    run(s, vm, "RevertToCurrentSnapshot_Task")
    assert props(s, vm, ["runtime.powerState"])["runtime.powerState"] == "poweredOn"
    # vCenter's event for a revert, chained to the task
    (event,) = s.call(
        event_manager(s),
        "QueryEvents",
        filter=EventFilterSpec(
            eventTypeId=["com.vmware.vc.vm.VmStateRevertedToSnapshot"], maxCount=1
        ),
    )
    assert "reverted to the state of snapshot on, with ID 1" in event.fullFormattedMessage
    assert event.vm.vm == vm and event.objectId == vm.value


def test_revert_to_current_without_a_snapshot(session: spherekit.Session) -> None:
    vm = find.by_path(session, VM)
    with pytest.raises(faults.NotFound):
        session.call(vm, "RevertToCurrentSnapshot_Task")


def test_remove_reparents_and_consolidates(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s1 = snap(s, vm, "s1")
    s2 = snap(s, vm, "s2")
    s3 = snap(s, vm, "s3")
    run(s, s2, "RemoveSnapshot_Task", removeChildren=False)
    row = props(s, vm, ["snapshot", "config"])
    (root,) = row["snapshot"].rootSnapshotList
    assert root.snapshot == s1 and [c.snapshot for c in root.childSnapshotList] == [s3]
    assert props(s, s1, ["childSnapshot"])["childSnapshot"] == [s3]
    assert row["snapshot"].currentSnapshot == s3
    with pytest.raises(faults.ManagedObjectNotFound):
        props(s, s2, ["vm"])
    # s2's disk (-000001) took in s3's (-000002): the chain is one link shorter
    assert chain(disk(row["config"])) == [
        "DC0_H0_VM0-000003.vmdk",
        "DC0_H0_VM0-000001.vmdk",
        "DC0_H0_VM0.vmdk",
    ]
    assert chain(disk(props(s, s3, ["config"])["config"]))[0] == "DC0_H0_VM0-000001.vmdk"
    assert "DC0_H0_VM0-000002.vmdk" not in files(sim, "DC0_H0_VM0")
    assert "DC0_H0_VM0-Snapshot2.vmsn" not in files(sim, "DC0_H0_VM0")
    # removing the current snapshot makes its parent current
    run(s, s3, "RemoveSnapshot_Task", removeChildren=False)
    assert props(s, vm, ["snapshot"])["snapshot"].currentSnapshot == s1
    run(s, s1, "RemoveSnapshot_Task", removeChildren=False)
    row = props(s, vm, ["config", "name"])
    assert row.get("snapshot") is None and row.get("rootSnapshot") is None
    assert chain(disk(row["config"])) == ["DC0_H0_VM0.vmdk"]
    assert not {f for f in files(sim, "DC0_H0_VM0") if "-0000" in f or "Snapshot" in f}


def test_remove_children_and_remove_all(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s1 = snap(s, vm, "s1")
    s2 = snap(s, vm, "s2")
    run(s, s1, "RevertToSnapshot_Task")
    s3 = snap(s, vm, "s3")  # a second branch under s1
    (root,) = props(s, vm, ["snapshot"])["snapshot"].rootSnapshotList
    assert [c.snapshot for c in root.childSnapshotList] == [s2, s3]
    run(s, s1, "RemoveSnapshot_Task", removeChildren=True)
    row = props(s, vm, ["config"])
    assert row.get("snapshot") is None
    assert chain(disk(row["config"])) == ["DC0_H0_VM0.vmdk"]
    for ref in (s1, s2, s3):
        with pytest.raises(faults.ManagedObjectNotFound):
            props(s, ref, ["vm"])
    snap(s, vm, "a")
    snap(s, vm, "b")
    run(s, vm, "RemoveAllSnapshots_Task")
    row = props(s, vm, ["config"])
    assert row.get("snapshot") is None and chain(disk(row["config"])) == ["DC0_H0_VM0.vmdk"]
    assert not {f for f in files(sim, "DC0_H0_VM0") if "-0000" in f or "Snapshot" in f}
    run(s, vm, "RemoveAllSnapshots_Task")  # nothing to remove is fine


def test_remove_without_consolidation(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s1 = snap(s, vm, "s1")
    run(s, s1, "RemoveSnapshot_Task", removeChildren=False, consolidate=False)
    row = props(s, vm, ["config", "runtime"])
    assert row["runtime"].consolidationNeeded is True
    assert chain(disk(row["config"])) == ["DC0_H0_VM0-000001.vmdk", "DC0_H0_VM0.vmdk"]


def test_rename_and_task_events(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s1 = snap(s, vm, "old", description="d")
    assert s.call(s1, "RenameSnapshot", name="new") is None
    (node,) = props(s, vm, ["snapshot"])["snapshot"].rootSnapshotList
    assert (node.name, node.description) == ("new", "d")
    s.call(s1, "RenameSnapshot", description="described")
    (node,) = props(s, vm, ["snapshot"])["snapshot"].rootSnapshotList
    assert (node.name, node.description) == ("new", "described")
    events = s.call(
        event_manager(s), "QueryEvents", filter=EventFilterSpec(eventTypeId=["TaskEvent"])
    )
    texts = [e.fullFormattedMessage for e in events]
    assert "Task: Create virtual machine snapshot" in texts
    assert events[0].info.entity == vm and events[0].vm.vm == vm


def test_template_cannot_have_snapshots(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    with sim.backend.registry.lock:
        sim.backend.registry.update(vm, {"config.template": True})
    with pytest.raises(faults.NotSupported):
        run(s, vm, "CreateSnapshot_Task", name="t", memory=False, quiesce=False)
