"""PropertyCollector and PropertyFilter: retrieval with paging, filters, and update waits.

Each session has its own instance of the ServiceContent's ``propertyCollector`` (as in
vCenter: the same moref, per-session filters), plus any it creates. ``WaitForUpdatesEx``
blocks on the registry's condition variable until a mutation produces an update, the
``maxWaitSeconds`` pass, the wait is cancelled, or the simulator shuts down.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.collector import Plan, read_path
from spherekit.sim.encoding import Content, FetchReply, RetrieveReply, UpdateReply
from spherekit.sim.methods import computed, handler
from spherekit.sim.paths import path_type
from spherekit.sim.updates import Collector, Filter

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        PropertyFilterSpec,
        RetrieveOptions,
        WaitOptions,
    )
    from spherekit.sim.backend import Context

__all__ = ["DEFAULT_COLLECTOR"]

DEFAULT_COLLECTOR = MoRef("PropertyCollector", "propertyCollector")


def collector_of(ctx: Context, ref: MoRef) -> Collector:
    """The caller's collector ``ref`` (its instance of the default one is made on first use)."""
    s = ctx.require_session()
    c = s.collectors.get(ref)
    if c is None:
        if ref != DEFAULT_COLLECTOR:
            raise faults.not_found(ref)
        c = s.collectors[ref] = Collector(ref)
    return c


# -- retrieval ---------------------------------------------------------------------------


def _retrieve(ctx: Context, specs: list[PropertyFilterSpec]) -> list[Content]:
    plans = [Plan(spec) for spec in specs]
    found: dict[MoRef, Content] = {}
    for plan in plans:
        selected, _ = plan.select(ctx, strict=True)
        for ref in selected:
            content = plan.read(ctx, ref)
            if content is None:
                continue
            have = found.get(ref)
            if have is None:
                found[ref] = content
            else:
                paths = {p[0] for p in have[1]}
                have[1].extend(p for p in content[1] if p[0] not in paths)
                have[2].extend(content[2])
    return list(found.values())


def _page(ctx: Context, contents: list[Content], size: int | None) -> RetrieveReply:
    if size is None or len(contents) <= size:
        return RetrieveReply(contents, None)
    s = ctx.require_session()
    token = secrets.token_hex(8)
    s.retrievals[token] = (contents[size:], size)
    return RetrieveReply(contents[:size], token)


@handler("PropertyCollector", "RetrievePropertiesEx")
def retrieve_properties_ex(
    ctx: Context, this: MoRef, *, specSet: list[PropertyFilterSpec], options: RetrieveOptions
) -> RetrieveReply:
    collector_of(ctx, this)
    size = options.maxObjects
    if size is not None and size <= 0:
        raise faults.invalid_argument("maxObjects", "must be positive")
    return _page(ctx, _retrieve(ctx, specSet), size)


@handler("PropertyCollector", "ContinueRetrievePropertiesEx")
def continue_retrieve(ctx: Context, this: MoRef, *, token: str) -> RetrieveReply:
    collector_of(ctx, this)
    s = ctx.require_session()
    pending = s.retrievals.pop(token, None)
    if pending is None:
        raise faults.invalid_argument("token", "unknown or finished continuation token")
    rest, size = pending
    return _page(ctx, rest, size)


@handler("PropertyCollector", "CancelRetrievePropertiesEx")
def cancel_retrieve(ctx: Context, this: MoRef, *, token: str) -> None:
    collector_of(ctx, this)
    if ctx.require_session().retrievals.pop(token, None) is None:
        raise faults.invalid_argument("token", "unknown or finished continuation token")


@handler("PropertyCollector", "RetrieveProperties")
def retrieve_properties(
    ctx: Context, this: MoRef, *, specSet: list[PropertyFilterSpec]
) -> RetrieveReply:
    collector_of(ctx, this)
    return RetrieveReply(_retrieve(ctx, specSet), None, legacy=True)


@handler("ManagedObject", "Fetch")
def fetch(ctx: Context, this: MoRef, *, prop: str) -> FetchReply:
    """pyVmomi's internal accessor (``vm.runtime``): one property of one object."""
    found = path_type(this.type, prop)
    if found is None:
        raise faults.invalid_property(prop)
    name, _, rest = prop.partition(".")
    value = read_path(ctx, this, name, tuple(rest.split(".")) if rest else ())
    return FetchReply(found[0], found[1], value)


# -- collectors and filters ----------------------------------------------------------------


