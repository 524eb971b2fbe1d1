"""EventManager and EventHistoryCollector: querying, collecting and posting events.

``QueryEvents`` answers the newest events matching an ``EventFilterSpec`` (newest first, at
most ``maxCount``, 1000 when unset). ``CreateCollectorForEvents`` makes an
``EventHistoryCollector`` owned by the caller's session: a scrollable view over the
matching events, oldest first, that grows as new events match. As vCenter documents it,
a new collector is positioned at the oldest item (``ReadNextEvents`` reads forward from
there), ``ResetCollector`` moves the position just before the ``latestPage`` (the newest
``pageSize`` items, 10 by default, in the order they were posted) and ``RewindCollector``
back to the oldest; ``ReadPreviousEvents`` reads backwards, newest of the page first.

Entity filters follow ``EventFilterSpecRecursionOption``: ``self`` matches events naming
the entity in one of their arguments (vm, host, computeResource, datacenter, ds, net,
dvs, the entity of a user event); ``children`` events naming one of its direct children;
``all`` the entity and everything below it (the root folder with ``all`` matches every
event, those about no entity, such as logins, included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import KEEP, make_event, post
from spherekit.sim.history import MAX_COLLECTORS, Scroll, entity_matches, owned_count
from spherekit.sim.methods import computed, handler
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        Event,
        EventDescription,
        EventFilterSpec,
        TaskInfo,
    )
    from spherekit.sim.backend import Context

__all__ = ["EventFilter", "category", "description", "event_entities"]

QUERY_LIMIT = 1000

_ARGS = (
    ("vm", "vm"),
    ("host", "host"),
    ("computeResource", "computeResource"),
    ("ds", "datastore"),
    ("net", "network"),
    ("dvs", "dvs"),
    ("datacenter", "datacenter"),
)


# -- what an event is about -----------------------------------------------------------------


def event_entities(event: Event) -> list[MoRef]:
    """The entities an event names in its arguments (most specific first)."""
    out: list[MoRef] = []
    for field, inner in _ARGS:
        arg = getattr(event, field, None)
        ref = getattr(arg, inner, None) if arg is not None else None
        if isinstance(ref, MoRef):
            out.append(ref)
    arg = getattr(event, "entity", None)  # GeneralUserEvent
    ref = getattr(arg, "entity", None) if arg is not None else None
    if isinstance(ref, MoRef):
        out.append(ref)
    obj = getattr(event, "managedObject", None)  # ExtendedEvent
    if isinstance(obj, MoRef):
        out.append(obj)
    object_id, object_type = getattr(event, "objectId", None), getattr(event, "objectType", None)
    if object_id and object_type:  # EventEx
        out.append(MoRef(str(object_type).removeprefix("vim."), str(object_id)))
    return out


def category(event_type: str) -> str:
    """The category vCenter gives an event type: info, warning, error or user."""
    if event_type in ("GeneralUserEvent", "UserLogoutSessionEvent") or event_type.startswith(
        "User"
    ):
        return "user" if event_type == "GeneralUserEvent" else "info"
    if event_type.endswith(("FailedEvent", "ErrorEvent")) or event_type in (
        "GeneralErrorEvent",
        "BadUsernameSessionEvent",
    ):
        return "error"
    if "Warning" in event_type or event_type.endswith("LostEvent"):
        return "warning"
    return "info"


def _event_category(event: Event) -> str:
    severity = getattr(event, "severity", None)  # EventEx carries its own
    return str(severity) if severity else category(event._wsdl_name)


def _type_ids(event: Event) -> set[str]:
    name = event._wsdl_name
    ids = {name, f"vim.event.{name}"}
    type_id = getattr(event, "eventTypeId", None)
    if type_id:
        ids.add(str(type_id))
    return ids


class EventFilter:
    """A checked ``EventFilterSpec``: ``match(ctx, event)``."""

    def __init__(self, ctx: Context, spec: EventFilterSpec) -> None:
        self.spec = spec
        by_entity = spec.entity
        if by_entity is not None and not ctx.visible(by_entity.entity):
            raise faults.not_found(by_entity.entity)
        if spec.maxCount is not None and not 0 <= spec.maxCount <= QUERY_LIMIT:
            raise faults.invalid_argument("maxCount", f"must be 0..{QUERY_LIMIT}")
        self.root = ctx.backend.content.rootFolder

    def match(self, ctx: Context, event: Event) -> bool:
        spec = self.spec
        if spec.eventChainId is not None and event.chainId != spec.eventChainId:
            return False
        if spec.type and not any(schema.is_subtype(event._wsdl_name, t) for t in spec.type):
            return False
        if spec.eventTypeId and not _type_ids(event) & set(spec.eventTypeId):
            return False
        if spec.category and _event_category(event) not in spec.category:
            return False
        t = spec.time
        if t is not None:
            if t.beginTime is not None and event.createdTime < t.beginTime:
                return False
            if t.endTime is not None and event.createdTime > t.endTime:
                return False
        u = spec.userName
        if u is not None:
            user = event.userName or ""
            if not ((u.systemUser and not user) or user in (u.userList or ())):
                return False
        e = spec.entity
        if e is not None:
            refs = event_entities(event)
            return entity_matches(ctx, refs, e.entity, str(e.recursion), self.root)
        return True


class EventCollector:
    """One EventHistoryCollector: its filter, its matching events, its scroll position."""

    def __init__(self, ctx: Context, ref: MoRef, flt: EventFilter) -> None:
        self.ref = ref
        self.filter = flt
        self.scroll: Scroll[Event] = Scroll()
        self.items: list[Event] = [e for e in ctx.backend.events.events if flt.match(ctx, e)]

    def offer(self, ctx: Context, event: Event) -> bool:
        if self.ref not in ctx.registry:
            return False
        if self.filter.match(ctx, event):
            self.items.append(event)
            if len(self.items) > KEEP:
                del self.items[: len(self.items) - KEEP]
                self.scroll.pos = max(self.scroll.pos - 1, 0)
            self.publish(ctx)
        return True

    def publish(self, ctx: Context) -> None:
        page = self.scroll.latest(self.items)
        ctx.registry.update(self.ref, {"latestPage": page or None})


def _collector(ctx: Context, ref: MoRef) -> EventCollector:
    c = ctx.backend.events.sinks.get(ref)
    if not isinstance(c, EventCollector):
        raise faults.not_found(ref)
    return c


def _strip(spec: EventFilterSpec, events: list[Event]) -> list[Event]:
    if spec.disableFullMessage:
        return [clone(e, fullFormattedMessage=None) for e in events]
    return events


# -- EventManager ----------------------------------------------------------------------------


@handler("EventManager", "QueryEvents")
def query_events(ctx: Context, this: MoRef, *, filter: EventFilterSpec) -> list[Event]:  # noqa: A002
    ctx.require_session()
    flt = EventFilter(ctx, filter)
    limit = filter.maxCount or QUERY_LIMIT
    out: list[Event] = []
    for event in reversed(ctx.backend.events.events):
        if flt.match(ctx, event):
            out.append(event)
            if len(out) >= limit:
                break
    return _strip(filter, out)


@handler("EventManager", "CreateCollectorForEvents")
def create_collector(ctx: Context, this: MoRef, *, filter: EventFilterSpec) -> MoRef:  # noqa: A002
    ctx.require_session()
    if owned_count(ctx, "EventHistoryCollector") >= MAX_COLLECTORS:
        raise faults.invalid_state(
            f"Too many event collectors: a session may have at most {MAX_COLLECTORS}."
        )
    flt = EventFilter(ctx, filter)
    ref = ctx.add_owned("EventHistoryCollector", {"filter": filter})
    c = EventCollector(ctx, ref, flt)
    ctx.backend.events.sinks[ref] = c
    c.publish(ctx)
    return ref


@handler("EventManager", "PostEvent")
def post_event(
    ctx: Context,
    this: MoRef,
    *,
    eventToPost: Event,
    taskInfo: TaskInfo | None = None,
) -> None:
    s = ctx.require_session()
    if eventToPost._wsdl_name == "Event":
        from spherekit.schema.vim25.data import InvalidEvent

        raise faults.with_msg(
            InvalidEvent(), "An event of the abstract type Event cannot be posted."
        )
    key = ctx.backend.events.next_key()
    chain = taskInfo.eventChainId if taskInfo is not None else key
    message = eventToPost.fullFormattedMessage
    text = getattr(eventToPost, "message", None)  # GeneralEvent's
    if not message and text:
        message = str(text)
    event = clone(
        eventToPost,
        key=key,
        chainId=chain,
        createdTime=datetime.now(UTC),
        userName=s.user,
        fullFormattedMessage=message,
    )
    post(ctx, event)


@handler("EventManager", "LogUserEvent")
def log_user_event(ctx: Context, this: MoRef, *, entity: MoRef, msg: str) -> None:
    """A ``GeneralUserEvent`` about ``entity``: "User logged event: <msg>"."""
    from spherekit.schema.vim25.data import ManagedEntityEventArgument

    ctx.require_session()
    if not ctx.visible(entity):
        raise faults.not_found(entity)
    name = str(ctx.registry.prop(entity, "name") or entity.value)
    event = make_event(
        ctx,
        "GeneralUserEvent",
        about=entity,
        text=f"User logged event: {msg}",
        message=msg,
        entity=ManagedEntityEventArgument(name=name, entity=entity),
    )
    post(ctx, event)


@computed("EventManager", "description")
def _description(ctx: Context, ref: MoRef) -> EventDescription:
    return description()


@computed("EventManager", "maxCollector")
def _max_collector(ctx: Context, ref: MoRef) -> int:
    return MAX_COLLECTORS


@cache
def description() -> EventDescription:
    """``EventManager.description``: the categories and one entry per vim25 event type."""
    from spherekit.schema.vim25.data import (
        ElementDescription,
        EventDescription,
        EventDescriptionEventDetail,
    )

    cats = [
        ElementDescription(key=k, label=label, summary=label)
        for k, label in (
            ("info", "info"),
            ("warning", "warning"),
            ("error", "error"),
            ("user", "user"),
        )
    ]
    names = sorted(n for n in schema.DATA_BASES if n != "Event" and schema.is_subtype(n, "Event"))
    info = []
    for n in names:
        text = " ".join(_words(n.removesuffix("Event"))) or n
        info.append(
            EventDescriptionEventDetail(
                key=n,
                description=text,
                category=category(n),
                formatOnDatacenter=text,
                formatOnComputeResource=text,
                formatOnHost=text,
                formatOnVm=text,
                fullFormat=text,
            )
        )
    return EventDescription(category=cats, eventInfo=info)


def _words(name: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in name:
        if ch.isupper() and word and not word[-1].isupper():
            out.append(word)
            word = ""
        word += ch
    if word:
        out.append(word)
    return out


# -- EventHistoryCollector -------------------------------------------------------------------


@handler("EventHistoryCollector", "ReadNextEvents")
def read_next(ctx: Context, this: MoRef, *, maxCount: int) -> list[Event]:
    c = _collector(ctx, this)
    return _strip(c.filter.spec, c.scroll.read_next(c.items, maxCount))


@handler("EventHistoryCollector", "ReadPreviousEvents")
def read_previous(ctx: Context, this: MoRef, *, maxCount: int) -> list[Event]:
    c = _collector(ctx, this)
    return _strip(c.filter.spec, c.scroll.read_previous(c.items, maxCount))


@handler("EventHistoryCollector", "ResetCollector")
def reset(ctx: Context, this: MoRef) -> None:
    c = _collector(ctx, this)
    c.scroll.reset(c.items)


@handler("EventHistoryCollector", "RewindCollector")
def rewind(ctx: Context, this: MoRef) -> None:
    _collector(ctx, this).scroll.pos = 0


@handler("EventHistoryCollector", "SetCollectorPageSize")
def set_page_size(ctx: Context, this: MoRef, *, maxCount: int) -> None:
    c = _collector(ctx, this)
    c.scroll.set_page_size(maxCount)
    c.publish(ctx)


@handler("EventHistoryCollector", "DestroyCollector")
def destroy(ctx: Context, this: MoRef) -> None:
    ctx.backend.events.sinks.pop(this, None)
    ctx.remove_owned(this)
