"""TaskManager's history: ``CreateCollectorForTasks`` and ``TaskHistoryCollector``.

:class:`TaskHistory` (one per backend) watches the registry and keeps the latest
``TaskInfo`` of every task in creation order, including tasks whose Task object has
expired (vCenter keeps its task history in its database, longer than the Task objects).
A ``TaskHistoryCollector`` is owned by the session that created it and scrolls over the
tasks matching its ``TaskFilterSpec`` (entity with recursion, state, time, user, chain,
...) the way :class:`spherekit.sim.event_manager.Scroll` describes; its ``latestPage``
follows every change of a matching task's ``info``, so ``WaitForUpdatesEx`` on it works.
Membership is judged on a task's current ``info``: a collector of ``running`` tasks loses
a task when it finishes.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import TASK_LABELS
from spherekit.sim.history import MAX_COLLECTORS, Scroll, entity_matches, owned_count
from spherekit.sim.methods import computed, handler
from spherekit.sim.registry import LEAVE

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import TaskDescription, TaskFilterSpec, TaskInfo
    from spherekit.sim.backend import Backend, Context

__all__ = ["TaskHistory"]

#: task infos kept in the history
KEEP = 10_000


def _match(ctx: Context, spec: TaskFilterSpec, info: TaskInfo, root: MoRef) -> bool:
    if spec.state and info.state not in spec.state:
        return False
    if spec.eventChainId and info.eventChainId not in spec.eventChainId:
        return False
    if spec.parentTaskKey and info.parentTaskKey not in spec.parentTaskKey:
        return False
    if spec.rootTaskKey and info.rootTaskKey not in spec.rootTaskKey:
        return False
    if spec.activationId and info.activationId not in spec.activationId:
        return False
    if spec.tag and info.changeTag not in spec.tag:
        return False
    reason = info.reason
    if spec.alarm is not None and getattr(reason, "alarm", None) != spec.alarm:
        return False
    if spec.scheduledTask is not None and getattr(reason, "scheduledTask", None) != (
        spec.scheduledTask
    ):
        return False
    u = spec.userName
    if u is not None:
        user = getattr(reason, "userName", None)
        if not (
            (u.systemUser and user is None) or (user is not None and user in (u.userList or ()))
        ):
            return False
    t = spec.time
    if t is not None:
        field = {"queuedTime": "queueTime", "startedTime": "startTime"}.get(
            str(t.timeType), "completeTime"
        )
        when = getattr(info, field)
        if when is None:
            return False
        if t.beginTime is not None and when < t.beginTime:
            return False
        if t.endTime is not None and when > t.endTime:
            return False
    e = spec.entity
    if e is not None:
        refs = [info.entity] if info.entity is not None else []
        return entity_matches(ctx, refs, e.entity, str(e.recursion), root)
    return True


class TaskCollector:
    """One TaskHistoryCollector: its filter and scroll position."""

    def __init__(self, ref: MoRef, spec: TaskFilterSpec) -> None:
        self.ref = ref
        self.spec = spec
        self.scroll: Scroll[TaskInfo] = Scroll()

    def items(self, ctx: Context, history: TaskHistory) -> list[TaskInfo]:
        root = ctx.backend.content.rootFolder
        return [i for i in history.infos.values() if _match(ctx, self.spec, i, root)]

    def publish(self, ctx: Context, history: TaskHistory) -> None:
        page = self.scroll.latest(self.items(ctx, history))
        ctx.registry.update(self.ref, {"latestPage": page or None})


class TaskHistory:
    """Every task's latest info, and the live task collectors, of one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.infos: dict[MoRef, TaskInfo] = {}
        self.collectors: dict[MoRef, TaskCollector] = {}
        reg = backend.registry
        for ref in reg.of_type("Task"):
            self.infos[ref] = reg.prop(ref, "info")
        reg.listeners.append(self._changed)

    def _changed(self, kind: str, ref: MoRef, names: frozenset[str]) -> None:
        if ref.type != "Task" or kind == LEAVE or "info" not in names:
            return
        reg = self._backend.registry
        self.infos[ref] = reg.prop(ref, "info")
        if len(self.infos) > KEEP:
            del self.infos[next(iter(self.infos))]
        if not self.collectors:
            return
        from spherekit.sim.backend import Context

        ctx = Context(self._backend, None, ref, "")
        for cref, c in list(self.collectors.items()):
            if cref not in reg:
                del self.collectors[cref]
            else:
                c.publish(ctx, self)

    def collector(self, ctx: Context, ref: MoRef) -> TaskCollector:
        c = self.collectors.get(ref)
        if c is None:
            raise faults.not_found(ref)
        return c