@handler("PropertyCollector", "CreatePropertyCollector")
def create_property_collector(ctx: Context, this: MoRef) -> MoRef:
    collector_of(ctx, this)
    ref = ctx.add_owned("PropertyCollector", {})
    ctx.require_session().collectors[ref] = Collector(ref)
    return ref


@handler("PropertyCollector", "DestroyPropertyCollector")
def destroy_property_collector(ctx: Context, this: MoRef) -> None:
    c = collector_of(ctx, this)
    if this == DEFAULT_COLLECTOR:
        raise faults.invalid_request("the session's default PropertyCollector cannot be destroyed")
    for f in list(c.filters):
        ctx.remove_owned(f)
    c.close()
    del ctx.require_session().collectors[this]
    ctx.remove_owned(this)
    ctx.registry.touch()


@handler("PropertyCollector", "CreateFilter")
def create_filter(
    ctx: Context, this: MoRef, *, spec: PropertyFilterSpec, partialUpdates: bool
) -> MoRef:
    c = collector_of(ctx, this)
    plan = Plan(spec)
    plan.select(ctx, strict=True)  # a missing object is a fault now, as in vCenter
    ref = ctx.add_owned("PropertyFilter", {"spec": spec, "partialUpdates": partialUpdates})
    c.filters[ref] = Filter(ref, plan, partialUpdates)
    return ref


@handler("PropertyFilter", "DestroyPropertyFilter")
def destroy_property_filter(ctx: Context, this: MoRef) -> None:
    s = ctx.require_session()
    for c in s.collectors.values():
        c.filters.pop(this, None)
    ctx.remove_owned(this)


@computed("PropertyCollector", "filter")
def _filters(ctx: Context, ref: MoRef) -> list[MoRef] | None:
    if ctx.session is None:
        return None
    c = ctx.session.collectors.get(ref)
    return list(c.filters) if c is not None and c.filters else None


# -- waiting for updates -----------------------------------------------------------------


def _wait(
    ctx: Context, c: Collector, version: str | None, max_wait: float | None, budget: int | None
) -> UpdateReply | None:
    from spherekit.schema.vim25.data import InvalidCollectorVersion, RequestCanceled

    if version:
        if version != str(c.version):
            raise faults.with_msg(
                InvalidCollectorVersion(), f"version {version!r} is not the collector's current one"
            )
    else:
        c.reset()
    if budget is not None and budget <= 0:
        raise faults.invalid_argument("maxObjectUpdates", "must be positive")
    deadline = None if max_wait is None else time.monotonic() + max_wait
    reg = ctx.registry
    backend = ctx.backend
    c.waiting += 1
    try:
        while True:
            if c.closed:
                raise faults.not_found(c.ref)
            if backend.closing:
                return None
            filters, truncated = c.updates(ctx, budget)
            if filters:
                c.version += 1
                return UpdateReply(str(c.version), filters, truncated)
            if c.cancelled:
                raise faults.with_msg(RequestCanceled(), "The request was canceled")
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return None
            reg.changed.wait(timeout)
    finally:
        c.waiting -= 1
        if c.waiting == 0:
            c.cancelled = False


@handler("PropertyCollector", "WaitForUpdatesEx")
def wait_for_updates_ex(
    ctx: Context, this: MoRef, *, version: str | None = None, options: WaitOptions | None = None
) -> UpdateReply | None:
    c = collector_of(ctx, this)
    max_wait = options.maxWaitSeconds if options is not None else None
    if max_wait is not None and max_wait < 0:
        raise faults.invalid_argument("maxWaitSeconds", "must not be negative")
    budget = options.maxObjectUpdates if options is not None else None
    return _wait(ctx, c, version, max_wait, budget)


@handler("PropertyCollector", "WaitForUpdates")
def wait_for_updates(ctx: Context, this: MoRef, *, version: str | None = None) -> Any:
    """The legacy form (pyVmomi's WaitForTask): blocks until there is an update."""
    return _wait(ctx, collector_of(ctx, this), version, None, None)


@handler("PropertyCollector", "CheckForUpdates")
def check_for_updates(ctx: Context, this: MoRef, *, version: str | None = None) -> Any:
    return _wait(ctx, collector_of(ctx, this), version, 0, None)


@handler("PropertyCollector", "CancelWaitForUpdates")
def cancel_wait_for_updates(ctx: Context, this: MoRef) -> None:
    c = collector_of(ctx, this)
    if c.waiting:
        c.cancelled = True
        ctx.registry.touch()
