"""Events: every operation posts the events vCenter posts for it (VmPoweredOnEvent, ...).

Handlers call :func:`emit`; the event gets its key, chain id, time, user and the entity
arguments (datacenter, computeResource, host, vm, ds, net) filled in from the inventory,
is kept in the backend's bounded log, becomes ``EventManager.latestEvent`` so
``WaitForUpdatesEx`` watchers see it, and is offered to every live
``EventHistoryCollector`` (:mod:`spherekit.sim.event_manager`), whose ``latestPage``
changes when the event matches its filter.

Events posted while a task's work runs (``VmPoweredOnEvent`` during ``PowerOnVM_Task``)
carry the task's ``eventChainId`` unless the caller says otherwise: the task runner wraps
the work in :func:`task_chain`. Every task itself posts a ``TaskEvent`` when it is created
(:func:`task_event`, "Task: Power On virtual machine"), whose key is the task's chain id,
as vCenter does.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import Event, TaskInfo
    from spherekit.sim.backend import Backend, Context

__all__ = [
    "EVENT_MANAGER",
    "TASK_LABELS",
    "EventLog",
    "EventSink",
    "emit",
    "make_event",
    "post",
    "task_chain",
    "task_event",
    "task_label",
]

EVENT_MANAGER = MoRef("EventManager", "EventManager")
#: events kept before the oldest are dropped (vCenter keeps a database; we keep a window)
KEEP = 10_000


#: task descriptionId -> the label vCenter shows ("Task: Power On virtual machine")
TASK_LABELS: dict[str, str] = {
    "VirtualMachine.powerOn": "Power On virtual machine",
    "VirtualMachine.powerOff": "Power Off virtual machine",
    "VirtualMachine.suspend": "Suspend virtual machine",
    "VirtualMachine.reset": "Reset virtual machine",
    "VirtualMachine.createSnapshot": "Create virtual machine snapshot",
    "VirtualMachine.createSnapshotEx": "Create virtual machine snapshot",
    "VirtualMachine.revertToCurrentSnapshot": "Revert to current snapshot",
    "VirtualMachine.removeAllSnapshots": "Remove all snapshots",
    "vm.Snapshot.revert": "Revert snapshot",
    "vm.Snapshot.remove": "Remove snapshot",
    "VirtualMachine.reconfigure": "Reconfigure virtual machine",
    "VirtualMachine.clone": "Clone virtual machine",
    "VirtualMachine.relocate": "Relocate virtual machine",
    "VirtualMachine.migrate": "Migrate virtual machine",
    "VirtualMachine.destroy": "Delete virtual machine",
    "VirtualMachine.rename": "Rename virtual machine",
    "Folder.createVm": "Create virtual machine",
    "Folder.registerVm": "Register virtual machine",
    "ResourcePool.importVApp": "Import OVF package",
    "ManagedEntity.destroy": "Delete",
    "ManagedEntity.rename": "Rename",
}

_chain = threading.local()


def task_label(description_id: str) -> str:
    """The label of a task's ``descriptionId`` (the id itself when none is known)."""
    return TASK_LABELS.get(description_id, description_id)


class EventSink(Protocol):
    """Something that wants to see every new event (an EventHistoryCollector)."""

    def offer(self, ctx: Context, event: Event) -> bool:
        """Take ``event`` if it matches; False if the sink is gone and may be dropped."""


