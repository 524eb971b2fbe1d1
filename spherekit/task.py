"""Push-based waits for vSphere tasks.

One property filter over all the tasks, and ``WaitForUpdatesEx`` until each is done: the
client hears of a finished task as soon as the server publishes it, never a polling
interval later. Every wait has a timeout; progress is reported as the server reports it;
a failed task raises its fault as the typed exception (``faults.InvalidPowerState``...).

A task can block on a question the VM asks (``runtime.question``, e.g. "did you move or
copy this VM?"). ``question=`` says what to do: ``"raise"`` (the default) raises
:class:`VmQuestionBlocked`, ``"cancel"`` cancels the task, and a callable is given the
question and returns the key of the choice to answer (or None to raise).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from spherekit.errors import SpherekitError, UsageError, WaitTimeout
from spherekit.property import Watch, apply_changes, filter_spec
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import MethodFault, VirtualMachineQuestionInfo
    from spherekit.session import Session

__all__ = ["TaskFailed", "VmQuestionBlocked", "wait_for_task", "wait_for_tasks"]

ProgressCallback = Callable[[MoRef, int | None, str | None], None]
QuestionPolicy = Literal["raise", "cancel"] | Callable[["VirtualMachineQuestionInfo"], str | None]
_TASK_PATHS = ["info.state", "info.progress", "info.error", "info.result", "info.entity",
               "info.descriptionId"]  # fmt: skip


class VmQuestionBlocked(SpherekitError):
    """A task is blocked by a question its VM asks; nobody answered it."""

    def __init__(self, vm: MoRef, question: VirtualMachineQuestionInfo) -> None:
        choices = ", ".join(
            f"{c.key}={c.label or c.summary}" for c in (question.choice.choiceInfo or ())
        )
        super().__init__(
            f"{vm} asks: {question.text!r} (choices: {choices}); answer it with "
            f"question=<callable> or question='cancel'"
        )
        self.vm = vm
        self.question = question


class TaskFailed(SpherekitError):
    """A task failed without a typed fault, or vanished before it finished."""


def _fault(task: MoRef, info: dict[str, Any]) -> BaseException:
    err = info.get("info.error")
    fault: MethodFault | None = getattr(err, "fault", None)
    if fault is None:
        return TaskFailed(f"{task} failed without a fault")
    fault.msg = getattr(err, "localizedMessage", None) or fault.msg
    fault.method_name = info.get("info.descriptionId") or fault.method_name
    return fault


def wait_for_tasks(
    session: Session,
    tasks: Sequence[MoRef | ManagedObject],
    *,
    timeout: float = 3600.0,
    on_progress: ProgressCallback | None = None,
    question: QuestionPolicy = "raise",
    raise_errors: bool = True,
) -> list[Any]:
    """Wait until every task finishes; return their results in order.

    With ``raise_errors`` (the default) the first failed task's fault is raised once all
    tasks have finished; otherwise failed tasks give their exception in the result list.
    ``on_progress(task, percent, state)`` is called on every change the server pushes.
    """
    refs = [t.ref if isinstance(t, ManagedObject) else t for t in tasks]
    for r in refs:
        if not isinstance(r, MoRef) or r.type != "Task":
            raise UsageError(f"wait_for_tasks takes Task references, got {r!r}")
    if not refs:
        return []
    state: dict[MoRef, dict[str, Any]] = {r: {} for r in refs}
    done: dict[MoRef, Any] = {}
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    vms: dict[MoRef, MoRef] = {}  # watched VM -> the task it blocks
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    with Watch(session) as watch:
        watch.add(filter_spec("Task", _TASK_PATHS, refs))
        while len(done) < len(refs):
            left = deadline - time.monotonic()
            if left <= 0:
                pending = ", ".join(r.value for r in refs if r not in done)
                raise WaitTimeout(f"tasks not finished within {timeout:g} s: {pending}")
            result = watch.wait(min(left, 60.0))
            if result is None:
                continue
            for fs in result.filterSet or ():
                for upd in fs.objectSet or ():
                    obj = upd.obj
                    if obj.type == "VirtualMachine":
                        values: dict[str, Any] = {}
                        apply_changes(values, upd)
                        q = values.get("runtime.question")
                        if q is not None and obj in vms and q.id not in answered:
                            answered.add(q.id)  # the same question may be pushed again
                            _answer(session, obj, vms[obj], q, question)
                        continue
                    info = state.get(obj)
                    if info is None or obj in done:
                        continue
                    if upd.kind == "leave":
                        done[obj] = TaskFailed(
                            f"{obj} disappeared before it finished (last state: "
                            f"{info.get('info.state')}); check the server's recent tasks"
                        )
                        continue
                    if upd.kind == "enter":
                        info.clear()
                    apply_changes(info, upd)
                    entity = info.get("info.entity")
                    st = info.get("info.state")
                    if (
                        isinstance(entity, MoRef)
                        and entity.type == "VirtualMachine"
                        and entity not in vms
                        and st in ("queued", "running")  # a finished task asks nothing, and
                        # its VM may be gone (Destroy_Task): a filter on it would fault
                    ):
                        vms[entity] = obj
                        try:
                            watch.watch(entity, ["runtime.question"])
                        except ManagedObjectNotFound:
                            pass  # the VM went away meanwhile (Destroy_Task): it asks nothing
                    if on_progress is not None:
                        on_progress(obj, info.get("info.progress"), st)
                    if st == "success":
                        done[obj] = info.get("info.result")
                    elif st == "error":
                        done[obj] = _fault(obj, info)
    results = [done[r] for r in refs]
    if raise_errors:
        for r in results:
            if isinstance(r, BaseException):
                raise r
    return results


def _answer(
    session: Session, vm: MoRef, task: MoRef, q: VirtualMachineQuestionInfo, policy: QuestionPolicy
) -> None:
    if policy == "cancel":
        session.call(task, "CancelTask")
        return
    if policy == "raise":
        raise VmQuestionBlocked(vm, q)
    choice = policy(q)
    if choice is None:
        raise VmQuestionBlocked(vm, q)
    session.call(vm, "AnswerVM", questionId=q.id, answerChoice=choice)


def wait_for_task(
    session: Session,
    task: MoRef | ManagedObject,
    *,
    timeout: float = 3600.0,
    on_progress: ProgressCallback | None = None,
    question: QuestionPolicy = "raise",
) -> Any:
    """Wait for one task; return its result or raise its fault."""
    return wait_for_tasks(
        session, [task], timeout=timeout, on_progress=on_progress, question=question
    )[0]
