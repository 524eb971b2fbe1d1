"""Task and TaskManager: asynchronous operations with vCenter's life cycle.

A method such as ``PowerOnVM_Task`` creates a Task (``info.state`` ``queued``) and returns
its reference at once; a worker thread then moves it to ``running`` (``startTime``,
``progress`` 0), lets ``progress`` rise over the configured delay, does the work under the
registry lock, and finishes with ``success`` (``result``) or ``error`` (the fault as a
``LocalizedMethodFault``) and ``completeTime``. Every step is a registry update, so
``WaitForUpdatesEx`` on ``info`` sees each one. Checks that vCenter makes when the task
runs (``InvalidPowerState``) are made in the work function and fail the task, not the call.

Under a delay the task is first seen ``queued`` (a fifth of the delay), then ``running``.
A virtual machine runs one state-changing task at a time, as vCenter locks it: another
such task on it fails with ``TaskInProgress`` (``task``: the one holding the VM), without
running its work. Read-only tasks (``CheckMigrate_Task``...) and ``CloneVM_Task`` (vCenter
clones one source many times at once) neither wait nor block.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import task_chain, task_event

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["TASK_MANAGER", "TaskRunner"]

TASK_MANAGER = MoRef("TaskManager", "TaskManager")
log = logging.getLogger("spherekit.sim")

#: finished Task objects kept before the oldest are removed (vCenter expires them too)
KEEP_FINISHED = 1000
#: TaskManager.recentTask length
RECENT = 200

#: tasks that share their VM with other tasks instead of locking it
SHARED = frozenset({"CloneVM_Task"})

Work = Callable[[], Any]


def locks(method: str, entity: MoRef) -> bool:
    """True if ``method`` on ``entity`` holds the entity for as long as its task runs."""
    info = schema.METHODS.get(method)
    return entity.type == "VirtualMachine" and method not in SHARED and info is not None and info[3]


class TaskRunner:
    """Runs the tasks of one backend on a small pool of worker threads."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="spherekit-sim-task")
        self._finished: deque[MoRef] = deque()
        self._chain = 0
        self._stop = threading.Event()
        #: entity -> the state-changing task holding it (see :func:`locks`)
        self._busy: dict[MoRef, MoRef] = {}

    def start(
        self, ctx: Context, entity: MoRef, method: str, description_id: str, work: Work
    ) -> MoRef:
        """Create a queued Task for ``work`` on ``entity`` and schedule it; return its ref."""
        from spherekit.schema.vim25.data import TaskInfo, TaskReasonUser
        from spherekit.schema.vim25.enums import TaskInfoState

        reg = ctx.registry
        with reg.lock:
            ref = reg.new_ref("Task")
            # the chain id is the key of the TaskEvent posted below, as in vCenter
            chain = self._chain = ctx.backend.events.next_key()
            entity_name = reg.prop(entity, "name") if entity in reg else None
            info = TaskInfo(
                key=ref.value,
                task=ref,
                name=method,
                descriptionId=description_id,
                entity=entity,
                entityName=entity_name,
                state=TaskInfoState.queued,
                cancelled=False,
                cancelable=False,
                reason=TaskReasonUser(userName=ctx.session.user if ctx.session else ""),
                queueTime=datetime.now(UTC),
                eventChainId=chain,
            )
            reg.add(ref, {"info": info})
            task_event(ctx, entity if entity in reg else None, info)
            if entity in reg:
                reg.append(entity, "recentTask", ref)
            recent = [*(reg.prop(TASK_MANAGER, "recentTask") or []), ref][-RECENT:]
            reg.update(TASK_MANAGER, {"recentTask": recent})
            holder = None
            if locks(method, entity):
                holder = self._busy.setdefault(entity, ref)
        busy = holder if holder is not None and holder != ref else None
        self._pool.submit(self._guarded, ref, entity, work, method, busy)
        return ref

    def _guarded(
        self, ref: MoRef, entity: MoRef, work: Work, method: str, busy: MoRef | None
    ) -> None:
        try:
            self._run(ref, entity, work, method, busy)
        finally:  # normally released as the task ends (below), but also if it never does
            with self._backend.registry.lock:
                self._release(entity, ref)

    def _release(self, entity: MoRef, ref: MoRef) -> None:
        if self._busy.get(entity) == ref:
            del self._busy[entity]

    def _run(self, ref: MoRef, entity: MoRef, work: Work, method: str, busy: MoRef | None) -> None:
        from spherekit.schema.vim25.data import LocalizedMethodFault, MethodFault
        from spherekit.schema.vim25.enums import TaskInfoState

        backend = self._backend
        reg = backend.registry
        delay = backend.control.task_delay(method)
        # a fault rule of stage "task" delays the task or fails it instead of its work
        rule = backend.control.faults.match(method, entity, "task")
        injected = rule.make_fault(entity) if rule is not None and rule.fault else None
        delay += rule.delay if rule is not None else 0.0
        if busy is not None:  # the VM runs another task: fail at once, as vCenter does
            injected, delay = faults.task_in_progress(busy), 0.0
        if delay > 0 and self._stop.wait(delay / 5):  # queued for a while first
            return
        with reg.lock:
            if backend.closing:
                return
            now = datetime.now(UTC)
            reg.update(
                ref,
                {"info.state": TaskInfoState.running, "info.startTime": now, "info.progress": 0},
            )
        if delay > 0:
            for progress in (25, 50, 75):
                if self._stop.wait(delay / 5):
                    return
                with reg.lock:
                    reg.update(ref, {"info.progress": progress})
            if self._stop.wait(delay / 5):
                return
        result: Any = None
        error: LocalizedMethodFault | None = None
        with reg.lock:
            if backend.closing:
                return
            try:
                if injected is not None:
                    raise injected
                with task_chain(reg.props(ref)["info"].eventChainId):
                    result = work()
            except MethodFault as fault:
                error = LocalizedMethodFault(fault=fault, localizedMessage=fault.msg or None)
            except Exception as exc:
                log.exception("task %s failed", ref.value)
                crash = faults.system_error(f"{type(exc).__name__}: {exc}")
                error = LocalizedMethodFault(fault=crash, localizedMessage=crash.msg)
            done = TaskInfoState.error if error is not None else TaskInfoState.success
            reg.update(
                ref,
                {
                    "info.state": done,
                    "info.result": result,
                    "info.error": error,
                    "info.progress": 100 if error is None else None,
                    "info.completeTime": datetime.now(UTC),
                },
            )
            if entity in reg:
                reg.discard(entity, "recentTask", ref)
            self._release(entity, ref)  # free before anyone can see that the task is done
            self._finished.append(ref)
            while len(self._finished) > KEEP_FINISHED:
                old = self._finished.popleft()
                reg.remove(old)
                reg.discard(TASK_MANAGER, "recentTask", old)
            # durable before anyone can see the outcome (they need the lock to look)
            backend.flush()

    def restore(self) -> None:
        """After loading a state file: tasks the previous process left queued or running
        end in error (as vCenter's do when it restarts); finished ones are kept in order."""
        from spherekit.schema.vim25.data import LocalizedMethodFault
        from spherekit.schema.vim25.enums import TaskInfoState

        reg = self._backend.registry
        with reg.lock:
            for ref in reg.of_type("Task"):
                info = reg.prop(ref, "info")
                if info is None:
                    continue
                if info.state in (TaskInfoState.queued, TaskInfoState.running):
                    crash = faults.system_error("the simulator restarted while the task ran")
                    reg.update(
                        ref,
                        {
                            "info.state": TaskInfoState.error,
                            "info.error": LocalizedMethodFault(
                                fault=crash, localizedMessage=crash.msg
                            ),
                            "info.completeTime": datetime.now(UTC),
                        },
                    )
                    entity = info.entity
                    if entity is not None and entity in reg:
                        reg.discard(entity, "recentTask", ref)
                self._finished.append(ref)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
