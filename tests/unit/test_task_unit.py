"""Push-based waits (task.py, property.Watch, property.wait_for) against a scripted collector.

:class:`ScriptedCollector` answers ``CreatePropertyCollector``/``CreateFilter`` and plays
a script of ``WaitForUpdatesEx`` answers (an UpdateSet, ``None`` for "nothing changed",
a fault to raise, or a callable); when the script runs out it answers ``None`` after a
few milliseconds, as a server does when ``maxWaitSeconds`` passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spherekit import faults, vim
from spherekit.errors import ProtocolError, UsageError, WaitTimeout
from spherekit.property import Watch, wait_for
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import MethodFault
from spherekit.session import Session
from spherekit.task import TaskFailed, VmQuestionBlocked, wait_for_task, wait_for_tasks
from spherekit.wire.transport import Response
from tests.unit import soap
from tests.unit.fakevc import FakeVC
from tests.unit.soap import Call

T1, T2, T3 = (MoRef("Task", f"task-{i}") for i in (1, 2, 3))
VM = MoRef("VirtualMachine", "vm-42")
Op = vim.PropertyChangeOp
Kind = vim.ObjectUpdateKind

Step = vim.UpdateSet | MethodFault | Callable[[Call], Any] | None


class ScriptedCollector:
    def __init__(self, vc: FakeVC) -> None:
        self.vc = vc
        self.script: list[Step] = []
        self.collectors: list[MoRef] = []
        self.dead: set[MoRef] = set()
        self.filters: list[tuple[MoRef, vim.PropertyFilterSpec]] = []
        self.destroyed: list[MoRef] = []
        self.waits: list[Call] = []
        vc.handlers.update(
            CreatePropertyCollector=self._create,
            CreateFilter=self._filter,
            WaitForUpdatesEx=self._wait,
            DestroyPropertyCollector=self._destroy,
            CancelTask=lambda call: None,
            AnswerVM=lambda call: None,
        )

    def play(self, *steps: Step) -> None:
        self.script.extend(steps)

    def kill_collectors(self) -> None:
        """Collectors die with the session that created them."""
        self.dead.update(self.collectors)

    def _create(self, call: Call) -> MoRef:
        ref = MoRef("PropertyCollector", f"session[x]{len(self.collectors) + 1}")
        self.collectors.append(ref)
        return ref

    def _alive(self, call: Call) -> None:
        if call.this in self.dead or call.this not in self.collectors:
            raise vim.ManagedObjectNotFound(obj=call.this)

    def _filter(self, call: Call) -> MoRef:
        self._alive(call)
        self.filters.append((call.this, call.params["spec"]))
        return MoRef("PropertyFilter", f"filter-{len(self.filters)}")

    def _wait(self, call: Call) -> Any:
        self._alive(call)
        self.waits.append(call)
        if not self.script:
            time.sleep(0.005)
            return None
        step = self.script.pop(0)
        if isinstance(step, MethodFault):
            raise step
        if callable(step):
            return step(call)
        return step

    def _destroy(self, call: Call) -> None:
        self.destroyed.append(call.this)


@pytest.fixture
def vc() -> FakeVC:
    return FakeVC()


@pytest.fixture
def pc(vc: FakeVC) -> ScriptedCollector:
    return ScriptedCollector(vc)


@pytest.fixture
def session(vc: FakeVC) -> Iterator[Session]:
    s = vc.connect()
    vc.reset_log()
    yield s
    s.close()


def change(name: str, val: Any = None, op: vim.PropertyChangeOp = Op.assign) -> vim.PropertyChange:
    return vim.PropertyChange(name=name, op=op, val=val)


def obj(
    ref: MoRef, changes: dict[str, Any], kind: vim.ObjectUpdateKind = Kind.modify
) -> vim.ObjectUpdate:
    return vim.ObjectUpdate(
        kind=kind, obj=ref, changeSet=[change(k, v) for k, v in changes.items()]
    )


def task(
    ref: MoRef,
    state: str,
    *,
    progress: int | None = None,
    kind: vim.ObjectUpdateKind = Kind.modify,
    **more: Any,
) -> vim.ObjectUpdate:
    changes: dict[str, Any] = {"info.state": state}
    if progress is not None:
        changes["info.progress"] = progress
    for key, value in more.items():
        changes[f"info.{key}"] = value
    return obj(ref, changes, kind)


def updates(version: str, *objects: vim.ObjectUpdate) -> vim.UpdateSet:
    return vim.UpdateSet(
        version=version,
        filterSet=[
            vim.PropertyFilterUpdate(filter=MoRef("PropertyFilter", "f"), objectSet=list(objects))
        ],
    )


def question() -> vim.VirtualMachineQuestionInfo:
    return vim.VirtualMachineQuestionInfo(
        id="q-17",
        text="This virtual machine might have been moved or copied. Did you move it or copy it?",
        choice=vim.ChoiceOption(
            choiceInfo=[
                vim.ElementDescription(key="0", label="Cancel", summary="Cancel"),
                vim.ElementDescription(key="1", label="I Moved It", summary="I Moved It"),
                vim.ElementDescription(key="2", label="I Copied It", summary="I Copied It"),
            ],
            defaultIndex=2,
        ),
    )


def invalid_power_state_error() -> vim.LocalizedMethodFault:
    return vim.LocalizedMethodFault(
        fault=vim.InvalidPowerState(
            requestedState=vim.VirtualMachinePowerState.poweredOn,
            existingState=vim.VirtualMachinePowerState.poweredOn,
        ),
        localizedMessage="The attempted operation cannot be performed in the current state "
        "(Powered on).",
    )


# ---------------------------------------------------------------------------------------
# one task


def test_wait_for_task_returns_the_result(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    clone = MoRef("VirtualMachine", "vm-77")
    pc.play(
        updates("1", task(T1, "running", progress=0, kind=Kind.enter)),
        updates("2", task(T1, "success", result=clone)),
    )
    assert wait_for_task(session, T1) == clone
    assert vc.methods() == [
        "CreatePropertyCollector",
        "CreateFilter",
        "WaitForUpdatesEx",
        "WaitForUpdatesEx",
        "DestroyPropertyCollector",
    ]
    ((collector, spec),) = pc.filters
    assert spec.objectSet[0].obj == T1
    assert "info.state" in (spec.propSet[0].pathSet or [])
    assert pc.destroyed == [collector]
    # every wait is bounded
    assert all(0 < w.params["options"].maxWaitSeconds <= 60 for w in pc.waits)
    assert [w.params["version"] for w in pc.waits] == ["", "1"]


def test_task_handle_is_accepted(pc: ScriptedCollector, session: Session) -> None:
    pc.play(updates("1", task(T1, "success", kind=Kind.enter)))
    assert wait_for_task(session, vim.Task(session, T1)) is None


def test_task_already_finished_returns_at_once(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    pc.play(updates("1", task(T1, "success", kind=Kind.enter, result="done")))
    assert wait_for_task(session, T1) == "done"
    assert vc.count("WaitForUpdatesEx") == 1


def test_failed_task_raises_its_typed_fault(pc: ScriptedCollector, session: Session) -> None:
    pc.play(
        updates(
            "1",
            task(
                T1,
                "error",
                kind=Kind.enter,
                error=invalid_power_state_error(),
                descriptionId="VirtualMachine.powerOn",
            ),
        )
    )
    with pytest.raises(faults.InvalidState) as info:
        wait_for_task(session, T1)
    e = info.value
    assert isinstance(e, faults.InvalidPowerState)
    assert e.existingState == "poweredOn"
    assert e.msg is not None and e.msg.startswith("The attempted operation cannot be performed")
    assert e.method_name == "VirtualMachine.powerOn"
    assert "\n" not in str(e)


def test_failed_task_without_a_fault_still_fails(pc: ScriptedCollector, session: Session) -> None:
    pc.play(updates("1", task(T1, "error", kind=Kind.enter)))
    with pytest.raises(TaskFailed, match="task-1 failed"):
        wait_for_task(session, T1)


def test_progress_is_reported_as_the_server_pushes_it(
    pc: ScriptedCollector, session: Session
) -> None:
    pc.play(
        updates("1", task(T1, "queued", kind=Kind.enter)),
        updates("2", task(T1, "running", progress=10)),
        updates("3", obj(T1, {"info.progress": 45})),
        None,  # nothing changed for a while
        updates("4", obj(T1, {"info.progress": 90})),
        updates("5", task(T1, "success")),
    )
    seen: list[tuple[MoRef, int | None, str | None]] = []
    wait_for_task(session, T1, on_progress=lambda t, p, s: seen.append((t, p, s)))
    percents = [p for _t, p, _s in seen if p is not None]
    assert percents[:3] == [10, 45, 90]
    assert percents == sorted(percents)
    assert seen[0] == (T1, None, "queued")
    assert seen[-1][2] == "success"
    assert {t for t, _p, _s in seen} == {T1}


def test_wait_times_out_naming_the_pending_task(pc: ScriptedCollector, session: Session) -> None:
    pc.play(
        updates("1", task(T1, "success", kind=Kind.enter), task(T2, "running", kind=Kind.enter))
    )
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_for_tasks(session, [T1, T2], timeout=0.05)
    assert isinstance(info.value, TimeoutError)  # the builtin: `except TimeoutError` works
    assert time.monotonic() - start < 2
    msg = str(info.value)
    assert "task-2" in msg and "task-1" not in msg
    assert pc.destroyed  # the collector is cleaned up on the way out


def test_wait_for_tasks_uses_one_filter_and_keeps_the_order(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    pc.play(
        updates(
            "1",
            task(T1, "running", kind=Kind.enter),
            task(T2, "running", kind=Kind.enter),
            task(T3, "queued", kind=Kind.enter),
        ),
        updates("2", task(T3, "success", result=3)),
        updates("3", task(T1, "success", result=1)),
        updates("4", task(T2, "success", result=2)),
    )
    assert wait_for_tasks(session, [T1, T2, T3]) == [1, 2, 3]
    assert vc.count("CreateFilter") == 1
    assert vc.count("CreatePropertyCollector") == 1
    ((_collector, spec),) = pc.filters
    assert [o.obj for o in spec.objectSet] == [T1, T2, T3]


def test_failed_tasks_can_be_returned_instead_of_raised(
    pc: ScriptedCollector, session: Session
) -> None:
    pc.play(
        updates(
            "1",
            task(T1, "success", kind=Kind.enter, result="ok"),
            task(T2, "error", kind=Kind.enter, error=invalid_power_state_error()),
        )
    )
    ok, failed = wait_for_tasks(session, [T1, T2], raise_errors=False)
    assert ok == "ok"
    assert isinstance(failed, faults.InvalidPowerState)
    pc.play(
        updates(
            "1",
            task(T1, "error", kind=Kind.enter, error=invalid_power_state_error()),
            task(T2, "success", kind=Kind.enter),
        )
    )
    with pytest.raises(faults.InvalidPowerState):
        wait_for_tasks(session, [T1, T2])


def test_wait_for_tasks_checks_its_arguments(vc: FakeVC, session: Session) -> None:
    assert wait_for_tasks(session, []) == []
    with pytest.raises(UsageError, match="takes Task references"):
        wait_for_tasks(session, [VM])
    assert vc.log == []


def test_vcenter_task_update_bytes_decode(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    body = soap.envelope(
        '<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>1</version>'
        '<filterSet><filter type="PropertyFilter">session[52]52a1</filter>'
        '<objectSet><kind>enter</kind><obj type="Task">task-1</obj>'
        "<changeSet><name>info.state</name><op>assign</op>"
        '<val xsi:type="TaskInfoState">success</val></changeSet>'
        "<changeSet><name>info.result</name><op>assign</op>"
        '<val xsi:type="ManagedObjectReference" type="VirtualMachine">vm-88</val></changeSet>'
        "<changeSet><name>info.progress</name><op>assign</op></changeSet>"
        "</objectSet></filterSet></returnval></WaitForUpdatesExResponse>"
    )
    pc.play(lambda call: Response(200, soap.XML_HEADERS, body))
    assert wait_for_task(session, T1) == MoRef("VirtualMachine", "vm-88")


# ---------------------------------------------------------------------------------------
# VM questions


def _blocked_by_question() -> tuple[vim.UpdateSet, vim.UpdateSet]:
    return (
        updates("1", task(T1, "running", kind=Kind.enter, entity=VM, progress=5)),
        updates("2", obj(VM, {"runtime.question": question()}, Kind.enter)),
    )


def test_question_policy_raise(vc: FakeVC, pc: ScriptedCollector, session: Session) -> None:
    pc.play(*_blocked_by_question())
    with pytest.raises(VmQuestionBlocked) as info:
        wait_for_task(session, T1)
    e = info.value
    assert e.vm == VM
    assert e.question.id == "q-17"
    msg = str(e)
    assert "Did you move it or copy it?" in msg
    assert "1=I Moved It" in msg and "2=I Copied It" in msg
    assert "question=" in msg  # says how to get past it
    # the VM was watched through the same collector
    assert [s.objectSet[0].obj for _c, s in pc.filters] == [T1, VM]
    assert vc.count("CreatePropertyCollector") == 1
    assert vc.count("CancelTask") == vc.count("AnswerVM") == 0
    assert pc.destroyed


def test_question_policy_cancel(vc: FakeVC, pc: ScriptedCollector, session: Session) -> None:
    canceled = vim.LocalizedMethodFault(fault=vim.RequestCanceled(), localizedMessage="canceled")
    pc.play(*_blocked_by_question(), updates("3", task(T1, "error", error=canceled)))
    with pytest.raises(faults.RequestCanceled):
        wait_for_task(session, T1, question="cancel")
    (cancel,) = vc.calls("CancelTask")
    assert cancel.this == T1
    assert vc.count("AnswerVM") == 0


def test_question_policy_callable_answers(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    asked: list[vim.VirtualMachineQuestionInfo] = []

    def moved_it(q: vim.VirtualMachineQuestionInfo) -> str:
        asked.append(q)
        return "1"

    pc.play(*_blocked_by_question(), updates("3", task(T1, "success", result="on")))
    assert wait_for_task(session, T1, question=moved_it) == "on"
    assert asked == [question()]
    (answer,) = vc.calls("AnswerVM")
    assert answer.this == VM
    assert answer.params == {"questionId": "q-17", "answerChoice": "1"}


def test_question_callable_may_decline(vc: FakeVC, pc: ScriptedCollector, session: Session) -> None:
    pc.play(*_blocked_by_question())
    with pytest.raises(VmQuestionBlocked):
        wait_for_task(session, T1, question=lambda q: None)
    assert vc.count("AnswerVM") == 0


# ---------------------------------------------------------------------------------------
# recovery


def test_watch_recovers_from_invalid_collector_version(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    pc.play(
        updates("1", task(T1, "running", kind=Kind.enter)),
        vim.InvalidCollectorVersion(),
        updates("1", task(T1, "success", kind=Kind.enter, result="ok")),
    )
    assert wait_for_task(session, T1) == "ok"
    assert [w.params["version"] for w in pc.waits] == ["", "1", ""]
    assert vc.count("CreatePropertyCollector") == 1


def test_watch_rebuilds_when_its_collector_is_gone(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    def collector_vanished(call: Call) -> Any:
        pc.kill_collectors()
        raise vim.ManagedObjectNotFound(obj=call.this)

    pc.play(
        updates("1", task(T1, "running", kind=Kind.enter)),
        collector_vanished,
        updates("1", task(T1, "success", kind=Kind.enter, result="ok")),
    )
    assert wait_for_task(session, T1) == "ok"
    assert len(pc.collectors) == 2
    assert [c for c, _s in pc.filters] == pc.collectors  # the filter was made again
    assert pc.waits[-1].this == pc.collectors[1]
    assert pc.waits[-1].params["version"] == ""


def test_watch_survives_the_session_expiring_mid_wait(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    def session_expired(call: Call) -> Any:
        vc.expire()
        pc.kill_collectors()
        raise vim.NotAuthenticated()

    pc.play(
        updates("1", task(T1, "running", kind=Kind.enter)),
        session_expired,
        updates("1", task(T1, "success", kind=Kind.enter, result="ok")),
    )
    assert wait_for_task(session, T1) == "ok"
    assert vc.count("Login") == 1
    assert len(pc.collectors) == 2
    assert pc.waits[-1].this == pc.collectors[1]


def test_not_found_for_another_object_is_raised(pc: ScriptedCollector, session: Session) -> None:
    pc.play(vim.ManagedObjectNotFound(obj=MoRef("Task", "task-404")))
    with pytest.raises(faults.ManagedObjectNotFound) as info:
        wait_for_task(session, T1)
    assert info.value.obj == MoRef("Task", "task-404")


def test_a_collector_that_keeps_failing_gives_up(pc: ScriptedCollector, session: Session) -> None:
    pc.play(*[vim.InvalidCollectorVersion() for _ in range(3)])
    with pytest.raises(ProtocolError, match="kept rejecting"), Watch(session) as w:
        w.watch(T1, ["info.state"])
        w.wait(1)


# ---------------------------------------------------------------------------------------
# wait_for


def _is_ipv4(value: Any) -> bool:
    return isinstance(value, str) and value.count(".") == 3


def test_wait_for_returns_when_the_predicate_holds(
    vc: FakeVC, pc: ScriptedCollector, session: Session
) -> None:
    pc.play(
        updates("1", obj(VM, {"guest.ipAddress": None}, Kind.enter)),
        None,
        updates("2", obj(VM, {"guest.ipAddress": "fe80::250:56ff:fe01:2"})),
        updates("3", obj(VM, {"guest.ipAddress": "10.0.0.5"})),
    )
    assert wait_for(session, VM, "guest.ipAddress", _is_ipv4, timeout=5) == "10.0.0.5"
    ((_c, spec),) = pc.filters
    assert spec.propSet[0].type == "VirtualMachine"
    assert spec.propSet[0].pathSet == ["guest.ipAddress"]
    assert spec.objectSet[0].obj == VM
    assert pc.destroyed
    assert all(w.params["options"].maxWaitSeconds <= 5 for w in pc.waits)


def test_wait_for_times_out(pc: ScriptedCollector, session: Session) -> None:
    pc.play(updates("1", obj(VM, {"guest.ipAddress": "fe80::1"}, Kind.enter)))
    start = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_for(
            session, vim.VirtualMachine(session, "vm-42"), "guest.ipAddress", _is_ipv4, timeout=0.05
        )
    assert time.monotonic() - start < 2
    msg = str(info.value)
    assert "guest.ipAddress" in msg and "vm-42" in msg and "fe80::1" in msg
    assert pc.destroyed


def test_wait_for_checks_the_path_before_sending(vc: FakeVC, session: Session) -> None:
    with pytest.raises(UsageError, match="has no property 'guets'"):
        wait_for(session, VM, "guets.ipAddress", timeout=1)
    with pytest.raises(
        UsageError, match=r"GuestInfo .* has no field 'ipAdress'; did you mean ipAddress"
    ):
        wait_for(session, VM, "guest.ipAdress", timeout=1)
    assert vc.log == []
