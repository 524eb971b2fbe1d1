"""The declarative VM spec: what libvirt's dumpxml / define is to a domain.

- :func:`dump` reads a VM (one ``RetrievePropertiesEx``: the VM and, through a traversal,
  its folders, datacenter, pool, compute resource, hosts, datastores and networks) and
  returns a portable document: names and inventory paths, never morefs.
- :func:`apply` creates the VM a document describes (``CreateVM_Task``) when its folder has
  no VM of that name, or reconciles the one it has: the minimal ``ReconfigVM_Task`` (CPU,
  memory, disks grown, added or — only with ``prune`` — removed, NICs, extraConfig,
  annotation), a ``RelocateVM_Task`` for disks that change datastore, and a power
  operation. Applying the same document twice writes nothing the second time.
- :func:`plan` lists the writes ``apply`` would make, with a readable diff, writing nothing.

Documents are dicts; :func:`to_yaml`, :func:`to_json` and :func:`load` convert them (the
shape is described in :mod:`spherekit.compute.spec_doc`). YAML needs PyYAML, a dependency
of spherekit; JSON documents are YAML too, so :func:`load` reads both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.compute.spec_apply import Change, Result, apply, plan
from spherekit.compute.spec_doc import (
    ADAPTERS,
    API_VERSION,
    REDACTED,
    SpecError,
    is_secret_key,
    load,
    portable_key,
    to_json,
    to_yaml,
)
from spherekit.errors import UsageError
from spherekit.property import retrieve
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.schema.vim25 import data as v

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["Change", "Result", "SpecError", "apply", "dump", "load", "plan", "to_json", "to_yaml"]

_VM_PATHS = ["name", "parent", "config", "runtime.powerState", "runtime.host", "resourcePool"]
_PROPS = [
    ("VirtualMachine", _VM_PATHS),
    ("Folder", ["name", "parent"]),
    ("Datacenter", ["name", "parent", "vmFolder"]),
    ("ResourcePool", ["name", "parent", "owner"]),
    ("ComputeResource", ["name"]),
    ("HostSystem", ["name"]),
    ("Datastore", ["name"]),
    ("Network", ["name"]),
    ("DistributedVirtualPortgroup", ["key"]),
]
# (name, type, path, then) -- every path a top-level property, as vCenter requires
_TRAVERSALS = [
    ("vmParent", "VirtualMachine", "parent", ["folderUp"]),
    ("folderUp", "Folder", "parent", ["folderUp", "dcUp"]),
    ("dcUp", "Datacenter", "parent", ["folderUp"]),
    ("vmPool", "VirtualMachine", "resourcePool", ["poolUp", "poolOwner"]),
    ("poolUp", "ResourcePool", "parent", ["poolUp"]),
    ("poolOwner", "ResourcePool", "owner", ["crHosts"]),
    ("crHosts", "ComputeResource", "host", []),
    ("vmDatastores", "VirtualMachine", "datastore", []),
    ("vmNetworks", "VirtualMachine", "network", []),
]

_NIC_TYPES: list[tuple[type[v.VirtualEthernetCard], str]] = [
    (v.VirtualVmxnet3, "vmxnet3"),
    (v.VirtualVmxnet2, "vmxnet2"),
    (v.VirtualVmxnet, "vmxnet"),
    (v.VirtualE1000e, "e1000e"),
    (v.VirtualE1000, "e1000"),
    (v.VirtualPCNet32, "pcnet32"),
    (v.VirtualSriovEthernetCard, "sriov"),
]
_CTL_TYPES: list[tuple[type[v.VirtualController], str]] = [
    (v.ParaVirtualSCSIController, "pvscsi"),
    (v.VirtualLsiLogicSASController, "lsilogic-sas"),
    (v.VirtualLsiLogicController, "lsilogic"),
    (v.VirtualBusLogicController, "buslogic"),
    (v.VirtualIDEController, "ide"),
    (v.VirtualSATAController, "sata"),
    (v.VirtualNVMEController, "nvme"),
]
assert {a for _, a in _NIC_TYPES} == set(ADAPTERS)


def nic_adapter(dev: v.VirtualEthernetCard) -> str | None:
    return next((a for t, a in _NIC_TYPES if isinstance(dev, t)), None)


def controller_kind(dev: v.VirtualDevice) -> str | None:
    return next((k for t, k in _CTL_TYPES if isinstance(dev, t)), None)


def read_vm(session: Session, vm: MoRef | ManagedObject) -> dict[MoRef, dict[str, Any]]:
    """The VM's properties and those of the objects around it, in one bulk read."""
    ref = vm.ref if isinstance(vm, ManagedObject) else vm
    if not isinstance(ref, MoRef) or ref.type != "VirtualMachine":
        raise UsageError(f"dump takes a VirtualMachine reference, not {ref!r}")
    selects: list[v.SelectionSpec] = [
        v.TraversalSpec(
            name=n, type=t, path=p, skip=False, selectSet=[v.SelectionSpec(name=x) for x in then]
        )
        for n, t, p, then in _TRAVERSALS
    ]
    spec = v.PropertyFilterSpec(
        propSet=[v.PropertySpec(type=t, pathSet=paths, all=False) for t, paths in _PROPS],
        objectSet=[v.ObjectSpec(obj=ref, skip=False, selectSet=selects)],
    )
    return dict(retrieve(session, spec))


def _gb(kb: int) -> float:
    gb = kb / 1048576
    return int(gb) if gb == int(gb) else gb


def _folder_path(objs: dict[MoRef, dict[str, Any]], folder: MoRef | None) -> tuple[str, Any]:
    """(path under the datacenter's VM folder, the datacenter's properties)."""
    names: list[str] = []
    cur = folder
    while cur is not None and cur.type == "Folder":
        props = objs.get(cur, {})
        parent = props.get("parent")
        if parent is not None and parent.type == "Datacenter":
            return "/" + "/".join(reversed(names)), objs.get(parent, {})
        names.append(str(props.get("name", "")).replace("/", "%2f"))
        cur = parent
    return "/" + "/".join(reversed(names)), {}


def _pool_path(objs: dict[MoRef, dict[str, Any]], pool: MoRef | None) -> tuple[str | None, Any]:
    """(path of the pool from its compute resource's root pool, the compute resource)."""
    names: list[str] = []
    cur = pool
    while cur is not None and cur.type in ("ResourcePool", "VirtualApp"):
        names.append(str(objs.get(cur, {}).get("name", "")).replace("/", "%2f"))
        cur = objs.get(cur, {}).get("parent")
    return ("/".join(reversed(names)) or None), cur


def dump(
    session: Session, vm: MoRef | ManagedObject, *, include_secrets: bool = False
) -> dict[str, Any]:
    """A portable document describing ``vm`` (see :mod:`spherekit.compute.spec_doc`)."""
    objs = read_vm(session, vm)
    ref = vm.ref if isinstance(vm, ManagedObject) else vm
    props = objs.get(ref)
    if props is None or props.get("config") is None:
        raise UsageError(f"{ref} has no configuration to dump (is it a VM being created?)")
    config: v.VirtualMachineConfigInfo = props["config"]
    names = {r: str(p["name"]) for r, p in objs.items() if "name" in p}
    hw = config.hardware
    folder, dc = _folder_path(objs, props.get("parent"))
    pool_path, compute = _pool_path(objs, props.get("resourcePool"))
    ds_name = (config.files.vmPathName or "").partition("]")[0].lstrip("[") or None
    placement: dict[str, Any] = {"datacenter": dc.get("name"), "folder": folder}
    if compute is not None and compute.type == "ClusterComputeResource":
        placement["cluster"] = names.get(compute)
    placement["host"] = names.get(props.get("runtime.host"))  # type: ignore[arg-type]
    placement["resourcePool"] = pool_path
    placement["datastore"] = ds_name
    devices = list(hw.device or [])
    by_key = {d.key: d for d in devices}
    pg_names = {str(p["key"]): names.get(r) for r, p in objs.items() if "key" in p}

    def ctl(dev: v.VirtualDevice) -> str | None:
        c = by_key.get(dev.controllerKey) if dev.controllerKey is not None else None
        kind = controller_kind(c) if c is not None else None
        return f"{kind}:{getattr(c, 'busNumber', 0)}" if kind else None

    def label(dev: v.VirtualDevice) -> str | None:
        return dev.deviceInfo.label if dev.deviceInfo is not None else None

    disks, nics, cdroms = [], [], []
    for d in devices:
        if isinstance(d, v.VirtualDisk):
            b = d.backing
            kb = d.capacityInKB if d.capacityInKB is not None else (d.capacityInBytes or 0) // 1024
            disk: dict[str, Any] = {"label": label(d), "sizeGB": _gb(kb)}
            if isinstance(b, v.VirtualDeviceFileBackingInfo):
                disk["datastore"] = names.get(b.datastore) if b.datastore else None
            if isinstance(b, v.VirtualDiskFlatVer2BackingInfo):
                disk["provisioning"] = (
                    "thin"
                    if b.thinProvisioned
                    else "eagerZeroedThick"
                    if b.eagerlyScrub
                    else "thick"
                )
            disk |= {"controller": ctl(d), "unit": d.unitNumber}
            disks.append({k: x for k, x in disk.items() if x is not None})
        elif isinstance(d, v.VirtualEthernetCard):
            nic: dict[str, Any] = {
                "label": label(d),
                "network": network_name(d.backing, names, pg_names),
            }
            nic["adapter"] = nic_adapter(d)
            if d.addressType == "manual":
                nic["mac"] = d.macAddress
            nics.append({k: x for k, x in nic.items() if x is not None})
        elif isinstance(d, v.VirtualCdrom):
            cd: dict[str, Any] = {"label": label(d), "controller": ctl(d), "unit": d.unitNumber}
            if isinstance(d.backing, v.VirtualCdromIsoBackingInfo):
                cd["iso"] = d.backing.fileName
            cdroms.append({k: x for k, x in cd.items() if x is not None})
    extra = {
        str(o.key): REDACTED if is_secret_key(o.key) and not include_secrets else str(o.value)
        for o in config.extraConfig or ()
        if portable_key(o.key) and o.value is not None
    }
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "VirtualMachine",
        "name": props["name"],
        "guestId": config.guestId,
        "annotation": config.annotation or "",
        "powerState": str(props["runtime.powerState"]),
        "hardware": {
            "cpus": hw.numCPU,
            "coresPerSocket": hw.numCoresPerSocket or 1,
            "memoryMB": hw.memoryMB,
            "firmware": config.firmware or "bios",
        },
        "placement": {k: x for k, x in placement.items() if x is not None},
        "disks": disks,
        "nics": nics,
        "cdroms": cdroms,
        "extraConfig": extra,
    }
    return doc


def network_name(
    backing: v.VirtualDeviceBackingInfo | None,
    names: dict[MoRef, str],
    pg_names: dict[str, str | None],
) -> str | None:
    if isinstance(backing, v.VirtualEthernetCardNetworkBackingInfo):
        if backing.network is not None and backing.network in names:
            return names[backing.network]
        return backing.deviceName
    if isinstance(backing, v.VirtualEthernetCardDistributedVirtualPortBackingInfo):
        key = backing.port.portgroupKey
        if key is None:
            return None
        # vCenter's portgroup keys are the portgroups' moref values
        return pg_names.get(key) or names.get(MoRef("DistributedVirtualPortgroup", key))
    return None
