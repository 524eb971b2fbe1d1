"""Folder: CreateFolder, CreateDatacenter, CreateClusterEx, CreateVM_Task, RegisterVM_Task,
MoveIntoFolder_Task, UnregisterAndDestroy_Task and a folder's Destroy_Task.

What a folder may hold is its ``childType`` (a VM folder: folders, VMs and vApps; a host
folder: folders and compute resources; ...); anything else is ``NotSupported``. The root
folder and a datacenter's four folders cannot be destroyed or moved.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

import spherekit.sim.resource_pool  # noqa: F401  (registers the ResourcePool methods)
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.cluster import create_cluster
from spherekit.sim.datacenter import create_datacenter, folder_prefix
from spherekit.sim.managed_entity import (
    ancestor,
    check_unique,
    destroy,
    destroyer,
    entity_name,
    is_kind,
    run_task,
    within,
)
from spherekit.sim.methods import handler
from spherekit.sim.storage import parse_ds_path
from spherekit.sim.vm_remove import in_subtree, remove_vm
from spherekit.sim.vm_spec import create_vm, resolve_target
from spherekit.sim.vmx import parse_vmx, spec_from_vmx, vmdk_capacity

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__: list[str] = []


def _child_type(ctx: Context, folder: MoRef) -> list[str]:
    return list(ctx.registry.prop(folder, "childType") or [])


def _require(ctx: Context, folder: MoRef, kind: str, what: str) -> None:
    if kind not in _child_type(ctx, folder):
        raise faults.not_supported(
            f"{what} is not supported in folder '{ctx.registry.prop(folder, 'name')}': its "
            f"childType is {', '.join(_child_type(ctx, folder))}."
        )


def _visible(ctx: Context, *refs: MoRef | None) -> None:
    for ref in refs:
        if ref is not None and not ctx.visible(ref):
            raise faults.not_found(ref)


def _is_special(ctx: Context, folder: MoRef) -> bool:
    """The root folder or one of a datacenter's four folders."""
    parent = ctx.registry.prop(folder, "parent")
    return parent is None or parent.type == "Datacenter"


@handler("Folder", "CreateFolder")
def create_folder(ctx: Context, this: MoRef, *, name: str) -> MoRef:
    reg = ctx.registry
    _require(ctx, this, "Folder", "Creating a folder")
    name = entity_name(name)
    check_unique(reg, this, name)
    child_type = _child_type(ctx, this)
    ref = reg.new_ref("Folder", folder_prefix(child_type))
    from spherekit.sim.entities import folder

    reg.add(ref, folder(name, this, child_type))
    reg.append(this, "childEntity", ref)
    return ref


@handler("Folder", "CreateDatacenter")
def create_datacenter_handler(ctx: Context, this: MoRef, *, name: str) -> MoRef:
    return create_datacenter(ctx, this, name)


@handler("Folder", "CreateClusterEx")
def create_cluster_ex(ctx: Context, this: MoRef, *, name: str, spec: Any) -> MoRef:
    return create_cluster(ctx, this, name, spec)


@handler("Folder", "CreateVM_Task")
def create_vm_task(
    ctx: Context, this: MoRef, *, config: Any, pool: MoRef, host: MoRef | None = None
) -> MoRef:
    _require(ctx, this, "VirtualMachine", "Creating a virtual machine")
    _visible(ctx, pool, host)

    def work(chain: int) -> MoRef:
        target = resolve_target(ctx, this, pool, host)
        return create_vm(ctx, target, config, chain=chain)

    return run_task(ctx, this, "CreateVM_Task", "Folder.createVm", work)


@handler("Folder", "RegisterVM_Task")
def register_vm_task(
    ctx: Context,
    this: MoRef,
    *,
    path: str,
    name: str | None = None,
    asTemplate: bool,
    pool: MoRef | None = None,
    host: MoRef | None = None,
) -> MoRef:
    _require(ctx, this, "VirtualMachine", "Registering a virtual machine")
    _visible(ctx, pool, host)

    def work(chain: int) -> MoRef:
        return _register(ctx, this, path, name, asTemplate, pool, host, chain)

    return run_task(ctx, this, "RegisterVM_Task", "Folder.registerVm", work)


