"""VirtualMachine cloning and templates: CloneVM_Task, MarkAsTemplate, MarkAsVirtualMachine,
CustomizeVM_Task.

A full clone is a new VM (new BIOS and instance UUIDs, new generated MACs) whose files are
copied on the datastore, placed by ``spec.location`` (pool, host, datastore) in the given
folder. A linked clone (``spec.snapshot`` with ``diskMoveType``
``createNewChildDiskBacking``) gets child disks whose ``parent`` backing is the snapshot's
disk, read from the snapshot's ``config`` as vSphere keeps it. Cloning from a snapshot
clones the VM as it was then. ``spec.config`` is applied to the clone as ReconfigVM_Task
would, ``spec.customization`` goes to the guest model (applied at boot), ``spec.template``
makes a template and ``spec.powerOn`` powers the clone on. Events: VmBeingClonedEvent /
VmClonedEvent (VmBeingDeployedEvent / VmDeployedEvent from a template).
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.managed_entity import ancestor, check_unique, entity_name, event_argument
from spherekit.sim.methods import handler
from spherekit.sim.storage import Sparse, parse_ds_path
from spherekit.sim.values import clone
from spherekit.sim.vm_devices import file_name
from spherekit.sim.vm_power import ON, change_power, start_task, vm_event
from spherekit.sim.vm_reconfig import apply_config_spec, refresh
from spherekit.sim.vm_remove import remove_vm
from spherekit.sim.vm_spec import identity_events, resolve_target
from spherekit.sim.vmx import vmdk_descriptor, vmx_text

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["clone_vm"]

LINKED = "createNewChildDiskBacking"


def _directory(ctx: Context, ds: str, name: str) -> str:
    """A free directory for ``name`` on ``ds`` (``name``, ``name_1``, ... as vCenter)."""
    n, rel = 0, name
    while ctx.backend.storage.exists(ds, rel):
        n += 1
        rel = f"{name}_{n}"
    return rel


def _placement(
    ctx: Context, src: MoRef, folder: MoRef, loc: d.VirtualMachineRelocateSpec, template: bool
) -> tuple[MoRef | None, MoRef, MoRef]:
    """(pool, host, datastore) of the clone, checked as vCenter checks them."""
    reg = ctx.registry
    props = reg.props(src)
    for ref in (folder, loc.pool, loc.host, loc.datastore):
        if ref is not None and not ctx.visible(ref):
            raise faults.not_found(ref)
    pool, host = loc.pool, loc.host
    if pool is None and host is None:
        if props["config"].template and not template:
            raise faults.invalid_argument("spec.location.pool")
        pool = props.get("resourcePool")
        host = props["runtime"].host
    elif host is None and pool is not None:
        src_host = props["runtime"].host
        compute = ancestor(reg, pool, "ComputeResource")
        if compute is not None and src_host in (reg.prop(compute, "host") or []):
            host = src_host
    if pool is None and host is not None:
        pool = reg.prop(reg.prop(host, "parent"), "resourcePool")
    target = resolve_target(ctx, folder, pool, host)
    ds = loc.datastore
    if ds is None:
        ds_name = parse_ds_path(props["config"].files.vmPathName)[0]
        ds = next((x for x in reg.of_type("Datastore") if reg.prop(x, "name") == ds_name), None)
    if ds is None or ds not in (reg.prop(target.host, "datastore") or []):
        raise faults.invalid_argument("spec.location.datastore")
    return (None if template else target.pool), target.host, ds


def _copy_disk(
    ctx: Context, src: str | None, dest: str, size: int, uuid: str, version: str
) -> None:
    """Copy a disk (descriptor and extent, holes stay holes), or make it if it is missing."""
    storage = ctx.backend.storage
    ds, rel = parse_ds_path(dest)
    stem = rel.removesuffix(".vmdk")
    if src is not None and storage.exists(*parse_ds_path(src)):
        sds, srel = parse_ds_path(src)
        storage.copy((sds, srel), (ds, rel))
        flat = srel.removesuffix(".vmdk") + "-flat.vmdk"
        if storage.exists(sds, flat):
            storage.copy((sds, flat), (ds, stem + "-flat.vmdk"))
        else:
            storage.write(ds, stem + "-flat.vmdk", Sparse(size))
        return
    extent = posixpath.basename(stem) + "-flat.vmdk"
    storage.write(ds, rel, vmdk_descriptor(size, uuid, extent, version))
    storage.write(ds, stem + "-flat.vmdk", Sparse(size))


def _devices(
    ctx: Context,
    source: list[Any],
    directory: str,
    name: str,
    ds: MoRef,
    linked: bool,
    locators: dict[int, MoRef],
    version: str,
) -> list[Any]:
    """The clone's devices; disk files are written on the way."""
    reg = ctx.registry
    out = []
    n = 0
    for dev in source:
        if isinstance(dev, d.VirtualDisk) and dev.backing is not None:
            target_ds = locators.get(dev.key, ds)
            ds_name = reg.prop(target_ds, "name")
            rel_dir = parse_ds_path(directory)[1].rstrip("/")
            base = name if n == 0 else f"{name}_{n}"
            n += 1
            path = f"[{ds_name}] {rel_dir}/{base}.vmdk"
            uuid = reg.uuid()
            size = int(dev.capacityInBytes or (dev.capacityInKB or 0) * 1024)
            if linked:
                backing = clone(
                    dev.backing, fileName=path, datastore=target_ds, uuid=uuid,
                    parent=dev.backing, deltaDiskFormat="redoLogFormat",
                )  # fmt: skip
                text = vmdk_descriptor(size, uuid, f"{base}-delta.vmdk", version)
                hint = parse_ds_path(file_name(dev))[1]
                text += f'parentFileNameHint="{hint}"\n'.encode()
                ctx.backend.storage.write(ds_name, f"{rel_dir}/{base}.vmdk", text)
                ctx.backend.storage.write(ds_name, f"{rel_dir}/{base}-delta.vmdk", b"")
            else:
                backing = clone(
                    dev.backing, fileName=path, datastore=target_ds, uuid=uuid, parent=None,
                    deltaDiskFormat=None,
                )  # fmt: skip
                _copy_disk(ctx, file_name(dev), path, size, uuid, version)
            dev = clone(dev, backing=backing)
        elif isinstance(dev, d.VirtualEthernetCard) and dev.addressType != "manual":
            dev = clone(dev, macAddress=reg.mac())
        out.append(dev)
    return out


