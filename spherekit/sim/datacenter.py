"""Datacenter: Folder.CreateDatacenter and a datacenter's Destroy_Task.

A new datacenter gets its four folders (``vm``, ``host``, ``datastore``, ``network``) with
vCenter's child types, and nothing else: networks and datastores come with hosts.
Destroying a datacenter removes it and everything in it from the inventory (VMs are
unregistered, their files stay on the datastores), as vCenter does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import entities as ent
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.inventory import descendants
from spherekit.sim.managed_entity import (
    check_unique,
    destroyer,
    entity_name,
    event_argument,
    is_kind,
)

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["FOLDER_KINDS", "create_datacenter", "folder_prefix"]

#: a datacenter's folders: property -> (name, moref letter, child types)
FOLDER_KINDS = {
    "vmFolder": ("vm", "v", ["Folder", "VirtualMachine", "VirtualApp"]),
    "hostFolder": ("host", "h", ["Folder", "ComputeResource"]),
    "datastoreFolder": ("datastore", "s", ["Folder", "Datastore", "StoragePod"]),
    "networkFolder": ("network", "n", ["Folder", "Network", "DistributedVirtualSwitch"]),
}


def folder_prefix(child_type: list[str]) -> str:
    """vCenter's moref prefix for a folder holding ``child_type`` (``group-v`` ...)."""
    for kind, letter in (
        ("VirtualMachine", "v"),
        ("ComputeResource", "h"),
        ("Datastore", "s"),
        ("Network", "n"),
    ):
        if kind in child_type:
            return f"group-{letter}"
    return "group-d"


def create_datacenter(ctx: Context, parent: MoRef, name: str) -> MoRef:
    reg = ctx.registry
    child_type = reg.prop(parent, "childType") or []
    if "Datacenter" not in child_type:
        raise faults.not_supported(
            "A datacenter can only be created in a folder whose childType contains Datacenter."
        )
    name = entity_name(name)
    check_unique(reg, parent, name)
    dc = reg.new_ref("Datacenter")
    folders = {f: reg.new_ref("Folder", f"group-{k}") for f, (_n, k, _c) in FOLDER_KINDS.items()}
    for f, (fname, _k, kinds) in FOLDER_KINDS.items():
        reg.add(folders[f], ent.folder(fname, dc, list(kinds)))
    reg.add(dc, ent.datacenter(name, parent, folders))
    reg.append(parent, "childEntity", dc)
    emit(
        ctx,
        "DatacenterCreatedEvent",
        entity=dc,
        message=f"Created datacenter {name} in folder {reg.prop(parent, 'name')}",
        parent=event_argument(reg, parent, "FolderEventArgument", "folder"),
    )
    return dc


@destroyer("Datacenter")
def _destroy_datacenter(ctx: Context, dc: MoRef, chain: int) -> None:
    from spherekit.sim.vm_remove import remove_vm

    reg = ctx.registry
    inside = list(descendants(reg, dc, recursive=True))
    for ref in inside:
        if ref.type == "VirtualMachine" and ref in reg:
            vm = reg.props(ref)
            if vm["runtime"].powerState == "poweredOn":
                # the host leaves with the datacenter: the VM just leaves the inventory
                reg.update(ref, {"runtime.powerState": "poweredOff"})
            remove_vm(ctx, ref, chain=chain, delete_files=False)
    for ref in inside:
        if ref not in reg:
            continue
        if is_kind(ref, "ComputeResource"):
            env = reg.prop(ref, "environmentBrowser")
            if env is not None:
                reg.remove(env)
        reg.remove(ref)
    parent = reg.prop(dc, "parent")
    if parent is not None and parent in reg:
        reg.discard(parent, "childEntity", dc)
    reg.remove(dc)
