"""The registry: copy-on-write updates, versions, the change log, listeners, identities."""

from __future__ import annotations

import threading

import pytest

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim.registry import Registry
from spherekit.sim.values import clone, get_path, sparse


def runtime() -> d.VirtualMachineRuntimeInfo:
    return sparse(
        d.VirtualMachineRuntimeInfo(
            connectionState=e.VirtualMachineConnectionState.connected,
            powerState=e.VirtualMachinePowerState.poweredOn,
            faultToleranceState=e.VirtualMachineFaultToleranceState.notConfigured,
            toolsInstallerMounted=False,
            numMksConnections=0,
            recordReplayState=e.VirtualMachineRecordReplayState.inactive,
            onlineStandby=False,
            consolidationNeeded=False,
        )
    )


def test_nested_updates_copy_and_never_change_stored_values() -> None:
    reg = Registry(seed=1)
    shared = runtime()
    a, b = MoRef("VirtualMachine", "vm-1"), MoRef("VirtualMachine", "vm-2")
    reg.add(
        a,
        {
            "runtime": shared,
            "summary": d.VirtualMachineSummary(
                runtime=shared,
                config=d.VirtualMachineConfigSummary(name="a", template=False, vmPathName="x"),
                quickStats=d.VirtualMachineQuickStats(
                    guestHeartbeatStatus=e.ManagedEntityStatus.gray
                ),
                overallStatus=e.ManagedEntityStatus.green,
            ),
        },
    )
    reg.add(b, {"runtime": shared})
    v = reg.version
    reg.update(a, {"runtime.powerState": "poweredOff", "summary.runtime.powerState": "poweredOff"})
    assert reg.version == v + 1
    assert shared.powerState == "poweredOn"  # the shared value is untouched
    assert reg.prop(b, "runtime") is shared
    assert reg.prop(a, "runtime").powerState == "poweredOff"
    assert get_path(reg.prop(a, "summary"), ["runtime", "powerState"]) == "poweredOff"
    assert reg.prop(a, "runtime").connectionState == "connected"
    reg.update(a, {"runtime": None})  # None unsets
    assert "runtime" not in reg.props(a)
    with pytest.raises(ValueError):
        reg.update(a, {"runtime.powerState": "poweredOn"})


def test_lists_are_replaced_not_appended_in_place() -> None:
    reg = Registry()
    f = MoRef("Folder", "group-v1")
    reg.add(f, {})
    reg.append(f, "childEntity", MoRef("VirtualMachine", "vm-1"))
    before = reg.prop(f, "childEntity")
    reg.append(f, "childEntity", MoRef("VirtualMachine", "vm-2"))
    assert before == [MoRef("VirtualMachine", "vm-1")]
    assert len(reg.prop(f, "childEntity")) == 2
    reg.discard(f, "childEntity", MoRef("VirtualMachine", "vm-1"))
    reg.discard(f, "childEntity", MoRef("VirtualMachine", "vm-2"))
    assert reg.prop(f, "childEntity") is None


def test_change_log_and_listeners() -> None:
    reg = Registry()
    seen: list[tuple[str, str, frozenset[str]]] = []
    reg.listeners.append(lambda kind, ref, names: seen.append((kind, ref.value, names)))
    a = reg.add(MoRef("Folder", "a"), {"name": "a"})
    v = reg.version
    b = reg.add(MoRef("Folder", "b"), {"name": "b"})
    reg.update(a, {"name": "A"})
    reg.remove(b)
    reg.remove(b)  # a no-op
    assert reg.changed_since(v) == {a, b}
    assert reg.changed_since(reg.version) == set()
    assert seen == [
        ("enter", "a", frozenset({"name"})),
        ("enter", "b", frozenset({"name"})),
        ("modify", "a", frozenset({"name"})),
        ("leave", "b", frozenset({"name"})),
    ]
    with pytest.raises(KeyError):
        reg.add(a, {})


def test_a_trimmed_log_says_it_does_not_know() -> None:
    reg = Registry()
    reg.LOG_LIMIT = 10
    ref = reg.add(MoRef("Folder", "a"), {"name": "0"})
    for i in range(30):
        reg.update(ref, {"name": str(i)})
    assert reg.changed_since(1) is None  # too old: the caller must assume everything changed
    assert reg.changed_since(reg.version - 1) == {ref}


def test_waiters_wake_on_changes() -> None:
    reg = Registry()
    ref = reg.add(MoRef("Folder", "a"), {"name": "a"})
    woke = threading.Event()

    def waiter() -> None:
        with reg.lock:
            v = reg.version
            while reg.version == v:
                reg.changed.wait(5)
            woke.set()

    t = threading.Thread(target=waiter)
    t.start()
    reg.update(ref, {"name": "b"})
    t.join(5)
    assert woke.is_set()


def test_identities_are_seeded() -> None:
    a, b = Registry(seed=3), Registry(seed=3)
    assert [a.uuid(), a.mac()] == [b.uuid(), b.mac()]
    mac = a.mac()
    assert mac.startswith("00:50:56:") and 0x80 <= int(mac.split(":")[3], 16) <= 0xBF
    assert a.new_ref("VirtualMachine") == MoRef("VirtualMachine", "vm-1")
    assert a.new_ref("Folder", "group-v") == MoRef("Folder", "group-v2")
    assert a.new_ref("ClusterComputeResource").value == "domain-c3"


def test_clone_and_sparse() -> None:
    rt = runtime()
    assert "host" not in rt.__dict__ and rt.host is None
    copy = clone(rt, powerState="poweredOff", host=MoRef("HostSystem", "host-1"))
    assert copy.powerState == "poweredOff" and copy.host is not None
    assert rt.powerState == "poweredOn" and rt.host is None
    assert clone(copy, host=None).host is None
