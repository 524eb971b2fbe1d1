"""SearchIndex: finding entities by inventory path, by name below a parent, by UUID.

An inventory path is the names from the root folder down, separated by ``/``; a ``/`` in
a name is written ``%2f`` (and ``%`` as ``%25``), as vSphere escapes names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.inventory import children
from spherekit.sim.methods import handler

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["find_child"]


def _unescape(name: str) -> str:
    return name.replace("%2f", "/").replace("%2F", "/").replace("%25", "%")


def find_child(ctx: Context, parent: MoRef, name: str) -> MoRef | None:
    """The direct child of ``parent`` named ``name``."""
    reg = ctx.registry
    obj = reg.get(parent)
    if obj is None:
        return None
    for ref in children(obj.props, parent.type, host_vms=False):
        child = reg.get(ref)
        if child is not None and child.props.get("name") == name:
            return ref
    return None


@handler("SearchIndex", "FindByInventoryPath")
def find_by_inventory_path(ctx: Context, this: MoRef, *, inventoryPath: str) -> MoRef | None:
    ref: MoRef | None = ctx.backend.content.rootFolder
    for part in inventoryPath.split("/"):
        if not part:
            continue
        assert ref is not None
        # names are stored escaped ("a%2fb"), as vCenter stores them; also accept "a/b"
        ref = find_child(ctx, ref, part) or find_child(ctx, ref, _unescape(part))
        if ref is None:
            return None
    return ref


@handler("SearchIndex", "FindChild")
def find_child_handler(ctx: Context, this: MoRef, *, entity: MoRef, name: str) -> MoRef | None:
    if not ctx.visible(entity):
        raise faults.not_found(entity)
    return find_child(ctx, entity, name)


def _by_uuid(
    ctx: Context, datacenter: MoRef | None, uuid: str, vm: bool, instance: bool
) -> list[MoRef]:
    if datacenter is not None and not ctx.visible(datacenter):
        raise faults.not_found(datacenter)
    reg = ctx.registry
    wanted = uuid.lower()
    out: list[MoRef] = []
    if vm:
        for ref in reg.of_type("VirtualMachine"):
            config = reg.prop(ref, "config")
            value = None if config is None else (config.instanceUuid if instance else config.uuid)
            if value is not None and value.lower() == wanted and _in(ctx, ref, datacenter):
                out.append(ref)
    else:
        for ref in reg.of_type("HostSystem"):
            hw = getattr(reg.prop(ref, "summary"), "hardware", None)
            value = getattr(hw, "uuid", None)
            if value is not None and value.lower() == wanted and _in(ctx, ref, datacenter):
                out.append(ref)
    return out


def _in(ctx: Context, ref: MoRef, datacenter: MoRef | None) -> bool:
    if datacenter is None:
        return True
    reg = ctx.registry
    cur: MoRef | None = ref
    while cur is not None and cur in reg:
        if cur == datacenter:
            return True
        cur = reg.prop(cur, "parent")
    return False


@handler("SearchIndex", "FindByUuid")
def find_by_uuid(
    ctx: Context,
    this: MoRef,
    *,
    datacenter: MoRef | None = None,
    uuid: str,
    vmSearch: bool,
    instanceUuid: bool | None = None,
) -> MoRef | None:
    found = _by_uuid(ctx, datacenter, uuid, vmSearch, bool(instanceUuid) and vmSearch)
    return found[0] if found else None


@handler("SearchIndex", "FindAllByUuid")
def find_all_by_uuid(
    ctx: Context,
    this: MoRef,
    *,
    datacenter: MoRef | None = None,
    uuid: str,
    vmSearch: bool,
    instanceUuid: bool | None = None,
) -> list[MoRef] | None:
    found = _by_uuid(ctx, datacenter, uuid, vmSearch, bool(instanceUuid) and vmSearch)
    return found or None