def clone_vm(
    ctx: Context, src: MoRef, folder: MoRef, name: str, spec: d.VirtualMachineCloneSpec, chain: int
) -> MoRef:
    reg = ctx.registry
    props = reg.props(src)
    loc = spec.location
    linked = loc.diskMoveType == LINKED
    config = props["config"]
    if spec.snapshot is not None:
        if spec.snapshot not in reg:
            raise faults.not_found(spec.snapshot)
        if reg.prop(spec.snapshot, "vm") != src or reg.prop(spec.snapshot, "config") is None:
            raise faults.invalid_argument("spec.snapshot")
        config = reg.prop(spec.snapshot, "config")
    elif linked:
        raise faults.invalid_argument("spec.snapshot", "a linked clone needs a snapshot")
    if spec.template and spec.powerOn:
        raise faults.invalid_argument("spec.powerOn", "a template cannot be powered on")
    name = entity_name(name)
    check_unique(reg, folder, name)
    pool, host, ds = _placement(ctx, src, folder, loc, bool(spec.template))
    dest_host = event_argument(reg, host, "HostEventArgument", "host")
    from_template = bool(props["config"].template) and not spec.template
    if from_template:
        vm_event(
            ctx, "VmBeingDeployedEvent", src,
            f"Deploying {name} on host {dest_host.name} in {{dc}} from template {{vm}}",
            chain, srcTemplate=d.VmEventArgument(name=props["name"], vm=src),
        )  # fmt: skip
    else:
        vm_event(
            ctx, "VmBeingClonedEvent", src,
            f"Cloning {{vm}} on host {{host}} in {{dc}} to {name} on host {dest_host.name}",
            chain, destFolder=event_argument(reg, folder, "FolderEventArgument", "folder"),
            destName=name, destHost=dest_host,
        )  # fmt: skip
    ds_name = reg.prop(ds, "name")
    rel_dir = _directory(ctx, ds_name, name)
    directory = f"[{ds_name}] {rel_dir}/"
    locators = {int(x.diskId): x.datastore for x in loc.disk or [] if x.datastore is not None}
    devices = _devices(
        ctx, list(config.hardware.device or []), directory, name, ds, linked, locators,
        config.version,
    )  # fmt: skip
    vmx = f"{directory}{name}.{'vmtx' if spec.template else 'vmx'}"
    now = datetime.now(UTC)
    files = clone(
        config.files, vmPathName=vmx, snapshotDirectory=directory, suspendDirectory=directory,
        logDirectory=directory,
    )  # fmt: skip
    new_config = clone(
        config, name=name, uuid=reg.uuid(), instanceUuid=reg.uuid(), files=files,
        hardware=clone(config.hardware, device=devices), template=bool(spec.template),
        createDate=now, changeVersion=now.isoformat(), modified=now,
    )  # fmt: skip
    runtime = clone(
        props["runtime"], host=host, powerState="poweredOff", bootTime=None, suspendTime=None,
        question=None,
    )  # fmt: skip
    guest = clone(
        props["guest"], toolsRunningStatus="guestToolsNotRunning", guestState="notRunning",
        ipAddress=None, net=None, hostName=None, ipStack=None,
    )  # fmt: skip
    ref = reg.new_ref("VirtualMachine")
    compute = reg.prop(host, "parent")
    new: dict[str, Any] = {
        key: props[key]
        for key in ("overallStatus", "configStatus", "effectiveRole", "alarmActionsEnabled")
        if key in props
    }
    new |= {
        "name": name,
        "parent": folder,
        "config": new_config,
        "runtime": runtime,
        "guest": guest,
        "summary": clone(props["summary"], vm=ref, runtime=runtime),
        "guestHeartbeatStatus": "gray",
        "environmentBrowser": reg.prop(compute, "environmentBrowser"),
    }
    if pool is not None:
        new["resourcePool"] = pool
    ctx.backend.storage.write(ds_name, posixpath.join(rel_dir, posixpath.basename(vmx)), b"")
    reg.add(ref, {k: v for k, v in new.items() if v is not None})
    reg.append(folder, "childEntity", ref)
    reg.append(host, "vm", ref)
    if pool is not None:
        reg.append(pool, "vm", ref)
    try:
        refresh(ctx, ref)
        changes = list(loc.deviceChange or []) + list(
            getattr(spec.config, "deviceChange", None) or []
        )
        if spec.config is not None or changes:
            cspec = clone(spec.config or d.VirtualMachineConfigSpec(), deviceChange=changes or None)
            apply_config_spec(ctx, ref, cspec, chain, as_template=False)
    except BaseException:
        remove_vm(ctx, ref, chain=chain, delete_files=True)
        raise
    final = reg.props(ref)["config"]
    ctx.backend.storage.write(
        ds_name, posixpath.join(rel_dir, posixpath.basename(vmx)), vmx_text(final, directory)
    )
    refresh(ctx, ref)
    identity_events(ctx, ref, chain)
    if spec.customization is not None:
        ctx.backend.guests.customize(ctx, ref, spec.customization)
    if from_template:
        vm_event(
            ctx, "VmDeployedEvent", ref, f"Template {props['name']} deployed on host {{host}}",
            chain, srcTemplate=d.VmEventArgument(name=props["name"], vm=src),
        )  # fmt: skip
    else:
        vm_event(
            ctx, "VmClonedEvent", ref, f"Clone of {props['name']} completed", chain,
            sourceVm=d.VmEventArgument(name=props["name"], vm=src),
        )  # fmt: skip
    if spec.powerOn:
        change_power(ctx, ref, ON, chain)
    return ref


