"""Operations: the one way the compute layer writes to the server.

An :class:`Operation` is one user-level action (create three nodes, import an image). Every
server-changing call it makes goes through :meth:`Operation.write` (or :meth:`start` for a
task it waits for later), which journals the call and its outcome. Steps register how to
undo themselves with :meth:`Operation.on_undo`; when the operation fails, the undo steps run
newest first, each journaled as ``undo``, and the original error is raised with the undo
report attached. With ``plan=True`` nothing is written: each write is recorded as a
:class:`PlannedCall` and answered with a placeholder reference, so the same code that
performs an operation also lists the calls it would make.

Reads go straight to the session (:meth:`Operation.read`); they are allowed while planning.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from spherekit.compute.journal import Journal, summarize
from spherekit.errors import OutcomeUnknown, SpherekitError
from spherekit.schema import registry
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.schema.vim25.model import TASK_RESULTS
from spherekit.task import ProgressCallback, wait_for_tasks

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["Operation", "OperationFailed", "PlannedCall", "UndoStep"]

_planned_ids = itertools.count(1)
#: the task progress callback of Operations made without one, in this context (the CLI sets
#: it around a command to draw a bar)
default_progress: ContextVar[ProgressCallback | None] = ContextVar("default_progress", default=None)
T = TypeVar("T")


@dataclass(frozen=True)
class PlannedCall:
    """A write an operation would make, listed by its plan form."""

    method: str
    target: str
    args: dict[str, Any]
    result: str | None = None

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        arrow = f" -> {self.result}" if self.result else ""
        return f"{self.method}({args}) on {self.target}{arrow}"


@dataclass
class UndoStep:
    description: str
    fn: Callable[[], object]
    outcome: str = "pending"


class OperationFailed(SpherekitError):
    """An operation failed; its partial work was undone (see ``undo``)."""

    def __init__(
        self,
        operation: str,
        cause: BaseException,
        undo: list[UndoStep] | None = None,
        kept: list[str] | None = None,
    ) -> None:
        super().__init__(operation)
        self.operation = operation
        self.cause = cause
        self.undo = undo or []
        self.kept = kept or []

    def __str__(self) -> str:
        undone = [u for u in self.undo if u.outcome == "ok"]
        failed = [u for u in self.undo if u.outcome != "ok"]
        text = f"{self.operation} failed: {self.cause}"
        if undone:
            text += f"; undone: {', '.join(u.description for u in undone)}"
        if failed:
            text += (
                f"; COULD NOT UNDO: {', '.join(f'{u.description} ({u.outcome})' for u in failed)}"
            )
        if self.kept:
            text += f"; kept for diagnosis: {', '.join(self.kept)}"
        return text


def _placeholder(method: str) -> MoRef | None:
    rtype = TASK_RESULTS.get(method) or registry.METHODS[method][4]
    if registry.is_managed(rtype):
        return MoRef(rtype, f"planned-{next(_planned_ids)}")
    return None


class Operation:
    """One journaled, undoable, plannable compute operation. Use as a context manager."""

    def __init__(
        self,
        session: Session,
        journal: Journal,
        name: str,
        *,
        plan: bool = False,
        task_timeout: float = 3600.0,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.session = session
        self.journal = journal
        self.name = name
        self.plan = plan
        self.planned: list[PlannedCall] = []
        self.task_timeout = task_timeout
        self.on_progress = on_progress if on_progress is not None else default_progress.get()
        self._undo: list[UndoStep] = []
        self._kept: list[str] = []
        self._lock = threading.Lock()

    # -- reads ------------------------------------------------------------------------

    def read(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        if registry.METHODS[method][3]:
            raise SpherekitError(f"{method} changes server state: use Operation.write")
        return self.session.call(this, method, **params)

    # -- writes -----------------------------------------------------------------------

    def start(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> MoRef:
        """Start a task method (journaled) and return its Task reference without waiting."""
        target = this.ref if isinstance(this, ManagedObject) else this
        if self.plan:
            result = _placeholder(method)
            self._record_plan(method, target, params, result)
            return MoRef("Task", f"planned-{next(_planned_ids)}")
        task: MoRef = self._call(target, method, params)
        self.journal.record(self.name, method, target, params, "started", task=task)
        return task

    def _call(self, target: MoRef, method: str, params: dict[str, Any]) -> Any:
        """``session.call``, journaling a failure (``unknown`` when it may have happened)."""
        try:
            return self.session.call(target, method, **params)
        except OutcomeUnknown as e:
            self.journal.record(self.name, method, target, params, "unknown", detail=str(e))
            raise
        except Exception as e:
            self.journal.record(self.name, method, target, params, f"error: {_name(e)}",
                                detail=str(e))  # fmt: skip
            raise

    def wait(self, tasks: Sequence[MoRef], *, raise_errors: bool = True) -> list[Any]:
        """Wait for tasks started with :meth:`start`; journal each outcome."""
        real = [t for t in tasks if not t.value.startswith("planned-")]
        if not real:
            return [None for _ in tasks]
        results = wait_for_tasks(
            self.session, real, timeout=self.task_timeout, on_progress=self.on_progress,
            raise_errors=False,
        )  # fmt: skip
        by_task = dict(zip(real, results, strict=True))
        for t, r in by_task.items():
            outcome = f"error: {_name(r)}" if isinstance(r, BaseException) else "ok"
            detail = str(r) if isinstance(r, BaseException) else None
            self.journal.record(self.name, "task", t, {}, outcome, task=t, detail=detail,
                                result=r if not isinstance(r, BaseException) else None)  # fmt: skip
        out = [by_task.get(t) for t in tasks]
        if raise_errors:
            for r in out:
                if isinstance(r, BaseException):
                    raise r
        return out

    def write(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        """Call a server-changing method (journaled); a task is waited for, its result returned."""
        target = this.ref if isinstance(this, ManagedObject) else this
        if registry.METHODS[method][2]:  # a task
            task = self.start(target, method, **params)
            if self.plan:
                return self.planned[-1].result and _ref(self.planned[-1].result)
            return self.wait([task])[0]
        if self.plan:
            result = _placeholder(method)
            self._record_plan(method, target, params, result)
            return result
        value = self._call(target, method, params)
        self.journal.record(self.name, method, target, params, "ok", result=value)
        return value

    def http_write(
        self, method: str, target: str, fn: Callable[[], T], /, **params: Any
    ) -> T | None:
        """Journal a write that is not a SOAP call (``PUT /folder``, an NFC or guest file
        upload): ``fn`` does it; ``target`` names what it writes (no tickets in it). In plan
        mode ``fn`` is not called: the write is listed and None returned."""
        if self.plan:
            call = PlannedCall(method, target, {k: summarize(v, k) for k, v in params.items()})
            with self._lock:
                self.planned.append(call)
            self.journal.record(self.name, method, target, params, "planned")
            return None
        try:
            value = fn()
        except Exception as e:
            self.journal.record(self.name, method, target, params, f"error: {_name(e)}",
                                detail=str(e))  # fmt: skip
            raise
        self.journal.record(self.name, method, target, params, "ok", result=value)
        return value

    def _record_plan(
        self, method: str, target: MoRef, params: dict[str, Any], result: MoRef | None
    ) -> None:
        call = PlannedCall(
            method, str(target), {k: summarize(v, k) for k, v in params.items()},
            str(result) if result is not None else None,
        )  # fmt: skip
        with self._lock:
            self.planned.append(call)
        self.journal.record(self.name, method, target, params, "planned")

    # -- undo -------------------------------------------------------------------------

    def on_undo(self, description: str, fn: Callable[[], object]) -> None:
        """Register how to undo a step that succeeded (run if the operation fails)."""
        if not self.plan:
            with self._lock:
                self._undo.append(UndoStep(description, fn))

    def keep(self, description: str) -> None:
        """Report something deliberately left in place on failure (e.g. for diagnosis)."""
        self._kept.append(description)

    def forget_undo(self, description: str) -> None:
        """Drop a registered undo step (the thing it would undo is gone or kept)."""
        with self._lock:
            self._undo = [u for u in self._undo if u.description != description]

    def rollback(self) -> list[UndoStep]:
        steps = list(reversed(self._undo))
        self._undo = []
        for step in steps:
            try:
                step.fn()
                step.outcome = "ok"
            except Exception as e:  # every undo step gets its chance
                step.outcome = f"error: {_name(e)}: {e}"
            self.journal.record(self.name, "undo", step.description, {}, f"undo {step.outcome}")
        return steps

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if e is None or self.plan or isinstance(e, OperationFailed):
            return
        steps = self.rollback()
        raise OperationFailed(self.name, e, steps, list(self._kept)) from e


def _name(e: BaseException) -> str:
    return getattr(e, "_wsdl_name", None) or type(e).__name__


def _ref(text: str) -> MoRef:
    t, _, v = text.partition(":")
    return MoRef(t, v)
