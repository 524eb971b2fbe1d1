"""Task and TaskManager: asynchronous operations with vCenter's life cycle.

A method such as ``PowerOnVM_Task`` creates a Task (``info.state`` ``queued``) and returns
its reference at once; a worker thread then moves it to ``running`` (``startTime``,
``progress`` 0), lets ``progress`` rise over the configured delay, does the work under the
registry lock, and finishes with ``success`` (``result``) or ``error`` (the fault as a
``LocalizedMethodFault``) and ``completeTime``. Every step is a registry update, so
``WaitForUpdatesEx`` on ``info`` sees each one. Checks that vCenter makes when the task
runs (``InvalidPowerState``) are made in the work function and fail the task, not the call.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import faults

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["TASK_MANAGER", "TaskRunner"]

TASK_MANAGER = MoRef("TaskManager", "TaskManager")
log = logging.getLogger("spherekit.sim")

#: finished Task objects kept before the oldest are removed (vCenter expires them too)
KEEP_FINISHED = 1000
#: TaskManager.recentTask length
RECENT = 200

Work = Callable[[], Any]


class TaskRunner:
    """Runs the tasks of one backend on a small pool of worker threads."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="spherekit-sim-task")
        self._finished: deque[MoRef] = deque()
        self._chain = 0
        self._stop = threading.Event()

    def start(
        self, ctx: Context, entity: MoRef, method: str, description_id: str, work: Work
    ) -> MoRef:
        """Create a queued Task for ``work`` on ``entity`` and schedule it; return its ref."""
        from spherekit.schema.vim25.data import TaskInfo, TaskReasonUser
        from spherekit.schema.vim25.enums import TaskInfoState

        reg = ctx.registry
        with reg.lock:
            ref = reg.new_ref("Task")
            self._chain += 1
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
                eventChainId=self._chain,
            )
            reg.add(ref, {"info": info})
            if entity in reg:
                reg.append(entity, "recentTask", ref)
            recent = [*(reg.prop(TASK_MANAGER, "recentTask") or []), ref][-RECENT:]
            reg.update(TASK_MANAGER, {"recentTask": recent})
        self._pool.submit(self._run, ref, entity, work)
        return ref

    def _run(self, ref: MoRef, entity: MoRef, work: Work) -> None:
        from spherekit.schema.vim25.data import LocalizedMethodFault, MethodFault
        from spherekit.schema.vim25.enums import TaskInfoState

        backend = self._backend
        reg = backend.registry
        delay = backend.settings.task_delay
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
                if self._stop.wait(delay / 4):
                    return
                with reg.lock:
                    reg.update(ref, {"info.progress": progress})
            if self._stop.wait(delay / 4):
                return
        result: Any = None
        error: LocalizedMethodFault | None = None
        with reg.lock:
            if backend.closing:
                return
            try:
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
            self._finished.append(ref)
            while len(self._finished) > KEEP_FINISHED:
                old = self._finished.popleft()
                reg.remove(old)
                reg.discard(TASK_MANAGER, "recentTask", old)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