@handler("VirtualMachine", "CloneVM_Task")
def clone_vm_task(
    ctx: Context, this: MoRef, *, folder: MoRef, name: str, spec: d.VirtualMachineCloneSpec
) -> MoRef:
    if not ctx.visible(folder):
        raise faults.not_found(folder)
    return start_task(
        ctx,
        this,
        "CloneVM_Task",
        "VirtualMachine.clone",
        lambda chain: clone_vm(ctx, this, folder, name, spec, chain),
    )


# -- templates -------------------------------------------------------------------------------


def _rename_config_file(ctx: Context, vm: MoRef, ext: str) -> None:
    """``.vmx`` <-> ``.vmtx``, as vCenter renames the file of a VM that becomes a template."""
    reg = ctx.registry
    config = reg.props(vm)["config"]
    old = config.files.vmPathName
    new = old.rpartition(".")[0] + ext
    storage = ctx.backend.storage
    ds, rel = parse_ds_path(old)
    if storage.exists(ds, rel):
        storage.move((ds, rel), (ds, parse_ds_path(new)[1]))
    reg.update(vm, {"config.files.vmPathName": new})


@handler("VirtualMachine", "MarkAsTemplate")
def mark_as_template(ctx: Context, this: MoRef) -> None:
    reg = ctx.registry
    props = reg.props(this)
    if props["config"].template:
        raise faults.not_supported()
    state = props["runtime"].powerState
    if state != "poweredOff":
        raise faults.invalid_power_state("poweredOff", state)
    pool = props.get("resourcePool")
    reg.update(this, {"config.template": True, "resourcePool": None})
    if pool is not None and pool in reg:
        reg.discard(pool, "vm", this)
    _rename_config_file(ctx, this, ".vmtx")
    refresh(ctx, this)


