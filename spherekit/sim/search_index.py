"""SearchIndex: finding entities by inventory path, by name below a parent, by UUID, IP, DNS name.

An inventory path is the names from the root folder down, separated by ``/``; a ``/`` in
a name is written ``%2f`` (and ``%`` as ``%25``), as vSphere escapes names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.inventory import children
from spherekit.sim.managed_entity import within
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
    return datacenter is None or within(ctx.registry, ref, datacenter)


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


def _vm_ips(ctx: Context, ref: MoRef) -> set[str]:
    guest = ctx.registry.prop(ref, "guest")
    ips = {guest.ipAddress} if guest is not None and guest.ipAddress else set()
    for nic in getattr(guest, "net", None) or ():
        ips.update(nic.ipAddress or ())
    return ips


def _host_names(ctx: Context, ref: MoRef) -> set[str]:
    """A host is known by its inventory name (vCenter names hosts by address or FQDN) and by
    the addresses of its VMkernel NICs, where the inventory models them."""
    reg = ctx.registry
    names = {reg.prop(ref, "name")}
    network = getattr(reg.prop(ref, "config"), "network", None)
    for vnic in getattr(network, "vnic", None) or ():
        ip = getattr(getattr(vnic.spec, "ip", None), "ipAddress", None)
        if ip:
            names.add(ip)
    dns = getattr(getattr(network, "dnsConfig", None), "hostName", None)
    if dns:
        names.add(dns)
    return {n for n in names if n}


def _find(ctx: Context, datacenter: MoRef | None, value: str, vm: bool, by: str) -> list[MoRef]:
    """VMs by guest address (``by="ip"``) or guest host name (``by="dns"``); hosts by name."""
    if datacenter is not None and not ctx.visible(datacenter):
        raise faults.not_found(datacenter)
    reg = ctx.registry
    wanted = value.strip().lower()
    out: list[MoRef] = []
    for ref in reg.of_type("VirtualMachine" if vm else "HostSystem"):
        if not _in(ctx, ref, datacenter):
            continue
        if vm and by == "ip":
            keys = _vm_ips(ctx, ref)
        elif vm:
            guest = reg.prop(ref, "guest")
            keys = {guest.hostName} if guest is not None and guest.hostName else set()
        else:
            keys = _host_names(ctx, ref)
        if wanted in {k.lower() for k in keys}:
            out.append(ref)
    return out


@handler("SearchIndex", "FindByIp")
def find_by_ip(
    ctx: Context, this: MoRef, *, datacenter: MoRef | None = None, ip: str, vmSearch: bool
) -> MoRef | None:
    found = _find(ctx, datacenter, ip, vmSearch, "ip")
    return found[0] if found else None


@handler("SearchIndex", "FindAllByIp")
def find_all_by_ip(
    ctx: Context, this: MoRef, *, datacenter: MoRef | None = None, ip: str, vmSearch: bool
) -> list[MoRef] | None:
    return _find(ctx, datacenter, ip, vmSearch, "ip") or None


@handler("SearchIndex", "FindByDnsName")
def find_by_dns_name(
    ctx: Context, this: MoRef, *, datacenter: MoRef | None = None, dnsName: str, vmSearch: bool
) -> MoRef | None:
    found = _find(ctx, datacenter, dnsName, vmSearch, "dns")
    return found[0] if found else None


@handler("SearchIndex", "FindAllByDnsName")
def find_all_by_dns_name(
    ctx: Context, this: MoRef, *, datacenter: MoRef | None = None, dnsName: str, vmSearch: bool
) -> list[MoRef] | None:
    return _find(ctx, datacenter, dnsName, vmSearch, "dns") or None
