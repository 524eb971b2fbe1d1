"""Virtual machines leaving the inventory: UnregisterVM, a VM's Destroy_Task, and the
removal the Destroy_Task of folders, pools, clusters and datacenters use.

A VM leaves its folder's ``childEntity`` and its pool's, host's, datastores' and networks'
``vm`` lists (its snapshots go with it); Destroy_Task also deletes its disks and the files
named after it in its directory, and the directory once empty, as vCenter does.
vCenter refuses both for a powered-on VM (``InvalidPowerState``).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.managed_entity import ancestor, destroyer, is_kind
from spherekit.sim.methods import handler
from spherekit.sim.storage import parse_ds_path

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["in_subtree", "remove_vm", "where_names"]


def where_names(ctx: Context, vm: MoRef) -> tuple[str, str]:
    """(host name, datacenter name) of a VM, for event messages."""
    reg = ctx.registry
    host = getattr(reg.prop(vm, "runtime"), "host", None)
    dc = ancestor(reg, vm, "Datacenter")
    host_name = reg.prop(host, "name") if host is not None and host in reg else ""
    return host_name, reg.prop(dc, "name") if dc is not None else ""


def _snapshots(tree: list[Any] | None) -> list[MoRef]:
    out: list[MoRef] = []
    for node in tree or []:
        out.append(node.snapshot)
        out += _snapshots(node.childSnapshotList)
    return out


def remove_vm(ctx: Context, vm: MoRef, *, chain: int | None, delete_files: bool) -> None:
    """Take ``vm`` out of the inventory (and its files off the datastores if asked).
    InvalidPowerState if it is powered on."""
    reg = ctx.registry
    if vm not in reg:
        raise faults.not_found(vm)
    props = reg.props(vm)
    runtime = props["runtime"]
    if runtime.powerState == "poweredOn":
        raise faults.invalid_power_state("poweredOff", runtime.powerState)
    host, dc = where_names(ctx, vm)
    template = bool(getattr(props.get("config"), "template", False))
    name = props["name"]
    emit(
        ctx,
        "VmRemovedEvent",
        entity=vm,
        chain_id=chain,
        message=f"Removed {name} on {host} from {dc}",
        template=template,
    )
    files = props["config"].files if props.get("config") is not None else None
    devices = props["config"].hardware.device if props.get("config") is not None else []
    links: list[tuple[MoRef | None, str]] = [
        (props.get("parent"), "childEntity"),
        (props.get("resourcePool"), "vm"),
        (runtime.host, "vm"),
    ]
    links += [(x, "vm") for x in [*(props.get("datastore") or []), *(props.get("network") or [])]]
    for ref, prop in links:
        if ref is not None and ref in reg:
            reg.discard(ref, prop, vm)
    snapshot = props.get("snapshot")
    for snap in _snapshots(getattr(snapshot, "rootSnapshotList", None)):
        reg.remove(snap)
    reg.remove(vm)
    ctx.backend.guests.removed(ctx, vm)
    if delete_files and files is not None:
        _delete_files(ctx, files.vmPathName, devices)


def _delete_files(ctx: Context, vmx_path: str, devices: list[Any]) -> None:
    """Delete the VM's disks and the files of its directory named after it, then the
    directory if nothing else is left in it (as vCenter does)."""
    storage = ctx.backend.storage
    for dev in devices:
        file_name = getattr(dev.backing, "fileName", None)
        if isinstance(dev, d.VirtualDisk) and file_name:
            try:
                ds, rel = parse_ds_path(file_name)
            except ValueError:
                continue
            for path in (rel, rel.removesuffix(".vmdk") + "-flat.vmdk"):
                if storage.exists(ds, path):
                    storage.delete(ds, path)
    ds, rel = parse_ds_path(vmx_path)
    directory = posixpath.dirname(rel)
    stem = posixpath.basename(rel).rpartition(".")[0]
    local = storage.path(ds, directory)
    if not directory or not local.is_dir():
        return
    for child in list(local.iterdir()):
        if child.name.startswith(stem) or child.name.startswith("vmware"):
            storage.delete(ds, f"{directory}/{child.name}")
    if not any(local.iterdir()):
        storage.delete(ds, directory)


@destroyer("VirtualMachine")
def _destroy_vm(ctx: Context, vm: MoRef, chain: int) -> None:
    remove_vm(ctx, vm, chain=chain, delete_files=True)


@handler("VirtualMachine", "UnregisterVM")
def unregister_vm(ctx: Context, this: MoRef) -> None:
    remove_vm(ctx, this, chain=None, delete_files=False)


def in_subtree(ctx: Context, root: MoRef, base: str) -> list[MoRef]:
    """Entities of type ``base`` at or below ``root`` in the folder / pool tree."""
    from spherekit.sim.inventory import descendants

    found = [root] if is_kind(root, base) else []
    for ref in descendants(ctx.registry, root, recursive=True):
        if is_kind(ref, base) and ref not in found:
            found.append(ref)
    return found