def _register(
    ctx: Context,
    folder: MoRef,
    path: str,
    name: str | None,
    template: bool,
    pool: MoRef | None,
    host: MoRef | None,
    chain: int,
) -> MoRef:
    reg = ctx.registry
    if template:
        if host is None:
            raise faults.invalid_argument("host", "a template is registered on a host")
        if pool is not None:
            raise faults.invalid_argument("pool", "a template has no resource pool")
    elif pool is None:
        raise faults.invalid_argument("pool")
    try:
        ds, rel = parse_ds_path(path)
    except ValueError:
        raise faults.invalid_datastore_path(path) from None
    dc = ancestor(reg, folder, "Datacenter")
    names = {reg.prop(x, "name") for x in (reg.prop(dc, "datastore") or [])} if dc else set()
    if ds not in names:
        raise faults.invalid_datastore_path(path, ds)
    storage = ctx.backend.storage
    if not rel or not storage.exists(ds, rel) or storage.path(ds, rel).is_dir():
        raise faults.file_not_found(path)
    for vm in reg.of_type("VirtualMachine"):
        files = getattr(reg.prop(vm, "config"), "files", None)
        if files is not None and files.vmPathName == f"[{ds}] {rel}":
            raise faults.already_exists(vm.value)
    target = resolve_target(ctx, folder, pool, host, template=template)
    directory = f"[{ds}] {posixpath.dirname(rel)}/"

    def capacity(file: str) -> int | None:
        try:
            d_name, d_rel = parse_ds_path(file)
            return vmdk_capacity(storage.read(d_name, d_rel))
        except (ValueError, OSError):
            return None

    spec = spec_from_vmx(parse_vmx(storage.read(ds, rel)), directory, capacity)
    spec.name = name or spec.name or posixpath.basename(posixpath.dirname(rel)) or rel
    spec.files = d.VirtualMachineFileInfo(vmPathName=f"[{ds}] {rel}")
    return create_vm(ctx, target, spec, chain=chain, register=True, template=template)


@handler("Folder", "MoveIntoFolder_Task")
def move_into_folder(ctx: Context, this: MoRef, *, list: list[MoRef]) -> MoRef:  # noqa: A002
    entities = list

    def work(chain: int) -> None:
        for ref in entities:
            _move(ctx, this, ref)

    return run_task(ctx, this, "MoveIntoFolder_Task", "Folder.moveInto", work)


def _move(ctx: Context, folder: MoRef, ref: MoRef) -> None:
    reg = ctx.registry
    if not ctx.visible(ref):
        raise faults.not_found(ref)
    if ref.type == "HostSystem" and "ComputeResource" in _child_type(ctx, folder):
        raise faults.not_supported("Moving a host out of its cluster is not simulated.")
    if not any(is_kind(ref, kind) for kind in _child_type(ctx, folder)):
        raise faults.not_supported(
            f"A {ref.type} cannot be moved into folder '{reg.prop(folder, 'name')}': its "
            f"childType is {', '.join(_child_type(ctx, folder))}."
        )
    if ancestor(reg, folder, ref.type) == ref or within(reg, folder, ref):
        raise faults.invalid_folder(ref)
    parent = reg.prop(ref, "parent")
    if (
        parent is None
        or parent.type != "Folder"
        or (ref.type == "Folder" and _is_special(ctx, ref))
    ):
        raise faults.not_supported(f"{reg.prop(ref, 'name')} cannot be moved.")
    if parent == folder:
        return
    if ancestor(reg, parent, "Datacenter") != ancestor(reg, folder, "Datacenter"):
        raise faults.invalid_argument("list", "entities cannot be moved between datacenters")
    check_unique(reg, folder, reg.prop(ref, "name"))
    reg.discard(parent, "childEntity", ref)
    reg.update(ref, {"parent": folder})
    reg.append(folder, "childEntity", ref)


def _check_powered_off(ctx: Context, root: MoRef, fault: str) -> None:
    for vm in in_subtree(ctx, root, "VirtualMachine"):
        state = ctx.registry.prop(vm, "runtime").powerState
        if state == "poweredOn":
            if fault == "state":
                raise faults.invalid_state(
                    f"The virtual machine {ctx.registry.prop(vm, 'name')} is powered on."
                )
            raise faults.invalid_power_state("poweredOff", state)


@destroyer("Folder")
def _destroy_folder(ctx: Context, folder: MoRef, chain: int) -> None:
    reg = ctx.registry
    if _is_special(ctx, folder):
        raise faults.not_supported("The root folder and a datacenter's folders cannot be removed.")
    _check_powered_off(ctx, folder, "power")
    for child in list(reg.prop(folder, "childEntity") or []):
        if child in reg:
            destroy(ctx, child, chain)
    parent = reg.prop(folder, "parent")
    reg.discard(parent, "childEntity", folder)
    reg.remove(folder)


@handler("Folder", "UnregisterAndDestroy_Task")
def unregister_and_destroy(ctx: Context, this: MoRef) -> MoRef:
    _require(ctx, this, "VirtualMachine", "UnregisterAndDestroy")

    def work(chain: int) -> None:
        _check_powered_off(ctx, this, "state")
        _unregister_tree(ctx, this, chain)

    return run_task(ctx, this, "UnregisterAndDestroy_Task", "Folder.unregisterAndDestroy", work)


def _unregister_tree(ctx: Context, folder: MoRef, chain: int) -> None:
    reg = ctx.registry
    for child in list(reg.prop(folder, "childEntity") or []):
        if child not in reg:
            continue
        if child.type == "VirtualMachine":
            remove_vm(ctx, child, chain=chain, delete_files=False)
        elif child.type == "VirtualApp":
            for vm in in_subtree(ctx, child, "VirtualMachine"):
                remove_vm(ctx, vm, chain=chain, delete_files=False)
            destroy(ctx, child, chain)
        elif child.type == "Folder":
            _unregister_tree(ctx, child, chain)
    if not _is_special(ctx, folder):
        reg.discard(reg.prop(folder, "parent"), "childEntity", folder)
        reg.remove(folder)