@handler("VirtualMachine", "MarkAsVirtualMachine")
def mark_as_virtual_machine(
    ctx: Context, this: MoRef, *, pool: MoRef, host: MoRef | None = None
) -> None:
    reg = ctx.registry
    props = reg.props(this)
    if not props["config"].template:
        raise faults.not_supported()
    for ref in (pool, host):
        if ref is not None and not ctx.visible(ref):
            raise faults.not_found(ref)
    if pool.type not in ("ResourcePool", "VirtualApp"):
        raise faults.invalid_argument("pool")
    compute = ancestor(reg, pool, "ComputeResource")
    if compute is None or ancestor(reg, compute, "Datacenter") != ancestor(reg, this, "Datacenter"):
        raise faults.invalid_argument("pool")
    hosts = list(reg.prop(compute, "host") or [])
    current = props["runtime"].host
    if host is not None and host not in hosts:
        raise faults.invalid_argument("host")
    if host is None:
        host = current if current in hosts else (hosts[0] if hosts else None)
    if host is None:
        raise faults.invalid_argument("host")
    runtime = clone(props["runtime"], host=host)
    reg.update(
        this,
        {"config.template": False, "resourcePool": pool, "runtime": runtime},
    )
    reg.append(pool, "vm", this)
    if host != current:
        if current is not None and current in reg:
            reg.discard(current, "vm", this)
        reg.append(host, "vm", this)
    _rename_config_file(ctx, this, ".vmx")
    refresh(ctx, this)


@handler("VirtualMachine", "CustomizeVM_Task")
def customize_vm(ctx: Context, this: MoRef, *, spec: d.CustomizationSpec) -> MoRef:
    def work(chain: int) -> None:
        props = ctx.registry.props(this)
        if props["config"].template:
            raise faults.not_supported()
        state = props["runtime"].powerState
        if state != "poweredOff":
            raise faults.invalid_power_state("poweredOff", state)
        ctx.backend.guests.customize(ctx, this, spec)

    return start_task(ctx, this, "CustomizeVM_Task", "VirtualMachine.customize", work)
