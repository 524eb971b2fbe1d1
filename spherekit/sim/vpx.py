"""The default inventory: the same shape and names as govmomi vcsim's VPX model.

With the defaults: the root folder ``Datacenters`` (``group-d1``) holds ``DC0``
(``datacenter-2``) with its ``vm``, ``host``, ``datastore`` and ``network`` folders; the
network folder holds ``VM Network``, the distributed switch ``DVS0`` with its uplink
portgroup and ``DC0_DVPG0``; the host folder holds the standalone host ``DC0_H0`` (in its
ComputeResource) and the cluster ``DC0_C0`` with hosts ``DC0_C0_H0``..``H2``; each has a
root resource pool ``Resources``; the datastore ``LocalDS_0`` is mounted on every host; the
VMs ``DC0_H0_VM0``, ``DC0_H0_VM1`` (on the standalone host) and ``DC0_C0_RP0_VM0``,
``DC0_C0_RP0_VM1`` (in the cluster's pool, spread over its hosts) are powered on, with
their NIC on ``DC0_DVPG0``.

Morefs follow vCenter's conventions (``group-v3``, ``domain-c7``, ``vm-42``), numbered by
one counter in creation order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from spherekit.schema.base import MoRef
from spherekit.sim import entities as ent
from spherekit.sim.registry import Registry
from spherekit.sim.vm_model import Placement, VmFactory

__all__ = ["VpxModel", "build"]


@dataclass(frozen=True)
class VpxModel:
    """Counts of the default inventory (the names of vcsim's ``simulator.VPX()``)."""

    datacenters: int = 1
    #: clusters per datacenter
    clusters: int = 1
    #: hosts per cluster
    hosts: int = 3
    #: standalone hosts per datacenter
    standalone_hosts: int = 1
    #: VMs per standalone host and per cluster resource pool
    vms: int = 2
    #: datastores per datacenter (mounted on all its hosts)
    datastores: int = 1
    #: datacenters placed in a folder (with a folder of the same name in each of theirs)
    folders: int = 0
    #: distributed portgroups per datacenter (0: no distributed switch)
    portgroups: int = 1
    #: power VMs on
    autostart: bool = True

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")


class _Builder:
    def __init__(self, reg: Registry, model: VpxModel) -> None:
        self.reg = reg
        self.model = model
        # containment lists, set once at the end (appending one by one would copy them)
        self.lists: dict[MoRef, dict[str, list[MoRef]]] = defaultdict(lambda: defaultdict(list))

    def add(self, ref: MoRef, props: dict[str, Any], parent_list: MoRef | None = None) -> MoRef:
        self.reg.add(ref, props)
        if parent_list is not None:
            self.link(parent_list, "childEntity", ref)
        return ref

    def link(self, ref: MoRef, name: str, item: MoRef) -> None:
        self.lists[ref][name].append(item)

    def flush(self) -> None:
        for ref, lists in self.lists.items():
            self.reg.update(ref, {name: list(dict.fromkeys(v)) for name, v in lists.items()})
        self.lists.clear()

    def folder(self, name: str, parent: MoRef, kind: str, child_type: list[str]) -> MoRef:
        ref = self.reg.new_ref("Folder", f"group-{kind}")
        return self.add(ref, ent.folder(name, parent, child_type), parent)

    def datacenter(self, name: str, parent: MoRef) -> tuple[MoRef, dict[str, MoRef]]:
        reg = self.reg
        dc = reg.new_ref("Datacenter")
        kinds = {
            "vmFolder": ("vm", "v", ["Folder", "VirtualMachine", "VirtualApp"]),
            "hostFolder": ("host", "h", ["Folder", "ComputeResource"]),
            "datastoreFolder": ("datastore", "s", ["Folder", "Datastore", "StoragePod"]),
            "networkFolder": ("network", "n", ["Folder", "Network", "DistributedVirtualSwitch"]),
        }
        folders = {f: reg.new_ref("Folder", f"group-{k}") for f, (_n, k, _c) in kinds.items()}
        self.add(dc, ent.datacenter(name, parent, folders), parent)
        for f, (fname, _k, child_type) in kinds.items():
            self.add(folders[f], ent.folder(fname, dc, child_type))
        return dc, folders

    def compute(
        self, name: str, parent: MoRef, hosts: list[str], cluster: bool
    ) -> tuple[MoRef, MoRef, MoRef, list[MoRef]]:
        """A (cluster) compute resource with its hosts and root pool; (cr, pool, env, hosts)."""
        reg = self.reg
        cr = reg.new_ref("ClusterComputeResource" if cluster else "ComputeResource")
        pool = reg.new_ref("ResourcePool")
        env = reg.new_ref("EnvironmentBrowser")
        make = ent.cluster if cluster else ent.compute_resource
        self.add(cr, make(name, parent, pool, env, len(hosts)), parent)
        self.add(pool, ent.resource_pool(cr, cr))
        self.add(env, {})
        refs = []
        for host_name in hosts:
            h = reg.new_ref("HostSystem")
            self.add(h, ent.host(reg, h, host_name, cr))
            self.link(cr, "host", h)
            refs.append(h)
        return cr, pool, env, refs


def build(reg: Registry, model: VpxModel) -> MoRef:
    """Populate ``reg`` with the model's inventory; return the root folder."""
    b = _Builder(reg, model)
    root = reg.new_ref("Folder", "group-d")
    reg.add(root, ent.folder("Datacenters", None, ["Folder", "Datacenter"]))
    machines: list[tuple[str, Placement, list[MoRef]]] = []
    nfolder = 0
    m = model
    for ndc in range(m.datacenters):
        dc_name = f"DC{ndc}"
        parent = root
        in_folder = nfolder < m.folders and ndc >= m.datacenters - m.folders
        if in_folder:
            parent = b.folder(f"F{nfolder}", root, "h", ["Folder", "Datacenter"])
        dc, folders = b.datacenter(dc_name, parent)
        vm_folder, host_folder = folders["vmFolder"], folders["hostFolder"]
        ds_folder, net_folder = folders["datastoreFolder"], folders["networkFolder"]
        if in_folder:
            fname = f"F{nfolder}"
            vm_folder = b.folder(fname, vm_folder, "v", ["Folder", "VirtualMachine", "VirtualApp"])
            host_folder = b.folder(fname, host_folder, "h", ["Folder", "ComputeResource"])
            ds_folder = b.folder(fname, ds_folder, "s", ["Folder", "Datastore", "StoragePod"])
            kinds = ["Folder", "Network", "DistributedVirtualSwitch"]
            net_folder = b.folder(fname, net_folder, "n", kinds)
            nfolder += 1
        # "VM Network" comes with the datacenter (in vcsim too): in its own network folder
        vm_network, dc_net_folder = reg.new_ref("Network"), folders["networkFolder"]
        b.add(vm_network, ent.network(vm_network, "VM Network", dc_net_folder), dc_net_folder)
        b.link(dc, "network", vm_network)
        vm_net: tuple[MoRef, str, tuple[str, str] | None] = (vm_network, "VM Network", None)
        dc_networks = [vm_network]
        switch = None
        if m.portgroups > 0:
            switch = reg.new_ref("VmwareDistributedVirtualSwitch")
            switch_uuid = reg.uuid()
            b.add(switch, ent.dvs("DVS0", net_folder, switch_uuid), net_folder)
            names = [f"DVS0-DVUplinks-{switch.value.split('-')[1]}"]
            names += [f"{dc_name}_DVPG{i}" for i in range(m.portgroups)]
            for i, pg_name in enumerate(names):
                pg = reg.new_ref("DistributedVirtualPortgroup")
                b.add(pg, ent.portgroup(pg, pg_name, net_folder, switch, 8), net_folder)
                b.link(switch, "portgroup", pg)
                b.link(dc, "network", pg)
                dc_networks.append(pg)
                if i == 1:
                    vm_net = (pg, pg_name, (switch_uuid, pg.value))
        dc_hosts: list[MoRef] = []
        pools: list[tuple[str, MoRef, MoRef, list[MoRef]]] = []
        for nhost in range(m.standalone_hosts):
            name = f"{dc_name}_H{nhost}"
            _cr, pool, env, hosts = b.compute(name, host_folder, [name], cluster=False)
            dc_hosts += hosts
            pools.append((name, pool, env, hosts))
        for nc in range(m.clusters):
            name = f"{dc_name}_C{nc}"
            host_names = [f"{name}_H{i}" for i in range(m.hosts)]
            _cr, pool, env, hosts = b.compute(name, host_folder, host_names, cluster=True)
            dc_hosts += hosts
            pools.append((f"{name}_RP0", pool, env, hosts))
        if switch is not None:
            for h in dc_hosts:
                b.link(switch, "summary.hostMember", h)
        stores: list[tuple[MoRef, str]] = []
        for i in range(m.datastores):
            ds = reg.new_ref("Datastore")
            name = f"LocalDS_{i}"
            b.add(ds, ent.datastore(reg, ds, name, ds_folder, dc_hosts), ds_folder)
            b.link(dc, "datastore", ds)
            stores.append((ds, name))
        for h in dc_hosts:
            for ds, _name in stores:
                b.link(h, "datastore", ds)
            for net in dc_networks:
                b.link(h, "network", net)
                b.link(net, "host", h)
        if not stores:
            continue
        for prefix, pool, env, hosts in pools:
            if not hosts:
                continue
            ds, ds_name = stores[0]
            net, net_name, port = vm_net
            for h in hosts:
                where = Placement(
                    folder=vm_folder,
                    host=h,
                    pool=pool,
                    datastore=ds,
                    datastore_name=ds_name,
                    network=net,
                    network_name=net_name,
                    environment_browser=env,
                    dvs_port=port,
                )
                machines.append((prefix, where, hosts))
    _machines(b, machines)
    b.flush()
    return root


def _machines(b: _Builder, machines: list[tuple[str, Placement, list[MoRef]]]) -> None:
    """Create the VMs: ``vms`` per pool, spread round-robin over the pool's hosts."""
    factories: dict[Placement, VmFactory] = {}
    by_prefix: dict[str, list[Placement]] = defaultdict(list)
    for prefix, where, _hosts in machines:
        by_prefix[prefix].append(where)
    for prefix, places in by_prefix.items():
        for i in range(b.model.vms):
            where = places[i % len(places)]
            factory = factories.get(where)
            if factory is None:
                factory = factories[where] = VmFactory(b.reg, where, powered_on=b.model.autostart)
            ref, props = factory.make(f"{prefix}_VM{i}")
            b.add(ref, props, where.folder)
            b.link(where.host, "vm", ref)
            b.link(where.pool, "vm", ref)
            b.link(where.datastore, "vm", ref)
            b.link(where.network, "vm", ref)