class EventLog:
    """The events of one backend, oldest first, and the collectors that watch them."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.events: deque[Event] = deque(maxlen=KEEP)
        self._key = 0
        #: live EventHistoryCollectors by reference (see spherekit.sim.event_manager)
        self.sinks: dict[MoRef, EventSink] = {}

    def next_key(self) -> int:
        self._key += 1
        return self._key

    @property
    def last_key(self) -> int:
        return self._key

    def restore_key(self, key: int) -> None:
        """Continue event keys after ``key`` (a loaded state file)."""
        self._key = max(self._key, key)


def _argument(ctx: Context, ref: MoRef | None, arg_type: str) -> Any:
    if ref is None or ref not in ctx.registry:
        return None
    cls: Any = schema.data_class(arg_type)
    name = ctx.registry.prop(ref, "name") or ref.value
    field = {
        "VmEventArgument": "vm",
        "HostEventArgument": "host",
        "DatacenterEventArgument": "datacenter",
        "ComputeResourceEventArgument": "computeResource",
        "DatastoreEventArgument": "datastore",
        "NetworkEventArgument": "network",
        "FolderEventArgument": "folder",
        "ResourcePoolEventArgument": "resourcePool",
    }[arg_type]
    return cls(name=name, **{field: ref})


def _ancestor(ctx: Context, ref: MoRef, mtype: str) -> MoRef | None:
    reg = ctx.registry
    cur: MoRef | None = ref
    while cur is not None and cur in reg:
        if cur.type == mtype:
            return cur
        cur = reg.prop(cur, "parent")
    return None


def emit(
    ctx: Context,
    event_type: str,
    *,
    entity: MoRef | None = None,
    message: str = "",
    chain_id: int | None = None,
    key: int | None = None,
    **fields: Any,
) -> Event:
    """Post one event of type ``event_type`` (a vim25 Event subtype) about ``entity``.

    ``fields`` are the event type's own fields (e.g. ``template=False`` for
    VmCreatedEvent). ``chain_id`` defaults to the running task's chain (see
    :func:`task_chain`), else to the event's own key; ``key`` is one already taken with
    :meth:`EventLog.next_key`. Must be called with the registry lock held (handlers and
    task work functions are).
    """
    event = make_event(
        ctx, event_type, about=entity, text=message, chain_id=chain_id, key=key, **fields
    )
    return post(ctx, event)


def make_event(
    ctx: Context,
    event_type: str,
    *,
    about: MoRef | None = None,
    text: str = "",
    chain_id: int | None = None,
    key: int | None = None,
    **fields: Any,
) -> Event:
    """The event :func:`emit` would post (``about`` its entity, ``text`` its full
    message), not yet posted: for event types with fields named ``entity`` or
    ``message`` (GeneralUserEvent), which :func:`emit`'s parameters would shadow."""
    entity, message = about, text
    cls: Any = schema.data_class(event_type)
    if cls is None or not schema.is_subtype(event_type, "Event"):
        raise ValueError(f"{event_type} is not a vim25 Event type")
    log = ctx.backend.events
    if key is None:
        key = log.next_key()
    if chain_id is None:
        chain_id = getattr(_chain, "id", None)
    reg = ctx.registry
    vm = host = None
    if entity is not None and entity in reg:
        if entity.type == "VirtualMachine":
            vm = entity
            runtime = reg.prop(entity, "runtime")
            host = getattr(runtime, "host", None)
        elif entity.type == "HostSystem":
            host = entity
    args: dict[str, Any] = {}
    if entity is not None:
        args["datacenter"] = _argument(
            ctx, _ancestor(ctx, entity, "Datacenter"), "DatacenterEventArgument"
        )
        compute = reg.prop(host, "parent") if host is not None and host in reg else None
        if schema.is_subtype(entity.type, "ComputeResource"):
            compute = entity
        args["computeResource"] = _argument(ctx, compute, "ComputeResourceEventArgument")
        args["host"] = _argument(ctx, host, "HostEventArgument")
        args["vm"] = _argument(ctx, vm, "VmEventArgument")
        if entity.type == "Datastore":
            args["ds"] = _argument(ctx, entity, "DatastoreEventArgument")
        if entity.type in ("Network", "DistributedVirtualPortgroup"):
            args["net"] = _argument(ctx, entity, "NetworkEventArgument")
    user = ctx.session.user if ctx.session is not None else ""
    event = cls(
        key=key,
        chainId=chain_id if chain_id is not None else key,
        createdTime=datetime.now(UTC),
        userName=user,
        fullFormattedMessage=message or None,
        **{k: v for k, v in args.items() if v is not None},
        **fields,
    )
    return event  # type: ignore[no-any-return]


def post(ctx: Context, event: Event) -> Event:
    """Keep a complete ``event`` in the log, make it ``latestEvent``, offer it to the
    collectors (registry lock held)."""
    log = ctx.backend.events
    reg = ctx.registry
    log.events.append(event)
    if EVENT_MANAGER in reg:
        reg.update(EVENT_MANAGER, {"latestEvent": event})
    for ref, sink in list(log.sinks.items()):
        if ref not in reg or not sink.offer(ctx, event):
            log.sinks.pop(ref, None)
    return event


@contextmanager
def task_chain(chain_id: int) -> Iterator[None]:
    """Events emitted in this thread inside the block default to ``chain_id``."""
    previous = getattr(_chain, "id", None)
    _chain.id = chain_id
    try:
        yield
    finally:
        _chain.id = previous


def task_event(ctx: Context, entity: MoRef | None, info: TaskInfo) -> Event:
    """The ``TaskEvent`` vCenter posts when a task is created; its key is the task's
    ``eventChainId`` (take it with :meth:`EventLog.next_key` before building ``info``)."""
    label = task_label(info.descriptionId)
    chain = info.eventChainId
    return emit(
        ctx,
        "TaskEvent",
        entity=entity,
        message=f"Task: {label}",
        chain_id=chain,
        key=chain,
        info=info,
    )
