"""Moving VMs: RelocateVM_Task and MigrateVM_Task.

Both check the destination first (:func:`spherekit.sim.vm_checks.check`: host connected and
in the VM's datacenter when it is powered on, datastores and networks visible from it) and
fail with the first error found. The VM's host, pool (and their ``vm`` lists), folder and
``environmentBrowser`` follow; a datastore change moves the VM's files on the datastores
and rewrites every path (``config.files``, disk backings, ``layoutEx``, ``storage``).
Events: VmBeingRelocatedEvent / VmRelocatedEvent, VmBeingHotMigratedEvent or
VmBeingMigratedEvent / VmMigratedEvent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.managed_entity import ancestor, check_unique, event_argument
from spherekit.sim.methods import handler
from spherekit.sim.storage import parse_ds_path
from spherekit.sim.values import clone
from spherekit.sim.vm_checks import check, default_host, visible
from spherekit.sim.vm_device_info import file_name
from spherekit.sim.vm_power import start_task, vm_event
from spherekit.sim.vm_reconfig import refresh

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__: list[str] = []


# -- moving ----------------------------------------------------------------------------------


def _move_files(ctx: Context, vm: MoRef, ds: MoRef, disks: dict[int, MoRef]) -> None:
    """Move the VM's directory to ``ds`` and each disk to its datastore; rewrite paths."""
    reg = ctx.registry
    storage = ctx.backend.storage
    config = reg.props(vm)["config"]
    new_ds = str(reg.prop(ds, "name"))
    old_ds, vmx_rel = parse_ds_path(config.files.vmPathName)
    rel_dir = vmx_rel.rpartition("/")[0]

    def moved(path: str, target: str) -> str:
        src_ds, rel = parse_ds_path(path)
        if src_ds == target:
            return path
        stem = rel.removesuffix(".vmdk")
        for p in (rel, stem + "-flat.vmdk", stem + "-delta.vmdk"):
            if storage.exists(src_ds, p) and not storage.is_dir(src_ds, p):
                storage.move((src_ds, p), (target, p))
        return f"[{target}] {rel}"

    devices = []
    for dev in config.hardware.device or []:
        if isinstance(dev, d.VirtualDisk) and dev.backing is not None:
            target = disks.get(dev.key)
            target_name = str(reg.prop(target, "name")) if target is not None else None
            src_ds = parse_ds_path(file_name(dev))[0]
            if target_name is None and src_ds == old_ds and new_ds != old_ds:
                target_name = new_ds
            if target_name is not None and target_name != src_ds:
                path = moved(file_name(dev), target_name)
                dev = clone(
                    dev,
                    backing=clone(dev.backing, fileName=path, datastore=target or ds),
                )
        devices.append(dev)
    if new_ds != old_ds and rel_dir and storage.exists(old_ds, rel_dir):
        if storage.exists(new_ds, rel_dir):  # disks moved ahead of the folder: merge
            for entry in storage.listdir(old_ds, rel_dir):
                storage.move(
                    (old_ds, f"{rel_dir}/{entry.name}"), (new_ds, f"{rel_dir}/{entry.name}")
                )
            storage.delete(old_ds, rel_dir)
        else:
            storage.move((old_ds, rel_dir), (new_ds, rel_dir))
    files = config.files
    if new_ds != old_ds:

        def swap(p: str | None) -> str | None:
            if p is None or parse_ds_path(p)[0] != old_ds:
                return p
            return f"[{new_ds}] {parse_ds_path(p)[1]}"

        files = clone(
            files,
            vmPathName=swap(files.vmPathName),
            snapshotDirectory=swap(files.snapshotDirectory),
            suspendDirectory=swap(files.suspendDirectory),
            logDirectory=swap(files.logDirectory),
        )
    hardware = clone(config.hardware, device=devices)
    reg.update(vm, {"config": clone(config, files=files, hardware=hardware)})


def _place(ctx: Context, vm: MoRef, host: MoRef | None, pool: MoRef | None) -> None:
    reg = ctx.registry
    props = reg.props(vm)
    old_host = props["runtime"].host
    if host is not None and host != old_host:
        runtime = clone(props["runtime"], host=host)
        compute = reg.prop(host, "parent")
        reg.update(
            vm,
            {
                "runtime": runtime,
                "summary.runtime": runtime,
                "environmentBrowser": reg.prop(compute, "environmentBrowser"),
            },
        )
        if old_host is not None and old_host in reg:
            reg.discard(old_host, "vm", vm)
        reg.append(host, "vm", vm)
    old_pool = props.get("resourcePool")
    if pool is not None and pool != old_pool and not props["config"].template:
        reg.update(vm, {"resourcePool": pool})
        if old_pool is not None and old_pool in reg:
            reg.discard(old_pool, "vm", vm)
        reg.append(pool, "vm", vm)


def _pool_of(ctx: Context, host: MoRef) -> MoRef | None:
    pool: MoRef | None = ctx.registry.prop(ctx.registry.prop(host, "parent"), "resourcePool")
    return pool


def _names(ctx: Context, vm: MoRef) -> tuple[MoRef, MoRef | None, MoRef | None]:
    props = ctx.registry.props(vm)
    ds = (props.get("datastore") or [None])[0]
    return props["runtime"].host, ds, ancestor(ctx.registry, vm, "Datacenter")


def _arg(ctx: Context, ref: MoRef | None, kind: str, field: str) -> Any:
    return event_argument(ctx.registry, ref, kind, field)


