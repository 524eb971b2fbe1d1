"""ManagedEntity: names, Rename_Task and Destroy_Task for every entity type.

Entity names follow vCenter's rules: a non-empty string of less than 80 characters, in
which ``/``, ``\\`` and a ``%`` that does not start an escape sequence are stored escaped
(``%2f``, ``%5c``, ``%25``); siblings have distinct names (``DuplicateName``).

``Destroy_Task`` is one handler for all entity types; each type's rules (a powered-on VM
cannot be destroyed, a resource pool hands its children to its parent, ...) live in the
type's module, which registers them with :func:`destroyer`. A type without rules answers
``MethodNotFound``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.inventory import children
from spherekit.sim.methods import handler
from spherekit.sim.registry import Registry

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = [
    "MAX_NAME",
    "ancestor",
    "check_unique",
    "destroyer",
    "entity_name",
    "event_argument",
    "is_kind",
    "run_task",
    "sibling_named",
    "within",
]

#: an entity name must be shorter than this
MAX_NAME = 80

_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

#: (registry, chain id, entity) -> None; runs inside a Destroy task
Destroyer = Callable[["Context", MoRef, int], None]
_DESTROYERS: dict[str, Destroyer] = {}


def entity_name(name: str, entity: MoRef | None = None) -> str:
    """``name`` as vCenter stores it (escaped); InvalidName if it is empty or too long."""
    if not name or len(name) >= MAX_NAME or not name.isprintable():
        raise faults.invalid_name(name, entity)
    return _BARE_PERCENT.sub("%25", name).replace("/", "%2f").replace("\\", "%5c")


def is_kind(ref: MoRef, base: str) -> bool:
    return ref.type == base or schema.is_subtype(ref.type, base)


def sibling_named(reg: Registry, container: MoRef, name: str) -> MoRef | None:
    """The entity named ``name`` directly in ``container`` (a folder's children, a pool's
    child pools and vApps)."""
    obj = reg.get(container)
    if obj is None:
        return None
    if is_kind(container, "ResourcePool"):
        kids: list[MoRef] = list(obj.props.get("resourcePool") or [])
    else:
        kids = children(obj.props, container.type, host_vms=False)
    for ref in kids:
        child = reg.get(ref)
        if child is not None and child.props.get("name") == name:
            return ref
    return None


def check_unique(reg: Registry, container: MoRef, name: str, exclude: MoRef | None = None) -> None:
    """DuplicateName if ``container`` already holds an entity called ``name``."""
    found = sibling_named(reg, container, name)
    if found is not None and found != exclude:
        raise faults.duplicate_name(name, found)


def ancestor(reg: Registry, ref: MoRef | None, base: str) -> MoRef | None:
    """``ref`` or its nearest ancestor of type ``base`` (or a subtype)."""
    while ref is not None and ref in reg:
        if is_kind(ref, base):
            return ref
        parent: MoRef | None = reg.prop(ref, "parent")
        ref = parent
    return None


def within(reg: Registry, ref: MoRef | None, container: MoRef) -> bool:
    """``ref`` is ``container`` or lies below it (following ``parent``)."""
    while ref is not None and ref in reg:
        if ref == container:
            return True
        ref = reg.prop(ref, "parent")
    return False


def event_argument(reg: Registry, ref: MoRef | None, arg_type: str, field: str) -> Any:
    """An ``EntityEventArgument`` subtype (``FolderEventArgument``...) naming ``ref``."""
    if ref is None or ref not in reg:
        return None
    cls: Any = schema.data_class(arg_type)
    return cls(name=reg.prop(ref, "name"), **{field: ref})


def run_task(
    ctx: Context, entity: MoRef, method: str, description: str, work: Callable[[int], Any]
) -> MoRef:
    """Start a task whose ``work`` gets the task's event chain id (events of one operation
    share it, as vCenter's do)."""
    box: list[int] = []
    ref = ctx.backend.tasks.start(ctx, entity, method, description, lambda: work(box[0]))
    # the work runs under the registry lock, which the caller holds until it returns
    box.append(ctx.registry.prop(ref, "info").eventChainId)
    return ref


