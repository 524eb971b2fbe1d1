"""Names to references for a VM document: datacenter, folder, compute, pool, datastore, networks.

Two bulk reads (the datacenters; then one container view over the chosen datacenter with
every folder, compute resource, host, pool, datastore, network and switch in it), then
pure lookups. Anything that does not resolve raises :class:`SpecError` naming what is
there instead -- before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit.compute.spec_doc import Placement, SpecError, VmDoc
from spherekit.property import fetch, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as v

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["Resolved", "resolve"]

_INVENTORY = [
    ("Folder", ["name", "parent"]),
    ("ComputeResource", ["name", "resourcePool"]),
    ("HostSystem", ["name", "parent"]),
    ("ResourcePool", ["name", "parent"]),
    ("Datastore", ["name"]),
    ("Network", ["name"]),
    ("DistributedVirtualPortgroup", ["key", "config.distributedVirtualSwitch"]),
    ("DistributedVirtualSwitch", ["uuid"]),
]


@dataclass
class Resolved:
    """Where the document's VM lives (or will), and how to reach its networks."""

    datacenter: MoRef
    folder: MoRef
    folder_path: str
    pool: MoRef | None = None
    host: MoRef | None = None
    datastore: str | None = None
    objs: dict[MoRef, dict[str, Any]] = field(default_factory=dict)

    def backing(self, network: str, where: str) -> v.VirtualDeviceBackingInfo:
        """The NIC backing for the network (or distributed portgroup) named ``network``."""
        found = [r for r, p in self.objs.items() if _is_network(r) and p.get("name") == network]
        if not found:
            known = sorted({str(p["name"]) for r, p in self.objs.items() if _is_network(r)})
            raise SpecError(
                f"{where}: no network named {network!r} in the datacenter "
                f"(networks: {', '.join(known) or 'none'})"
            )
        if len(found) > 1:
            raise SpecError(f"{where}: {len(found)} networks are named {network!r}; rename one")
        ref = found[0]
        if ref.type == "DistributedVirtualPortgroup":
            props = self.objs[ref]
            switch = self.objs.get(props.get("config.distributedVirtualSwitch"), {})  # type: ignore[arg-type]
            port = v.DistributedVirtualSwitchPortConnection(
                switchUuid=str(switch.get("uuid", "")), portgroupKey=props.get("key", ref.value)
            )
            return v.VirtualEthernetCardDistributedVirtualPortBackingInfo(port=port)
        if ref.type == "OpaqueNetwork":
            raise SpecError(f"{where}: {network!r} is an opaque (NSX) network, not supported yet")
        return v.VirtualEthernetCardNetworkBackingInfo(deviceName=network, network=ref)

    def has_datastore(self, name: str) -> bool:
        return any(r.type == "Datastore" and p.get("name") == name for r, p in self.objs.items())

    def datastore_ref(self, name: str, where: str) -> MoRef:
        """The datastore named ``name``; SpecError (listing those there) if none is."""
        found = [r for r, p in self.objs.items() if r.type == "Datastore" and p.get("name") == name]
        if len(found) != 1:
            problem = "no datastore" if not found else f"{len(found)} datastores"
            raise SpecError(
                f"{where}: {problem} named {name!r} (there: {', '.join(self.datastores())})"
            )
        return found[0]

    def datastores(self) -> list[str]:
        return sorted(str(p["name"]) for r, p in self.objs.items() if r.type == "Datastore")


def _is_network(ref: MoRef) -> bool:
    return ref.type in ("Network", "DistributedVirtualPortgroup", "OpaqueNetwork")