def _history(ctx: Context) -> TaskHistory:
    history: TaskHistory = ctx.backend.task_history
    return history


# -- TaskManager ----------------------------------------------------------------------------


@handler("TaskManager", "CreateCollectorForTasks")
def create_collector(ctx: Context, this: MoRef, *, filter: TaskFilterSpec) -> MoRef:  # noqa: A002
    ctx.require_session()
    limit = ctx.registry.prop(this, "maxCollector") or MAX_COLLECTORS
    if owned_count(ctx, "TaskHistoryCollector") >= limit:
        raise faults.invalid_state(f"Too many task collectors: a session may have at most {limit}.")
    if filter.entity is not None and not ctx.visible(filter.entity.entity):
        raise faults.not_found(filter.entity.entity)
    history = _history(ctx)
    ref = ctx.add_owned("TaskHistoryCollector", {"filter": filter})
    c = history.collectors[ref] = TaskCollector(ref, filter)
    c.publish(ctx, history)
    return ref


@computed("TaskManager", "description")
def _description(ctx: Context, ref: MoRef) -> TaskDescription:
    return description()


@cache
def description() -> TaskDescription:
    """``TaskManager.description``: labels of task methods, states and reasons."""
    from spherekit.schema.vim25.data import ElementDescription, TaskDescription, TypeDescription

    methods = [ElementDescription(key=k, label=v, summary=v) for k, v in TASK_LABELS.items()]
    states = [
        ElementDescription(key=k, label=v, summary=v)
        for k, v in (
            ("queued", "Queued"),
            ("running", "Running"),
            ("success", "Completed"),
            ("error", "Failed"),
        )
    ]
    reasons = [
        TypeDescription(key=k, label=v, summary=v)
        for k, v in (
            ("TaskReasonUser", "Initiated by user"),
            ("TaskReasonSystem", "Initiated by the system"),
            ("TaskReasonAlarm", "Initiated by an alarm"),
            ("TaskReasonSchedule", "Initiated by a scheduled task"),
        )
    ]
    return TaskDescription(methodInfo=methods, state=states, reason=reasons)


# -- TaskHistoryCollector --------------------------------------------------------------------


@handler("TaskHistoryCollector", "ReadNextTasks")
def read_next(ctx: Context, this: MoRef, *, maxCount: int) -> list[TaskInfo]:
    history = _history(ctx)
    c = history.collector(ctx, this)
    return c.scroll.read_next(c.items(ctx, history), maxCount)


@handler("TaskHistoryCollector", "ReadPreviousTasks")
def read_previous(ctx: Context, this: MoRef, *, maxCount: int) -> list[TaskInfo]:
    history = _history(ctx)
    c = history.collector(ctx, this)
    return c.scroll.read_previous(c.items(ctx, history), maxCount)


@handler("TaskHistoryCollector", "ResetCollector")
def reset(ctx: Context, this: MoRef) -> None:
    history = _history(ctx)
    c = history.collector(ctx, this)
    c.scroll.reset(c.items(ctx, history))


@handler("TaskHistoryCollector", "RewindCollector")
def rewind(ctx: Context, this: MoRef) -> None:
    _history(ctx).collector(ctx, this).scroll.pos = 0


@handler("TaskHistoryCollector", "SetCollectorPageSize")
def set_page_size(ctx: Context, this: MoRef, *, maxCount: int) -> None:
    history = _history(ctx)
    c = history.collector(ctx, this)
    c.scroll.set_page_size(maxCount)
    c.publish(ctx, history)


@handler("TaskHistoryCollector", "DestroyCollector")
def destroy(ctx: Context, this: MoRef) -> None:
    _history(ctx).collectors.pop(this, None)
    ctx.remove_owned(this)
