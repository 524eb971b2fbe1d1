"""WaitForUpdatesEx and friends: versions, blocking, cancel, truncation, live views."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import Watch, filter_spec
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import UpdateSet, WaitOptions
from spherekit.sim import entities
from tests.sim.conftest import Target, container_view


def changes(result: UpdateSet | None) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, object value, {path: value}) of every object update."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for fs in (result.filterSet or []) if result else []:
        for u in fs.objectSet or []:
            out.append((u.kind, u.obj.value, {c.name: c.val for c in u.changeSet or []}))
    return out


def wait(
    s: spherekit.Session,
    pc: MoRef,
    version: str,
    seconds: int | None = None,
    max_updates: int | None = None,
) -> UpdateSet | None:
    result: UpdateSet | None = s.call(
        pc,
        "WaitForUpdatesEx",
        version=version,
        options=WaitOptions(maxWaitSeconds=seconds, maxObjectUpdates=max_updates),
    )
    return result


def test_watch_sees_enter_then_modify(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    with Watch(session) as w:
        w.watch(vm, ["runtime.powerState", "guest.ipAddress"])
        first = w.wait(5)
        assert changes(first) == [("enter", vm.value, {"runtime.powerState": "poweredOn"})]
        assert w.wait(0) is None  # nothing changed
        spherekit.wait_for_task(session, session.call(vm, "PowerOffVM_Task"), timeout=10)
        second = w.wait(5)
        assert changes(second) == [("modify", vm.value, {"runtime.powerState": "poweredOff"})]
        assert second is not None and first is not None
        assert int(second.version) > int(first.version)


def test_wait_blocks_until_a_change_or_the_deadline(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM1")
    pc = session.call(session.content.propertyCollector, "CreatePropertyCollector")
    session.call(
        pc,
        "CreateFilter",
        spec=filter_spec("VirtualMachine", ["runtime.powerState"], [vm]),
        partialUpdates=False,
    )
    version = wait(session, pc, "").version  # type: ignore[union-attr]
    start = time.monotonic()
    assert wait(session, pc, version, seconds=1) is None
    assert 0.9 < time.monotonic() - start < 3
    other = threading.Timer(0.2, lambda: session.call(vm, "PowerOffVM_Task"))
    other.start()
    start = time.monotonic()
    result = wait(session, pc, version, seconds=20)
    other.join()
    assert time.monotonic() - start < 5  # woken by the change, not by the deadline
    assert changes(result) == [("modify", vm.value, {"runtime.powerState": "poweredOff"})]


def test_versions_and_legacy_calls(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    pc = session.call(session.content.propertyCollector, "CreatePropertyCollector")
    f = session.call(
        pc, "CreateFilter", spec=filter_spec("VirtualMachine", ["name"], [vm]), partialUpdates=False
    )
    with pytest.raises(faults.InvalidCollectorVersion):
        wait(session, pc, "42", seconds=0)
    first = session.call(pc, "WaitForUpdates", version="")  # legacy: pyVmomi's WaitForTask
    assert changes(first) == [("enter", vm.value, {"name": "DC0_H0_VM0"})]
    assert session.call(pc, "CheckForUpdates", version=first.version) is None
    # version "" starts over with a full update
    assert changes(session.call(pc, "CheckForUpdates", version=""))[0][0] == "enter"
    ((_ref, row),) = spherekit.property.retrieve(
        session, filter_spec("PropertyCollector", ["filter"], [pc])
    )
    assert row["filter"] == [f]
    session.call(f, "DestroyPropertyFilter")
    assert wait(session, pc, "", seconds=0) is None
    session.call(pc, "DestroyPropertyCollector")
    with pytest.raises(faults.ManagedObjectNotFound):
        wait(session, pc, "", seconds=0)


def test_cancel_wait_for_updates(sim: Target) -> None:
    waiter, canceller = sim.connect(), sim.connect()
    vm = find.by_path(waiter, "DC0/vm/DC0_H0_VM0")
    pc = waiter.content.propertyCollector
    waiter.call(
        pc, "CreateFilter", spec=filter_spec("VirtualMachine", ["name"], [vm]), partialUpdates=False
    )
    version = wait(waiter, pc, "").version  # type: ignore[union-attr]
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            wait(waiter, pc, version, seconds=30)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.2)
    # the same session cancels its own wait, through another connection
    canceller._cookie = waiter._cookie
    canceller.call(pc, "CancelWaitForUpdates")
    t.join(5)
    assert not t.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], faults.RequestCanceled)


def test_max_object_updates_truncates_and_continues(session: spherekit.Session) -> None:
    s = session
    view = container_view(s, s.content.rootFolder, ["VirtualMachine"])
    pc = s.call(s.content.propertyCollector, "CreatePropertyCollector")
    s.call(
        pc,
        "CreateFilter",
        spec=filter_spec("VirtualMachine", ["name"], [view], view=True),
        partialUpdates=False,
    )
    seen: list[str] = []
    version = ""
    for _ in range(3):
        result = wait(s, pc, version, seconds=0, max_updates=1)
        assert result is not None and result.truncated
        seen += [c[2]["name"] for c in changes(result)]
        version = result.version
    last = wait(s, pc, version, seconds=0, max_updates=1)
    assert last is not None and not last.truncated
    seen += [c[2]["name"] for c in changes(last)]
    assert sorted(seen) == sorted(["DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"])
    assert wait(s, pc, last.version, seconds=0) is None


def test_filters_on_views_see_objects_come_and_go(sim: Target, session: spherekit.Session) -> None:
    s = session
    view = container_view(s, s.content.rootFolder, ["VirtualMachine"])
    with Watch(s) as w:
        w.add(filter_spec("VirtualMachine", ["name"], [view], view=True))
        assert len(changes(w.wait(5))) == 4
        # a VM appears in the vm folder (through the registry, as a CreateVM_Task would)
        reg = sim.backend.registry
        folder = find.by_path(s, "DC0/vm")
        with reg.lock:
            ref = reg.new_ref("VirtualMachine")
            reg.add(ref, entities.entity("late", folder))
            reg.append(folder, "childEntity", ref)
        assert changes(w.wait(5)) == [("enter", ref.value, {"name": "late"})]
        with reg.lock:
            reg.update(ref, {"name": "renamed"})
        assert changes(w.wait(5)) == [("modify", ref.value, {"name": "renamed"})]
        with reg.lock:
            reg.discard(folder, "childEntity", ref)
            reg.remove(ref)
        assert changes(w.wait(5)) == [("leave", ref.value, {})]


def test_stopping_the_simulator_releases_waiting_calls(sim: Target) -> None:
    s = sim.connect()
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    pc = s.content.propertyCollector
    s.call(pc, "CreateFilter", spec=filter_spec("VirtualMachine", ["name"], [vm]),
           partialUpdates=False)  # fmt: skip
    version = wait(s, pc, "").version  # type: ignore[union-attr]
    outcome: list[object] = []

    def blocked() -> None:
        try:
            outcome.append(wait(s, pc, version, seconds=60))
        except spherekit.SpherekitError as e:  # served: the server may go away first
            outcome.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.2)
    start = time.monotonic()
    sim.sim.stop()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - start < 5
    assert outcome and (outcome[0] is None or isinstance(outcome[0], spherekit.SpherekitError))


def test_concurrent_readers_writers_and_watchers(sim: Target) -> None:
    vms = [ref for ref, _v in spherekit.fetch(sim.connect(), "VirtualMachine", ["name"])]
    failures: list[BaseException] = []

    def worker(vm: MoRef) -> None:
        try:
            s = sim.connect()
            with Watch(s) as w:
                w.watch(vm, ["runtime.powerState"])
                assert changes(w.wait(5))[0][0] == "enter"
                for target in ("poweredOff", "poweredOn") * 3:
                    op = "PowerOffVM_Task" if target == "poweredOff" else "PowerOnVM_Task"
                    spherekit.wait_for_task(s, s.call(vm, op), timeout=10)
                    assert len(spherekit.fetch(s, "VirtualMachine", ["name"])) == 4
                    assert changes(w.wait(5)) == [
                        ("modify", vm.value, {"runtime.powerState": target})
                    ]
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(vm,)) for vm in vms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []
