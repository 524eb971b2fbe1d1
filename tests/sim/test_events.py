"""Events and task history: QueryEvents, event and task collectors, PostEvent, sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    EventFilterSpec,
    EventFilterSpecByEntity,
    EventFilterSpecByTime,
    EventFilterSpecByUsername,
    GeneralUserEvent,
    TaskFilterSpec,
    TaskFilterSpecByEntity,
)
from tests.sim.conftest import Target

VM = "DC0/vm/DC0_H0_VM0"


def em(s: spherekit.Session) -> MoRef:
    ref = s.content.eventManager
    assert ref is not None
    return ref


def query(s: spherekit.Session, **spec: Any) -> list[Any]:
    out: list[Any] = s.call(em(s), "QueryEvents", filter=EventFilterSpec(**spec))
    return out


def prop(s: spherekit.Session, ref: MoRef, name: str) -> Any:
    ((_r, row),) = retrieve(s, filter_spec(ref.type, [name], [ref]))
    return row.get(name)


def power_cycle(s: spherekit.Session, vm: MoRef) -> None:
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
    spherekit.wait_for_task(s, s.call(vm, "PowerOnVM_Task"), timeout=10)


def test_login_logout_and_task_events(sim: Target) -> None:
    s = sim.connect()
    vm = find.by_path(s, VM)
    task = s.call(vm, "PowerOffVM_Task")
    spherekit.wait_for_task(s, task, timeout=10)
    events = query(s)
    assert [e._wsdl_name for e in events[:4]] == [
        "VmPoweredOffEvent",
        "VmStoppingEvent",
        "TaskEvent",
        "UserLoginSessionEvent",
    ]
    assert [e.key for e in events] == sorted((e.key for e in events), reverse=True)
    task_event = events[2]
    assert task_event.fullFormattedMessage == "Task: Power Off virtual machine"
    assert task_event.info.task == task and task_event.vm.vm == vm
    ((_r, row),) = retrieve(s, filter_spec("Task", ["info"], [task]))
    chain = row["info"].eventChainId
    assert task_event.key == task_event.chainId == chain
    assert {e.chainId for e in events[:3]} == {chain}  # the task's own events share its chain
    login = events[3]
    assert login.userName == "user" and login.sessionId and login.ipAddress
    assert login.fullFormattedMessage.startswith("User user@")
    assert prop(s, em(s), "latestEvent").key == events[0].key
    other = sim.connect()
    s.close()
    (logout,) = query(other, eventTypeId=["UserLogoutSessionEvent"])
    assert logout.sessionId == login.sessionId and logout.callCount >= 3
    assert "logged out" in logout.fullFormattedMessage


def test_query_filters(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    other = find.by_path(s, "DC0/vm/DC0_C0_RP0_VM0")
    start = datetime.now(UTC) - timedelta(seconds=1)
    power_cycle(s, vm)
    power_cycle(s, other)
    dc = find.by_path(s, "DC0")
    host = find.by_path(s, "DC0/host/DC0_H0/DC0_H0")
    root = s.content.rootFolder

    def ent(ref: MoRef, recursion: str) -> EventFilterSpecByEntity:
        return EventFilterSpecByEntity(entity=ref, recursion=recursion)  # type: ignore[arg-type]

    mine = query(s, entity=ent(vm, "self"))
    assert mine and all(e.vm.vm == vm for e in mine)
    assert {e.vm.vm for e in query(s, entity=ent(dc, "all"))} == {vm, other}
    assert query(s, entity=ent(dc, "children")) == []  # VMs are not children of a datacenter
    assert {e.vm.vm for e in query(s, entity=ent(host, "self"))} == {vm}
    pool = prop(s, other, "resourcePool")
    assert {e.vm.vm for e in query(s, entity=ent(pool, "children"))} == {other}
    everything = query(s, entity=ent(root, "all"))
    assert "UserLoginSessionEvent" in {e._wsdl_name for e in everything}
    assert [e._wsdl_name for e in query(s, entity=ent(root, "self"))] == ["UserLoginSessionEvent"]
    on = query(s, eventTypeId=["VmPoweredOnEvent"])
    assert len(on) == 2 and query(s, type=["VmPoweredOnEvent"]) == on
    assert {e._wsdl_name for e in query(s, type=["VmEvent"])} >= {"VmStoppingEvent"}
    assert query(s, eventTypeId=["vim.event.VmPoweredOnEvent"], maxCount=1) == on[:1]
    assert query(s, eventChainId=on[0].chainId)[-1]._wsdl_name == "TaskEvent"
    future = datetime.now(UTC) + timedelta(hours=1)
    assert query(s, time=EventFilterSpecByTime(beginTime=future)) == []
    assert len(query(s, time=EventFilterSpecByTime(beginTime=start, endTime=future))) > 8
    by_user = EventFilterSpecByUsername(systemUser=False, userList=["someone"])
    assert query(s, userName=by_user) == []
    assert query(s, category=["error"]) == []
    stripped = query(s, disableFullMessage=True, maxCount=3)
    assert len(stripped) == 3 and all(e.fullFormattedMessage is None for e in stripped)
    with pytest.raises(faults.InvalidArgument):
        query(s, maxCount=-1)


def test_event_collector_scrolls(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    for _ in range(3):
        power_cycle(s, vm)  # 3 x (Task, Stopping, Off, Task, Starting, On) = 18 events
    spec = EventFilterSpec(
        entity=EventFilterSpecByEntity(entity=vm, recursion="self")  # type: ignore[arg-type]
    )
    c = s.call(em(s), "CreateCollectorForEvents", filter=spec)
    assert c.type == "EventHistoryCollector"
    assert prop(s, c, "filter").entity.entity == vm
    page = prop(s, c, "latestPage")
    assert len(page) == 10 and page == sorted(page, key=lambda e: e.key)
    first = s.call(c, "ReadNextEvents", maxCount=5)  # a new collector starts at the oldest
    assert [e.key for e in first] == sorted(e.key for e in first)
    rest = s.call(c, "ReadNextEvents", maxCount=100)
    assert len(first) + len(rest) == 18 and s.call(c, "ReadNextEvents", maxCount=5) == []
    back = s.call(c, "ReadPreviousEvents", maxCount=4)  # backwards, newest first
    assert [e.key for e in back] == [e.key for e in rest[::-1][:4]]
    s.call(c, "ResetCollector")  # just before the latest page
    older = s.call(c, "ReadPreviousEvents", maxCount=100)
    assert len(older) == 8 and older[0].key < page[0].key
    s.call(c, "RewindCollector")
    assert [e.key for e in s.call(c, "ReadNextEvents", maxCount=2)] == [e.key for e in first[:2]]
    s.call(c, "SetCollectorPageSize", maxCount=3)
    assert len(prop(s, c, "latestPage")) == 3
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
    assert prop(s, c, "latestPage")[-1]._wsdl_name == "VmPoweredOffEvent"
    with pytest.raises(faults.InvalidArgument):
        s.call(c, "ReadNextEvents", maxCount=0)
    with pytest.raises(faults.InvalidArgument):
        s.call(c, "SetCollectorPageSize", maxCount=-1)
    other = sim.connect()
    with pytest.raises(faults.ManagedObjectNotFound):  # collectors belong to their session
        other.call(c, "ReadNextEvents", maxCount=1)
    s.call(c, "DestroyCollector")
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(c, "ReadNextEvents", maxCount=1)


def test_post_and_log_user_events(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    s.call(em(s), "LogUserEvent", entity=vm, msg="backup done")
    (event,) = query(s, eventTypeId=["GeneralUserEvent"])
    assert event.message == "backup done" and event.entity.entity == vm
    assert event.fullFormattedMessage == "User logged event: backup done"
    assert event.vm.vm == vm and event.userName == "user"
    posted = GeneralUserEvent(
        key=0, chainId=0, createdTime=datetime(2000, 1, 1, tzinfo=UTC), userName="x", message="hi"
    )
    s.call(em(s), "PostEvent", eventToPost=posted)
    latest = query(s, maxCount=1)[0]
    assert latest.message == "hi" and latest.userName == "user" and latest.key > event.key
    assert latest.createdTime.year > 2000
    description = prop(s, em(s), "description")
    keys = {d.key for d in description.eventInfo}
    assert {"VmPoweredOnEvent", "TaskEvent", "EventEx"} <= keys
    assert {c.key for c in description.category} == {"info", "warning", "error", "user"}
    assert prop(s, em(s), "maxCollector") == 32


def test_task_history_collector(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM)
    other = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    power_cycle(s, vm)
    power_cycle(s, other)
    tm = s.content.taskManager
    assert tm is not None
    spec = TaskFilterSpec(
        entity=TaskFilterSpecByEntity(entity=vm, recursion="self")  # type: ignore[arg-type]
    )
    c = s.call(tm, "CreateCollectorForTasks", filter=spec)
    assert c.type == "TaskHistoryCollector"
    page = prop(s, c, "latestPage")
    assert [t.descriptionId for t in page] == ["VirtualMachine.powerOff", "VirtualMachine.powerOn"]
    assert all(t.entity == vm and t.state == "success" for t in page)
    assert [t.key for t in s.call(c, "ReadNextTasks", maxCount=10)] == [t.key for t in page]
    assert s.call(c, "ReadNextTasks", maxCount=10) == []
    assert len(s.call(c, "ReadPreviousTasks", maxCount=1)) == 1
    s.call(c, "RewindCollector")
    s.call(c, "SetCollectorPageSize", maxCount=1)
    assert len(prop(s, c, "latestPage")) == 1
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
    (last,) = prop(s, c, "latestPage")
    assert last.descriptionId == "VirtualMachine.powerOff" and last.state == "success"
    dc = find.by_path(s, "DC0")
    failed = TaskFilterSpec(
        entity=TaskFilterSpecByEntity(entity=dc, recursion="all"),  # type: ignore[arg-type]
        state=["error"],  # type: ignore[list-item]
    )
    c2 = s.call(tm, "CreateCollectorForTasks", filter=failed)
    assert prop(s, c2, "latestPage") is None
    with pytest.raises(faults.InvalidPowerState):
        spherekit.wait_for_task(s, s.call(other, "PowerOnVM_Task"), timeout=10)
    (bad,) = prop(s, c2, "latestPage")
    assert bad.entity == other and bad.error is not None
    description = prop(s, tm, "description")
    assert "VirtualMachine.powerOn" in {m.key for m in description.methodInfo}
    s.call(c2, "DestroyCollector")
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(c2, "ReadNextTasks", maxCount=1)


def test_collectors_per_session_are_bounded(session: spherekit.Session) -> None:
    s = session
    for _ in range(32):
        s.call(em(s), "CreateCollectorForEvents", filter=EventFilterSpec())
    with pytest.raises(faults.InvalidState):
        s.call(em(s), "CreateCollectorForEvents", filter=EventFilterSpec())
