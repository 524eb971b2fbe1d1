"""Audit of issue 3, "Tasks are asynchronous with vCenter's transitions": under a
per-method delay set on the control plane, WaitForUpdatesEx on ``info`` sees the task
queued, then running with rising progress, then done (success with its result, or error
with the fault), with description, entity, start and complete times.
"""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import TaskInfo, WaitOptions
from tests.sim.conftest import Target

#: long enough that the queued phase (a fifth of it) is seen by a filter made after the call
DELAY = 2.0


def observe(s: spherekit.Session, task: MoRef) -> list[TaskInfo]:
    """Every TaskInfo WaitForUpdatesEx reports for ``task`` until it is done."""
    pc = s.call(s.content.propertyCollector, "CreatePropertyCollector")
    s.call(pc, "CreateFilter", spec=filter_spec("Task", ["info"], [task]), partialUpdates=False)
    seen: list[TaskInfo] = []
    version = ""
    while not seen or seen[-1].state not in ("success", "error"):
        result = s.call(
            pc, "WaitForUpdatesEx", version=version, options=WaitOptions(maxWaitSeconds=10)
        )
        assert result is not None, "no update within 10 s"
        version = result.version
        for fs in result.filterSet or []:
            for update in fs.objectSet or []:
                for change in update.changeSet or []:
                    assert change.name == "info"
                    seen.append(change.val)
    s.call(pc, "DestroyPropertyCollector")
    return seen


def check_life_cycle(seen: list[TaskInfo], final: str) -> list[int]:
    """queued, then running (progress never falling), then ``final``; the progress values."""
    states = [str(i.state) for i in seen]
    assert states[0] == "queued", states
    assert states[-1] == final and states.count(final) == 1, states
    running = [i for i in seen if i.state == "running"]
    assert running and states == ["queued"] + ["running"] * len(running) + [final], states
    assert seen[0].startTime is None and seen[0].completeTime is None
    progress = [i.progress for i in running]
    assert all(p is not None for p in progress)
    values = [p for p in progress if p is not None]
    assert values == sorted(values) and values[0] == 0 and len(set(values)) >= 3, values
    start = running[0].startTime
    assert start is not None and all(i.startTime == start for i in running)
    assert all(i.completeTime is None for i in running)
    done = seen[-1]
    assert done.queueTime is not None and done.completeTime is not None
    assert done.queueTime <= start <= done.completeTime
    return values


def test_success_with_its_result(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    sim.sim.control.set_task_delays({"CreateSnapshot_Task": DELAY})
    task = s.call(vm, "CreateSnapshot_Task", name="audit", memory=False, quiesce=False)
    seen = observe(s, task)
    check_life_cycle(seen, "success")
    done = seen[-1]
    assert done.progress == 100 and done.error is None
    assert isinstance(done.result, MoRef) and done.result.type == "VirtualMachineSnapshot"
    for info in seen:  # what the task is about is there from the start
        assert info.key == task.value and info.task == task
        assert info.name == "CreateSnapshot_Task"
        assert info.descriptionId == "VirtualMachine.createSnapshot"
        assert info.entity == vm and info.entityName == "DC0_H0_VM0"
        assert info.reason is not None and info.reason.userName == "user"  # type: ignore[attr-defined]
        assert info.cancelled is False and info.eventChainId
    assert spherekit.wait_for_task(s, task, timeout=10) == done.result


def test_error_with_its_fault(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")  # powered on already
    sim.sim.control.set_task_delays({"PowerOnVM_Task": DELAY})
    task = s.call(vm, "PowerOnVM_Task")
    seen = observe(s, task)
    check_life_cycle(seen, "error")
    done = seen[-1]
    assert done.result is None and done.error is not None
    fault: Any = done.error.fault
    assert isinstance(fault, faults.InvalidPowerState)
    assert fault.existingState == "poweredOn" and fault.requestedState == "poweredOn"
    assert done.error.localizedMessage and "Powered on" in done.error.localizedMessage
    assert done.descriptionId == "VirtualMachine.powerOn" and done.entity == vm
    with pytest.raises(faults.InvalidPowerState):
        spherekit.wait_for_task(s, task, timeout=10)


def test_the_delay_is_per_method(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    sim.sim.control.set_task_delays({"CreateSnapshot_Task": DELAY})
    # another method has no delay: no queued or running phase to speak of
    seen = observe(s, s.call(vm, "Rename_Task", newName="quick"))
    assert seen[-1].state == "success" and len(seen) <= 3
