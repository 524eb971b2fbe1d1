"""Events: every operation posts the events vCenter posts for it (VmPoweredOnEvent, ...).

Handlers call :func:`emit`; the event gets its key, chain id, time, user and the entity
arguments (datacenter, computeResource, host, vm, ds, net) filled in from the inventory,
is kept in the backend's bounded log and becomes ``EventManager.latestEvent`` so
``WaitForUpdatesEx`` watchers see it. EventManager's query methods and history collectors
read the log.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import Event
    from spherekit.sim.backend import Backend, Context

__all__ = ["EVENT_MANAGER", "EventLog", "emit"]

EVENT_MANAGER = MoRef("EventManager", "EventManager")
#: events kept before the oldest are dropped (vCenter keeps a database; we keep a window)
KEEP = 10_000


class EventLog:
    """The events of one backend, oldest first."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.events: deque[Event] = deque(maxlen=KEEP)
        self._key = 0

    def next_key(self) -> int:
        self._key += 1
        return self._key


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
    **fields: Any,
) -> Event:
    """Post one event of type ``event_type`` (a vim25 Event subtype) about ``entity``.

    ``fields`` are the event type's own fields (e.g. ``template=False`` for
    VmCreatedEvent). Must be called with the registry lock held (handlers and task work
    functions are).
    """
    cls: Any = schema.data_class(event_type)
    if cls is None or not schema.is_subtype(event_type, "Event"):
        raise ValueError(f"{event_type} is not a vim25 Event type")
    log = ctx.backend.events
    key = log.next_key()
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
    log.events.append(event)
    if EVENT_MANAGER in reg:
        reg.update(EVENT_MANAGER, {"latestEvent": event})
    return event  # type: ignore[no-any-return]
