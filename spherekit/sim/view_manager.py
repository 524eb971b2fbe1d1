"""ViewManager, ContainerView and ListView: views that stay live as objects come and go.

A container view lists the entities below its container (recursively or not) whose type
is one of ``type`` (or derives from it; all entities when ``type`` is empty). After every
change to the inventory's structure (an entity added or removed, a ``childEntity``,
``vm``, ``host``... list changed), each container view's ``view`` property is recomputed
and, if different, updated through the registry, so filters on views see it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.inventory import CONTAINER_TYPES, STRUCTURE, descendants
from spherekit.sim.methods import computed, handler
from spherekit.sim.registry import LEAVE, MODIFY, Registry

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["contents", "install"]

VIEW_MANAGER = MoRef("ViewManager", "ViewManager")
_VIEW_TYPES = frozenset({"ContainerView", "ListView", "InventoryView"})


def contents(reg: Registry, container: MoRef, types: list[str], recursive: bool) -> list[MoRef]:
    """What a container view on ``container`` shows."""

    def wanted(t: str) -> bool:
        return not types or any(t == w or schema.is_subtype(t, w) for w in types)

    return [r for r in descendants(reg, container, recursive=recursive) if wanted(r.type)]


def install(backend: Backend) -> None:
    """Keep the backend's container views live."""
    reg = backend.registry

    def on_change(kind: str, ref: MoRef, names: frozenset[str]) -> None:
        if kind == MODIFY:
            if not names & STRUCTURE:
                return
        elif not schema.is_subtype(ref.type, "ManagedEntity"):
            return  # a task, view, collector or filter came or went
        for view in reg.of_type("ContainerView"):
            p = reg.props(view)
            now = contents(reg, p["container"], p.get("type") or [], p["recursive"])
            if now != (p.get("view") or []):
                reg.update(view, {"view": now or None})
        if kind == LEAVE:
            for view in reg.of_type("ListView"):
                reg.discard(view, "view", ref)

    reg.listeners.append(on_change)


@handler("ViewManager", "CreateContainerView")
def create_container_view(
    ctx: Context,
    this: MoRef,
    *,
    container: MoRef,
    type: list[str] | None = None,  # noqa: A002 - the WSDL's name
    recursive: bool,
) -> MoRef:
    if not ctx.visible(container):
        raise faults.not_found(container)
    if container.type not in CONTAINER_TYPES:
        raise faults.invalid_argument("container", f"a {container.type} cannot contain a view")
    types = list(type or [])
    for t in types:
        if not schema.is_managed(t):
            raise faults.invalid_argument("type", f"{t!r} is not a managed-object type")
    view = contents(ctx.registry, container, types, recursive)
    props = {"container": container, "recursive": recursive, "type": types or None}
    if view:
        props["view"] = view
    return ctx.add_owned("ContainerView", props)


@handler("ViewManager", "CreateListView")
def create_list_view(ctx: Context, this: MoRef, *, obj: list[MoRef] | None = None) -> MoRef:
    refs = _checked(ctx, obj)
    return ctx.add_owned("ListView", {"view": refs} if refs else {})


def _checked(ctx: Context, refs: list[MoRef] | None) -> list[MoRef]:
    for r in refs or ():
        if not ctx.visible(r):
            raise faults.not_found(r)
    return list(dict.fromkeys(refs or ()))


@handler("ListView", "ModifyListView")
def modify_list_view(
    ctx: Context, this: MoRef, *, add: list[MoRef] | None = None, remove: list[MoRef] | None = None
) -> list[MoRef] | None:
    current = list(ctx.registry.prop(this, "view") or [])
    gone = set(remove or ())
    unresolved = [r for r in add or () if not ctx.visible(r)]
    added = [r for r in add or () if ctx.visible(r) and r not in current]
    new = [r for r in current if r not in gone] + added
    ctx.registry.update(this, {"view": new or None})
    return unresolved or None


@handler("ListView", "ResetListView")
def reset_list_view(
    ctx: Context, this: MoRef, *, obj: list[MoRef] | None = None
) -> list[MoRef] | None:
    unresolved = [r for r in obj or () if not ctx.visible(r)]
    refs = list(dict.fromkeys(r for r in obj or () if ctx.visible(r)))
    ctx.registry.update(this, {"view": refs or None})
    return unresolved or None


@handler("View", "DestroyView")
def destroy_view(ctx: Context, this: MoRef) -> None:
    ctx.remove_owned(this)


@computed("ViewManager", "viewList")
def _view_list(ctx: Context, ref: MoRef) -> list[MoRef] | None:
    if ctx.session is None:
        return None
    views = sorted(r for r in ctx.session.owned if r.type in _VIEW_TYPES)
    return views or None
