"""Placement: where a node goes — datacenter, cluster or host, resource pool (or vApp),
datastore, folder, network.

Each part is optional (:class:`PlacementSpec`, names or morefs); what is not given is
chosen from one bulk read of the inventory (:func:`read_inventory`):

- datacenter: the image's;
- cluster / standalone host: the compute resource with the most free memory (connected
  hosts, not in maintenance), and within it the host with the most free memory;
- resource pool: the compute resource's root pool;
- datastore: the accessible datastore with the most free space mounted on that host;
- folder: the datacenter's VM folder (groups put their own folder inside it);
- network: the image's (its NICs are left as they are).

The choice is returned as a :class:`Placement`, with names, and which parts were chosen
rather than given. A target that does not exist (or does not fit the rest, e.g. a datastore
the host cannot see) raises :class:`PlacementError` naming it and the candidates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit import vim
from spherekit.errors import UsageError
from spherekit.property import check_path, retrieve
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "Inventory",
    "Placement",
    "PlacementError",
    "PlacementSpec",
    "Target",
    "read_inventory",
    "read_objects",
    "read_view",
    "resolve",
]

Target = str | MoRef | ManagedObject | None
Row = tuple[MoRef, dict[str, Any]]

_PATHS: dict[str, list[str]] = {
    "Datacenter": ["name", "parent", "vmFolder"],
    "Folder": ["name", "parent", "childType"],
    "ComputeResource": ["name", "parent", "host", "resourcePool"],
    "HostSystem": [
        "name", "parent", "datastore", "network", "summary.hardware.memorySize",
        "summary.quickStats.overallMemoryUsage", "runtime.connectionState",
        "runtime.inMaintenanceMode",
    ],
    "ResourcePool": ["name", "parent", "owner"],
    "Datastore": ["name", "parent", "summary.freeSpace", "summary.accessible"],
    "Network": ["name", "parent"],
}  # fmt: skip


class PlacementError(UsageError):
    """A placement target that does not exist or does not fit the rest of the placement."""


@dataclass(frozen=True)
class PlacementSpec:
    """What the caller asks for; each part a name, a moref value, a MoRef or None."""

    datacenter: Target = None
    cluster: Target = None
    host: Target = None
    pool: Target = None
    datastore: Target = None
    folder: Target = None
    network: Target = None


@dataclass(frozen=True)
class Placement:
    """Where nodes go, resolved. ``folder`` is the folder the nodes are created in."""

    datacenter: MoRef
    compute: MoRef
    host: MoRef
    pool: MoRef
    datastore: MoRef
    folder: MoRef
    network: MoRef | None
    names: Mapping[str, str] = field(default_factory=dict)
    #: the parts chosen automatically (not given by the caller)
    chosen: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = []
        for role in ("datacenter", "compute", "host", "pool", "datastore", "folder", "network"):
            ref = getattr(self, role)
            if ref is not None:
                mark = "*" if role in self.chosen else ""
                parts.append(f"{role}={self.names.get(role, ref.value)}{mark}")
        return " ".join(parts) + " (*: chosen)"


# -- bulk reads -----------------------------------------------------------------------------


def read_view(
    session: Session, root: MoRef, paths: Mapping[str, Sequence[str]], *, recursive: bool = True
) -> list[Row]:
    """One ContainerView over several types and ONE RetrievePropertiesEx (plus pages)."""
    for mtype, ps in paths.items():
        for p in ps:
            check_path(mtype, p)
    content = session.content
    if content.viewManager is None:
        raise UsageError("this endpoint has no ViewManager, so bulk reads are not possible")
    view = session.call(
        content.viewManager, "CreateContainerView", container=root, type=list(paths),
        recursive=recursive,
    )  # fmt: skip
    try:
        spec = vim.PropertyFilterSpec(
            propSet=[vim.PropertySpec(type=t, pathSet=list(p), all=False)
                     for t, p in paths.items()],
            objectSet=[vim.ObjectSpec(obj=view, skip=True, selectSet=[
                vim.TraversalSpec(name="view", type=view.type, path="view", skip=False)])],
        )  # fmt: skip
        return retrieve(session, spec)
    finally:
        session.call(view, "DestroyView")


def read_objects(
    session: Session, mtype: str, refs: Sequence[MoRef], paths: Sequence[str]
) -> dict[MoRef, dict[str, Any]]:
    """``paths`` of the given objects in one RetrievePropertiesEx; objects gone are left out."""
    if not refs:
        return {}
    for p in paths:
        check_path(mtype, p)
    spec = vim.PropertyFilterSpec(
        propSet=[vim.PropertySpec(type=mtype, pathSet=list(paths), all=False)],
        objectSet=[vim.ObjectSpec(obj=r, skip=False) for r in refs],
        reportMissingObjectsInResults=True,
    )
    return dict(retrieve(session, spec, ignore_missing=True))


@dataclass
class Inventory:
    """Everything placement needs, from one read."""

    objects: dict[MoRef, dict[str, Any]]

    def of(self, *types: str) -> list[MoRef]:
        return [r for r in self.objects if _kind(r.type) in types]

    def name(self, ref: MoRef) -> str:
        return str(self.objects.get(ref, {}).get("name", ref.value))

    def get(self, ref: MoRef, path: str, default: Any = None) -> Any:
        return self.objects.get(ref, {}).get(path, default)

    def datacenter_of(self, ref: MoRef | None) -> MoRef | None:
        seen = 0
        while ref is not None and seen < 64:
            if ref.type == "Datacenter":
                return ref
            ref = self.get(ref, "parent")
            seen += 1
        return None


def _kind(mtype: str) -> str:
    return {
        "ClusterComputeResource": "ComputeResource", "VirtualApp": "ResourcePool",
        "DistributedVirtualPortgroup": "Network", "OpaqueNetwork": "Network",
    }.get(mtype, mtype)  # fmt: skip


def read_inventory(session: Session) -> Inventory:
    """Datacenters, folders, compute resources, hosts, pools, datastores and networks."""
    return Inventory(dict(read_view(session, session.content.rootFolder, _PATHS)))


# -- matching -------------------------------------------------------------------------------


def _match(inv: Inventory, role: str, target: Target, candidates: Iterable[MoRef]) -> MoRef:
    cands = list(candidates)
    ref = target.ref if isinstance(target, ManagedObject) else target
    if isinstance(ref, MoRef):
        if ref in cands:
            return ref
        found: list[MoRef] = []
        label = str(ref)
    else:
        assert isinstance(ref, str)
        found = [c for c in cands if c.value == ref] or [c for c in cands if inv.name(c) == ref]
        label = repr(ref)
    if len(found) == 1:
        return found[0]
    names = sorted({inv.name(c) for c in cands})
    if len(found) > 1:
        listed = ", ".join(f"{c.value}" for c in found)
        raise PlacementError(f"{role} {label} is ambiguous ({listed}); pass its moref instead")
    close = difflib.get_close_matches(str(ref if isinstance(ref, str) else ref.value), names, 3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "") or "none"
    raise PlacementError(f"unknown {role} {label}{hint} (candidates here: {shown})")


def _free_memory(inv: Inventory, host: MoRef) -> int:
    size = int(inv.get(host, "summary.hardware.memorySize") or 0)
    used = int(inv.get(host, "summary.quickStats.overallMemoryUsage") or 0) * 1024 * 1024
    return size - used


def _usable(inv: Inventory, host: MoRef) -> bool:
    state = inv.get(host, "runtime.connectionState")
    return str(getattr(state, "value", state) or "connected") == "connected" and not inv.get(
        host, "runtime.inMaintenanceMode"
    )


def resolve(
    inv: Inventory,
    spec: PlacementSpec | None,
    *,
    image_parent: MoRef | None = None,
    image_networks: Sequence[MoRef] = (),
) -> Placement:
    """Resolve ``spec`` against ``inv``; ``folder`` is the parent folder for groups."""
    spec = spec or PlacementSpec()
    chosen: list[str] = []
    dcs = inv.of("Datacenter")
    if spec.datacenter is not None:
        dc = _match(inv, "datacenter", spec.datacenter, dcs)
    else:
        image_dc = inv.datacenter_of(image_parent)
        if image_dc is None and not dcs:
            raise PlacementError("the inventory has no datacenter")
        dc = image_dc or dcs[0]
        chosen.append("datacenter")

    def here(*types: str) -> list[MoRef]:
        return [r for r in inv.of(*types) if inv.datacenter_of(r) == dc]

    computes = here("ComputeResource")
    host = _match(inv, "host", spec.host, here("HostSystem")) if spec.host is not None else None
    compute = _match(inv, "cluster", spec.cluster, computes) if spec.cluster is not None else None
    pool = None
    if spec.pool is not None:
        pool_cands = [p for p in here("ResourcePool") if compute is None
                      or inv.get(p, "owner") == compute]  # fmt: skip
        pool = _match(inv, "resource pool", spec.pool, pool_cands)
    for derived in (inv.get(host, "parent") if host else None,
                    inv.get(pool, "owner") if pool else None):  # fmt: skip
        if derived is None:
            continue
        if compute is not None and derived != compute:
            raise PlacementError(
                f"{inv.name(derived)} is not in cluster {inv.name(compute)}: pick a host or "
                "pool of that cluster, or leave the cluster out"
            )
        compute = derived
    if compute is None:
        scored = []
        for c in computes:
            hosts = [h for h in inv.get(c, "host", []) if _usable(inv, h)]
            if hosts:
                scored.append((sum(_free_memory(inv, h) for h in hosts), c))
        if not scored:
            raise PlacementError(f"datacenter {inv.name(dc)} has no connected host to run nodes")
        compute = max(scored, key=lambda s: s[0])[1]
        chosen.append("compute")
    if host is None:
        hosts = [h for h in inv.get(compute, "host", []) if _usable(inv, h)]
        if not hosts:
            raise PlacementError(f"{inv.name(compute)} has no connected host outside maintenance")
        host = max(hosts, key=lambda h: _free_memory(inv, h))
        chosen.append("host")
    if pool is None:
        pool = inv.get(compute, "resourcePool")
        chosen.append("pool")
    assert pool is not None
    mounted = list(inv.get(host, "datastore", []))
    if spec.datastore is not None:
        ds = _match(inv, "datastore", spec.datastore, here("Datastore") or mounted)
        if ds not in mounted:
            raise PlacementError(
                f"datastore {inv.name(ds)} is not mounted on host {inv.name(host)} (it sees: "
                f"{', '.join(inv.name(d) for d in mounted) or 'none'})"
            )
    else:
        ok = [d for d in mounted if inv.get(d, "summary.accessible", True) is not False]
        if not ok:
            raise PlacementError(f"host {inv.name(host)} has no accessible datastore")
        ds = max(ok, key=lambda d: int(inv.get(d, "summary.freeSpace") or 0))
        chosen.append("datastore")
    vm_folders = [f for f in here("Folder") if "VirtualMachine" in (inv.get(f, "childType") or [])]
    if spec.folder is not None:
        folder = _match(inv, "folder", spec.folder, vm_folders)
    else:
        folder = inv.get(dc, "vmFolder")
        chosen.append("folder")
    network: MoRef | None
    host_nets = list(inv.get(host, "network", []))
    if spec.network is not None:
        network = _match(inv, "network", spec.network, here("Network"))
        if network not in host_nets:
            raise PlacementError(
                f"network {inv.name(network)} is not available on host {inv.name(host)}"
            )
    else:
        network = image_networks[0] if image_networks else None
        chosen.append("network")
    refs = {"datacenter": dc, "compute": compute, "host": host, "pool": pool, "datastore": ds,
            "folder": folder, "network": network}  # fmt: skip
    return Placement(
        datacenter=dc, compute=compute, host=host, pool=pool, datastore=ds, folder=folder,
        network=network, names={k: inv.name(v) for k, v in refs.items() if v is not None},
        chosen=tuple(chosen),
    )  # fmt: skip