def _moving_text(ctx: Context, dest_host: MoRef, dest_ds: MoRef | None) -> str:
    reg = ctx.registry
    dest_dc = ancestor(reg, dest_host, "Datacenter")
    ds_name = reg.prop(dest_ds, "name") if dest_ds is not None else ""
    dc_name = reg.prop(dest_dc, "name") if dest_dc is not None else ""
    return (
        "Relocating {vm} from {host}, "
        + "{ds} in {dc} to "
        + f"{reg.prop(dest_host, 'name')}, {ds_name} in {dc_name}"
    )


def _move(
    ctx: Context,
    vm: MoRef,
    chain: int,
    host: MoRef | None,
    pool: MoRef | None,
    datastore: MoRef | None,
    kind: str,
) -> None:
    reg = ctx.registry
    if host is None and pool is not None:
        host = default_host(ctx, vm, pool)
    if pool is None and host is not None:
        pool = _pool_of(ctx, host)
    errors, _warnings = check(ctx, vm, host, pool, datastore)
    if errors:
        raise errors[0]
    src_host, src_ds, src_dc = _names(ctx, vm)
    dest_host = host or src_host
    dest_ds = datastore or src_ds
    ds_name = reg.prop(src_ds, "name") if src_ds is not None else ""
    text = _moving_text(ctx, dest_host, dest_ds).replace("{ds}", ds_name)
    args = {
        "destHost": _arg(ctx, dest_host, "HostEventArgument", "host"),
        "destDatacenter": _arg(
            ctx, ancestor(reg, dest_host, "Datacenter"), "DatacenterEventArgument", "datacenter"
        ),
        "destDatastore": _arg(ctx, dest_ds, "DatastoreEventArgument", "datastore"),
    }
    on = reg.props(vm)["runtime"].powerState == "poweredOn"
    if kind == "relocate":
        vm_event(ctx, "VmBeingRelocatedEvent", vm, text, chain, **args)
    elif on:
        text = "Migrating {vm} from {host}, " + ds_name + " to " + text.split(" to ", 1)[1]
        vm_event(ctx, "VmBeingHotMigratedEvent", vm, text, chain, **args)
    else:
        vm_event(ctx, "VmBeingMigratedEvent", vm, text, chain, **args)
    _place(ctx, vm, host, pool)
    if datastore is not None:
        _move_files(ctx, vm, datastore, {})
    refresh(ctx, vm)
    source = {
        "sourceHost": _arg(ctx, src_host, "HostEventArgument", "host"),
        "sourceDatacenter": _arg(ctx, src_dc, "DatacenterEventArgument", "datacenter"),
        "sourceDatastore": _arg(ctx, src_ds, "DatastoreEventArgument", "datastore"),
    }
    if kind == "relocate":
        text = "Completed the relocation of the virtual machine"
        vm_event(ctx, "VmRelocatedEvent", vm, text, chain, **source)
    else:
        src_name = source["sourceHost"].name if source["sourceHost"] else ""
        dest_ds_name = reg.prop(dest_ds, "name") if dest_ds is not None else ""
        text = (
            f"Migration of virtual machine {{vm}} from {src_name}, {ds_name} to "
            f"{{host}}, {dest_ds_name} completed"
        )
        vm_event(ctx, "VmMigratedEvent", vm, text, chain, **source)


@handler("VirtualMachine", "RelocateVM_Task")
def relocate_vm(
    ctx: Context, this: MoRef, *, spec: d.VirtualMachineRelocateSpec, priority: str | None = None
) -> MoRef:
    visible(ctx, spec.host, spec.pool, spec.datastore, spec.folder)
    for attr in ("service", "transform", "deviceChange", "profile", "cryptoSpec"):
        if getattr(spec, attr) is not None:
            raise faults.not_supported(f"spec.{attr} is not implemented by spherekit.sim")
    devices = ctx.registry.props(this)["config"].hardware.device or []
    disk_keys = {dev.key for dev in devices if isinstance(dev, d.VirtualDisk)}
    for locator in spec.disk or []:
        visible(ctx, locator.datastore)
        if locator.diskId not in disk_keys:
            raise faults.invalid_argument(
                "spec.disk.diskId", f"the virtual machine has no disk with key {locator.diskId}"
            )

    def work(chain: int) -> None:
        reg = ctx.registry
        if spec.folder is not None and spec.folder != reg.prop(this, "parent"):
            check_unique(reg, spec.folder, reg.prop(this, "name"))
        _move(ctx, this, chain, spec.host, spec.pool, spec.datastore, "relocate")
        disks = {int(x.diskId): x.datastore for x in spec.disk or [] if x.datastore is not None}
        if disks:
            ds = spec.datastore or (reg.prop(this, "datastore") or [None])[0]
            _move_files(ctx, this, ds, disks)
            refresh(ctx, this)
        if spec.folder is not None and spec.folder != reg.prop(this, "parent"):
            old = reg.prop(this, "parent")
            reg.discard(old, "childEntity", this)
            reg.append(spec.folder, "childEntity", this)
            reg.update(this, {"parent": spec.folder})

    return start_task(ctx, this, "RelocateVM_Task", "VirtualMachine.relocate", work)


@handler("VirtualMachine", "MigrateVM_Task")
def migrate_vm(
    ctx: Context,
    this: MoRef,
    *,
    priority: str,
    pool: MoRef | None = None,
    host: MoRef | None = None,
    state: str | None = None,
) -> MoRef:
    visible(ctx, host, pool)
    if host is None and pool is None:
        raise faults.invalid_argument("host", "a host or a pool is required")

    def work(chain: int) -> None:
        current = ctx.registry.props(this)["runtime"].powerState
        if state is not None and state != current:
            raise faults.invalid_power_state(state, current)
        _move(ctx, this, chain, host, pool, None, "migrate")

    return start_task(ctx, this, "MigrateVM_Task", "VirtualMachine.migrate", work)