def destroyer(*kinds: str) -> Callable[[Destroyer], Destroyer]:
    """Register the Destroy_Task rules of entities of ``kinds`` (and their subtypes)."""

    def register(fn: Destroyer) -> Destroyer:
        for kind in kinds:
            _DESTROYERS[kind] = fn
        return fn

    return register


def find_destroyer(ref: MoRef) -> Destroyer | None:
    cur: str | None = ref.type
    while cur is not None:
        fn = _DESTROYERS.get(cur)
        if fn is not None:
            return fn
        cur = schema.MANAGED_BASES.get(cur)
    return None


def destroy(ctx: Context, ref: MoRef, chain: int) -> None:
    """Destroy ``ref`` by its type's rules (inside a task)."""
    if ref not in ctx.registry:
        raise faults.not_found(ref)
    fn = find_destroyer(ref)
    if fn is None:
        raise faults.not_supported(f"Destroying a {ref.type} is not implemented by spherekit.sim")
    fn(ctx, ref, chain)


@handler("ManagedEntity", "Destroy_Task")
def destroy_task(ctx: Context, this: MoRef) -> MoRef:
    if find_destroyer(this) is None:
        raise faults.method_not_found(this, "Destroy_Task")
    return run_task(
        ctx, this, "Destroy_Task", f"{this.type}.destroy", lambda chain: destroy(ctx, this, chain)
    )


#: named after something outside vCenter's control (a host's DNS name, a host network)
_NOT_RENAMABLE = frozenset({"HostSystem", "Network"})


def _rename(ctx: Context, this: MoRef, new_name: str, chain: int) -> None:
    reg = ctx.registry
    if this not in reg:
        raise faults.not_found(this)
    if this.type in _NOT_RENAMABLE:
        raise faults.not_supported(f"A {this.type} cannot be renamed.")
    name = entity_name(new_name, this)
    old = reg.prop(this, "name")
    if name == old:
        return
    parent = reg.prop(this, "parent")
    if parent is not None:
        check_unique(reg, parent, name, exclude=this)
    changes: dict[str, Any] = {"name": name}
    if this.type == "VirtualMachine":
        if reg.prop(this, "config") is not None:
            changes["config.name"] = name
        if getattr(reg.prop(this, "summary"), "config", None) is not None:
            changes["summary.config.name"] = name
    elif is_kind(this, "ResourcePool") and reg.prop(this, "summary") is not None:
        changes["summary.name"] = name
    elif this.type == "Datastore":
        for prop in ("summary", "info"):
            if reg.prop(this, prop) is not None:
                changes[f"{prop}.name"] = name
    reg.update(this, changes)
    dc = ancestor(reg, this, "Datacenter")
    dc_name = reg.prop(dc, "name") if dc is not None else ""
    if this.type == "VirtualMachine":
        emit(
            ctx,
            "VmRenamedEvent",
            entity=this,
            chain_id=chain,
            message=f"Renamed {old} from {old} to {name} in {dc_name}",
            template=bool(getattr(reg.prop(this, "config"), "template", False)),
            oldName=old,
            newName=name,
        )
    elif this.type == "Datacenter":
        emit(
            ctx,
            "DatacenterRenamedEvent",
            entity=this,
            chain_id=chain,
            message=f"Renamed datacenter from {old} to {name}",
            oldName=old,
            newName=name,
        )


@handler("ManagedEntity", "Rename_Task")
def rename_task(ctx: Context, this: MoRef, *, newName: str) -> MoRef:
    return run_task(
        ctx,
        this,
        "Rename_Task",
        f"{this.type}.rename",
        lambda chain: _rename(ctx, this, newName, chain),
    )
