"""Tasks: queued -> running (rising progress) -> success / error, as vCenter reports them."""

from __future__ import annotations

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import TaskInfo
from tests.sim.conftest import SimFactory


def info(s: spherekit.Session, task: MoRef) -> TaskInfo:
    ((_r, row),) = retrieve(s, filter_spec("Task", ["info"], [task]))
    value: TaskInfo = row["info"]
    return value


def test_power_off_and_on(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    task = s.call(vm, "PowerOffVM_Task")
    assert task.type == "Task" and task.value.startswith("task-")
    assert spherekit.wait_for_task(s, task, timeout=10) is None
    ((_r, row),) = spherekit.fetch(
        s,
        "VirtualMachine",
        ["runtime", "summary.runtime"],
        root=find.by_path(s, "DC0/host/DC0_H0/DC0_H0"),
        recursive=False,
    )[:1]
    assert row["runtime"].powerState == "poweredOff" == row["summary.runtime"].powerState
    assert row["runtime"].bootTime is None
    t = info(s, task)
    assert t.state == "success" and t.progress == 100
    assert t.descriptionId == "VirtualMachine.powerOff" and t.name == "PowerOffVM_Task"
    assert t.entity == vm and t.entityName == "DC0_H0_VM0"
    assert t.reason.userName == "user"  # type: ignore[attr-defined]
    assert t.queueTime <= t.startTime <= t.completeTime  # type: ignore[operator]
    spherekit.wait_for_task(s, s.call(vm, "PowerOnVM_Task"), timeout=10)
    assert spherekit.fetch(s, "VirtualMachine", ["runtime.powerState"])[0][1] == {
        "runtime.powerState": "poweredOn"
    }


def test_invalid_power_state_fails_the_task(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    task = s.call(vm, "PowerOnVM_Task")  # already on: the call succeeds, the task fails
    with pytest.raises(faults.InvalidPowerState) as err:
        spherekit.wait_for_task(s, task, timeout=10)
    assert err.value.requestedState == "poweredOn"
    assert err.value.existingState == "poweredOn"
    assert "current state (Powered on)" in str(err.value)
    t = info(s, task)
    assert t.state == "error" and t.error is not None
    assert isinstance(t.error.fault, faults.InvalidPowerState)


def test_progress_rises_while_a_task_runs(sim_factory: SimFactory) -> None:
    s = sim_factory(seed=1, task_delay=0.4).connect()
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    seen: list[tuple[int | None, str | None]] = []
    task = s.call(vm, "PowerOffVM_Task")
    spherekit.wait_for_task(s, task, timeout=10, on_progress=lambda _t, p, st: seen.append((p, st)))
    states = [st for _p, st in seen]
    assert states[-1] == "success"
    assert "running" in states
    progress = [p for p, st in seen if st == "running" and p is not None]
    assert progress == sorted(progress) and len(set(progress)) >= 2


def test_recent_tasks(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_C0_RP0_VM0")
    task = s.call(vm, "PowerOffVM_Task")
    spherekit.wait_for_task(s, task, timeout=10)
    mgr = s.content.taskManager
    assert mgr is not None
    ((_r, row),) = retrieve(s, filter_spec("TaskManager", ["recentTask"], [mgr]))
    assert task in row["recentTask"]


def test_power_on_elsewhere_is_not_supported_yet(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    other = find.by_path(s, "DC0/host/DC0_C0/DC0_C0_H0")
    with pytest.raises(faults.NotSupported):
        s.call(vm, "PowerOnVM_Task", host=other)
