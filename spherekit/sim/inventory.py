"""The inventory tree: which entities an entity contains, as views and lookups see it.

- a Folder contains its ``childEntity``;
- a Datacenter its four folders (``vm``, ``host``, ``datastore``, ``network``);
- a ComputeResource (or cluster) its hosts and root resource pool;
- a ResourcePool (or vApp) its child pools and VMs;
- for container views, a HostSystem also contains its VMs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim.registry import Registry

__all__ = ["CONTAINER_TYPES", "STRUCTURE", "children", "descendants"]

#: types a ContainerView may be created on
CONTAINER_TYPES = frozenset(
    {
        "Folder",
        "Datacenter",
        "ComputeResource",
        "ClusterComputeResource",
        "HostSystem",
        "ResourcePool",
        "VirtualApp",
        "StoragePod",
    }
)

#: properties whose change can change what an entity contains
STRUCTURE = frozenset(
    {
        "childEntity",
        "vmFolder",
        "hostFolder",
        "datastoreFolder",
        "networkFolder",
        "host",
        "resourcePool",
        "vm",
    }
)

_DC_FOLDERS = ("vmFolder", "hostFolder", "datastoreFolder", "networkFolder")


def _as_list(value: Any) -> list[MoRef]:
    if value is None:
        return []
    return [value] if isinstance(value, MoRef) else list(value)


def _kind(mtype: str) -> str:
    for base in ("Folder", "Datacenter", "ComputeResource", "ResourcePool", "HostSystem"):
        if mtype == base or schema.is_subtype(mtype, base):
            return base
    return ""


def children(props: Mapping[str, Any], mtype: str, *, host_vms: bool) -> list[MoRef]:
    """The entities directly contained in an entity of type ``mtype``."""
    kind = _kind(mtype)
    if kind == "Folder":
        return _as_list(props.get("childEntity"))
    if kind == "Datacenter":
        return [props[f] for f in _DC_FOLDERS if props.get(f) is not None]
    if kind == "ComputeResource":
        return _as_list(props.get("host")) + _as_list(props.get("resourcePool"))
    if kind == "ResourcePool":
        return _as_list(props.get("resourcePool")) + _as_list(props.get("vm"))
    if kind == "HostSystem" and host_vms:
        return _as_list(props.get("vm"))
    return []


def descendants(reg: Registry, root: MoRef, *, recursive: bool) -> Iterator[MoRef]:
    """Entities below ``root`` (each once, depth first, in inventory order)."""
    seen: set[MoRef] = {root}
    stack: list[Iterator[MoRef]] = [iter(_kids(reg, root))]
    while stack:
        ref = next(stack[-1], None)
        if ref is None:
            stack.pop()
            continue
        if ref in seen:
            continue
        seen.add(ref)
        yield ref
        if recursive:
            stack.append(iter(_kids(reg, ref)))


def _kids(reg: Registry, ref: MoRef) -> list[MoRef]:
    obj = reg.get(ref)
    if obj is None:
        return []
    return [r for r in children(obj.props, ref.type, host_vms=True) if r in reg]