def _inventory(session: Session, root: MoRef) -> dict[MoRef, dict[str, Any]]:
    mgr = session.content.viewManager
    if mgr is None:
        raise SpecError("this endpoint has no ViewManager; VM documents need one")
    view = session.call(
        mgr, "CreateContainerView", container=root, type=[t for t, _ in _INVENTORY], recursive=True
    )
    try:
        traverse = v.TraversalSpec(name="view", type="ContainerView", path="view", skip=False)
        spec = v.PropertyFilterSpec(
            propSet=[v.PropertySpec(type=t, pathSet=p, all=False) for t, p in _INVENTORY],
            objectSet=[v.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
        )
        return dict(retrieve(session, spec))
    finally:
        session.call(view, "DestroyView")


def _walk(
    objs: dict[MoRef, dict[str, Any]], start: MoRef, path: str, types: tuple[str, ...], what: str
) -> MoRef:
    cur = start
    for part in [p.replace("%2f", "/") for p in path.strip("/").split("/") if p]:
        nxt = [
            r
            for r, p in objs.items()
            if r.type in types and p.get("parent") == cur and p.get("name") == part
        ]
        if not nxt:
            have = sorted(
                str(p.get("name"))
                for r, p in objs.items()
                if r.type in types and p.get("parent") == cur
            )
            raise SpecError(
                f"placement.{what}: no {part!r} in {path!r} (there: {', '.join(have) or 'nothing'})"
            )
        cur = nxt[0]
    return cur


def _named(
    objs: dict[MoRef, dict[str, Any]], types: tuple[str, ...], name: str, what: str
) -> MoRef:
    found = [r for r, p in objs.items() if r.type in types and p.get("name") == name]
    if len(found) != 1:
        have = sorted(str(p.get("name")) for r, p in objs.items() if r.type in types)
        problem = "no" if not found else f"{len(found)} of them named"
        raise SpecError(
            f"placement.{what}: {problem} {name!r} in the datacenter "
            f"(there: {', '.join(have) or 'nothing'})"
        )
    return found[0]


def resolve(session: Session, doc: VmDoc) -> Resolved:
    """Resolve the document's placement (reads only)."""
    pl: Placement = doc.placement
    dcs = fetch(session, "Datacenter", ["name", "vmFolder"])
    if pl.datacenter is None:
        if len(dcs) != 1:
            raise SpecError(
                "placement.datacenter is required: the server has "
                f"{len(dcs)} datacenters ({', '.join(sorted(p['name'] for _, p in dcs))})"
            )
        dc, dcp = dcs[0]
    else:
        match = [(r, p) for r, p in dcs if p["name"] == pl.datacenter]
        if not match:
            raise SpecError(
                f"placement.datacenter: no datacenter named {pl.datacenter!r} "
                f"(there: {', '.join(sorted(p['name'] for _, p in dcs))})"
            )
        dc, dcp = match[0]
    objs = _inventory(session, dc)
    folder_path = pl.folder or "/"
    folder = _walk(objs, dcp["vmFolder"], folder_path, ("Folder",), "folder")
    res = Resolved(dc, folder, folder_path, objs=objs)
    compute: MoRef | None = None
    if pl.cluster is not None:
        compute = _named(objs, ("ClusterComputeResource",), pl.cluster, "cluster")
    if pl.host is not None:
        hosts = [
            r
            for r, p in objs.items()
            if r.type == "HostSystem"
            and p.get("name") == pl.host
            and compute in (None, p.get("parent"))
        ]
        if not hosts:
            where = f"in cluster {pl.cluster!r}" if compute else "in the datacenter"
            raise SpecError(f"placement.host: no host named {pl.host!r} {where}")
        res.host = hosts[0]
        compute = compute or objs[res.host]["parent"]
    if compute is None:
        computes = [r for r in objs if r.type in ("ComputeResource", "ClusterComputeResource")]
        if len(computes) != 1:
            raise SpecError(
                "placement needs a cluster or a host: the datacenter has "
                f"{len(computes)} ({', '.join(sorted(objs[c]['name'] for c in computes))})"
            )
        compute = computes[0]
    root_pool: MoRef = objs[compute]["resourcePool"]
    pool_path = (pl.resourcePool or "Resources").strip("/")
    first, _, rest = pool_path.partition("/")
    if first != objs.get(root_pool, {}).get("name", "Resources"):
        raise SpecError(
            f"placement.resourcePool {pl.resourcePool!r} starts at the root pool: "
            "write Resources or Resources/CHILD/..."
        )
    res.pool = _walk(objs, root_pool, rest, ("ResourcePool", "VirtualApp"), "resourcePool")
    ds = pl.datastore or next((d.datastore for d in doc.disks or () if d.datastore), None)
    if ds is not None and not res.has_datastore(ds):
        raise SpecError(
            f"placement.datastore: no datastore named {ds!r} (there: {', '.join(res.datastores())})"
        )
    res.datastore = ds
    return res
