"""Audit: what happened to an entity (events, tasks) and the server's own logs.

- :func:`events`: ``EventManager.QueryEvents`` with an ``EventFilterSpec`` on the entity
  (recursion ``self``, or ``all`` for everything below it), at most ``max_count``, as
  :class:`EventRecord` values (time, type, user, message);
- :func:`tasks`: the task history through a ``TaskHistoryCollector``
  (``CreateCollectorForTasks``, ``ReadNextTasks`` page by page, ``DestroyCollector`` always),
  the newest ``max_count``, as :class:`TaskRecord` values;
- :func:`log_descriptions`, :func:`browse_log` and :func:`tail`: ``DiagnosticManager``'s
  ``QueryDescriptions`` and ``BrowseDiagnosticLog`` (vCenter's ``vpxd:vpxd.log``, or a
  host's ``hostd`` log with ``host=``).

All are reads: nothing is journaled. Events and tasks come oldest first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spherekit.compute.endpoint import as_ref
from spherekit.errors import UsageError
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "EventRecord",
    "LogChunk",
    "LogDescription",
    "TaskRecord",
    "browse_log",
    "events",
    "log_descriptions",
    "tail",
    "tasks",
]

Entity = MoRef | ManagedObject
_RECURSION = ("self", "children", "all")
#: BrowseDiagnosticLog answers at most this many lines per call (vCenter's limit)
MAX_LOG_LINES = 500


@dataclass(frozen=True)
class EventRecord:
    time: datetime | None
    #: the event's type (``VmPoweredOnEvent``), or an EventEx's ``eventTypeId``
    type: str
    user: str | None
    message: str
    key: int
    chain_id: int | None
    #: the name of the VM (host) the event is about, when it names one
    vm: str | None = None
    host: str | None = None

    def __str__(self) -> str:
        when = self.time.isoformat(timespec="seconds") if self.time else "?"
        return f"{when} {self.type} [{self.user or '-'}] {self.message}"


@dataclass(frozen=True)
class TaskRecord:
    task: MoRef | None
    #: what the task does (``VirtualMachine.powerOn``)
    description_id: str
    entity: MoRef | None
    entity_name: str | None
    state: str
    queued: datetime | None
    started: datetime | None
    completed: datetime | None
    user: str | None
    error: str | None

    def __str__(self) -> str:
        when = self.queued.isoformat(timespec="seconds") if self.queued else "?"
        err = f": {self.error}" if self.error else ""
        return (
            f"{when} {self.description_id} on {self.entity_name or self.entity} {self.state}{err}"
        )


@dataclass(frozen=True)
class LogDescription:
    key: str
    file: str
    creator: str
    format: str
    mime_type: str
    info: str


@dataclass(frozen=True)
class LogChunk:
    key: str
    #: the number of the first line returned, and of the log's last line
    line_start: int
    line_end: int
    lines: list[str]


def _recursion(value: str) -> str:
    if value not in _RECURSION:
        raise UsageError(f"recursion is one of {', '.join(_RECURSION)}, got {value!r}")
    return value


def _state(value: str) -> Any:
    from spherekit import vim

    try:
        return vim.TaskInfoState(value)
    except ValueError:
        known = ", ".join(s.value for s in vim.TaskInfoState)
        raise UsageError(f"unknown task state {value!r}; use one of {known}") from None


def _entity(entity: Entity | None) -> MoRef | None:
    return None if entity is None else as_ref(entity, "ManagedEntity", "entity")


def _count(max_count: int) -> int:
    if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count <= 0:
        raise UsageError(f"max_count must be a positive integer, got {max_count!r}")
    return max_count


def _event(e: Any) -> EventRecord:
    type_id = getattr(e, "eventTypeId", None)
    vm = getattr(e.vm, "name", None) if e.vm is not None else None
    host = getattr(e.host, "name", None) if e.host is not None else None
    return EventRecord(
        time=e.createdTime,
        type=str(type_id or e._wsdl_name),
        user=e.userName or None,
        message=" ".join(str(e.fullFormattedMessage or "").split()),
        key=int(e.key),
        chain_id=int(e.chainId) if e.chainId is not None else None,
        vm=vm,
        host=host,
    )


def events(
    session: Session,
    entity: Entity | None = None,
    *,
    recursion: str = "self",
    max_count: int = 100,
    types: list[str] | None = None,
    since: datetime | None = None,
) -> list[EventRecord]:
    """The newest ``max_count`` events about ``entity`` (all events when None), oldest
    first; ``types`` limits them to event type ids (``["VmPoweredOnEvent"]``)."""
    from spherekit import vim

    mgr = session.content.eventManager
    if mgr is None:
        raise UsageError("this endpoint has no EventManager")
    ref = _entity(entity)
    spec = vim.EventFilterSpec(
        entity=vim.EventFilterSpecByEntity(
            entity=ref, recursion=vim.EventFilterSpecRecursionOption(_recursion(recursion))
        )
        if ref is not None
        else None,
        time=vim.EventFilterSpecByTime(beginTime=since) if since is not None else None,
        eventTypeId=list(types) if types else None,
        maxCount=_count(max_count),
    )
    found = session.call(mgr, "QueryEvents", filter=spec) or []
    return sorted((_event(e) for e in found), key=lambda r: r.key)


def _task(t: Any) -> TaskRecord:
    err = t.error
    error = None
    if err is not None:
        fault = getattr(err, "fault", None)
        name = getattr(fault, "_wsdl_name", "fault")
        error = f"{err.localizedMessage or getattr(fault, 'msg', None) or name} ({name})"
    reason = t.reason
    return TaskRecord(
        task=t.task,
        description_id=str(t.descriptionId or t.name or ""),
        entity=t.entity,
        entity_name=t.entityName,
        state=str(t.state),
        queued=t.queueTime,
        started=t.startTime,
        completed=t.completeTime,
        user=getattr(reason, "userName", None),
        error=error,
    )


def tasks(
    session: Session,
    entity: Entity | None = None,
    *,
    recursion: str = "self",
    max_count: int = 100,
    states: list[str] | None = None,
) -> list[TaskRecord]:
    """The newest ``max_count`` tasks on ``entity`` (all tasks when None), oldest first;
    ``states`` limits them (``["error"]``)."""
    from spherekit import vim

    mgr = session.content.taskManager
    if mgr is None:
        raise UsageError("this endpoint has no TaskManager")
    ref = _entity(entity)
    limit = _count(max_count)
    spec = vim.TaskFilterSpec(
        entity=vim.TaskFilterSpecByEntity(
            entity=ref, recursion=vim.TaskFilterSpecRecursionOption(_recursion(recursion))
        )
        if ref is not None
        else None,
        state=[_state(x) for x in states] if states else None,
    )
    collector = session.call(mgr, "CreateCollectorForTasks", filter=spec)
    newest: deque[Any] = deque(maxlen=limit)
    try:
        while True:
            page = session.call(collector, "ReadNextTasks", maxCount=min(limit, 100)) or []
            if not page:
                break
            newest.extend(page)
    finally:
        try:
            session.call(collector, "DestroyCollector")
        except Exception:  # the collector dies with the session anyway
            pass
    return [_task(t) for t in newest]


def log_descriptions(session: Session, host: Entity | None = None) -> list[LogDescription]:
    """The logs the server (or ``host``) offers."""
    mgr = _diagnostics(session)
    found = session.call(mgr, "QueryDescriptions", host=_host(host)) or []
    return [
        LogDescription(
            str(d.key),
            str(d.fileName),
            str(d.creator),
            str(d.format),
            str(d.mimeType),
            str(d.info.summary if d.info else ""),
        )
        for d in found
    ]


def _diagnostics(session: Session) -> MoRef:
    mgr = session.content.diagnosticManager
    if mgr is None:
        raise UsageError("this endpoint has no DiagnosticManager")
    return mgr


def _host(host: Entity | None) -> MoRef | None:
    return None if host is None else as_ref(host, "HostSystem", "host")


def _default_key(session: Session, host: Entity | None) -> str:
    found = log_descriptions(session, host)
    if not found:
        raise UsageError("the server offers no diagnostic logs")
    return found[0].key


def browse_log(
    session: Session,
    key: str | None = None,
    *,
    host: Entity | None = None,
    start: int | None = None,
    lines: int | None = None,
) -> LogChunk:
    """Lines of a log (the server's first one when ``key`` is None), from line ``start``
    (1-based), at most ``lines`` (the server caps one call at 500)."""
    if start is not None and start < 1:
        raise UsageError(f"log lines count from 1, got start={start}")
    if lines is not None and lines < 1:
        raise UsageError(f"lines must be positive, got {lines}")
    key = key or _default_key(session, host)
    header = session.call(_diagnostics(session), "BrowseDiagnosticLog", host=_host(host),
                          key=key, start=start, lines=lines)  # fmt: skip
    return LogChunk(key, int(header.lineStart or 0), int(header.lineEnd or 0),
                    list(header.lineText or ()))  # fmt: skip


def tail(
    session: Session, key: str | None = None, *, host: Entity | None = None, lines: int = 50
) -> LogChunk:
    """The last ``lines`` lines of a log (at most 500)."""
    if lines < 1 or lines > MAX_LOG_LINES:
        raise UsageError(f"lines must be between 1 and {MAX_LOG_LINES}, got {lines}")
    key = key or _default_key(session, host)
    end = browse_log(session, key, host=host, start=1, lines=1).line_end
    return browse_log(session, key, host=host, start=max(1, end - lines + 1), lines=lines)
