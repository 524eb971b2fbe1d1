"""Virtual machines entering the inventory: CreateVM_Task and RegisterVM_Task (leaving it:
:mod:`spherekit.sim.vm_remove`).

A VM is built from a ``VirtualMachineConfigSpec`` (the one the client sent, or the one
:func:`spherekit.sim.vmx.spec_from_vmx` reads back from a ``.vmx``) on top of
:class:`~spherekit.sim.vm_model.VmFactory`'s defaults, and linked where vCenter shows it:
its folder's ``childEntity``, its pool's, host's, datastores' and networks' ``vm``.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.managed_entity import ancestor, check_unique, entity_name
from spherekit.sim.storage import parse_ds_path
from spherekit.sim.values import clone, sparse
from spherekit.sim.vm_devices import build_devices
from spherekit.sim.vm_model import Placement, VmFactory, config_changes
from spherekit.sim.vm_remove import remove_vm, where_names
from spherekit.sim.vmx import vmdk_descriptor, vmx_text

if TYPE_CHECKING:
    from spherekit.sim.backend import Context
    from spherekit.sim.registry import Registry

__all__ = ["Target", "create_vm", "remove_vm", "resolve_target"]

#: guest ids whose full names the simulator knows (others are shown as their id)
GUESTS = {
    "otherGuest": "Other (32-bit)",
    "otherGuest64": "Other (64-bit)",
    "otherLinuxGuest": "Other Linux (32-bit)",
    "otherLinux64Guest": "Other Linux (64-bit)",
    "ubuntu64Guest": "Ubuntu Linux (64-bit)",
    "debian12_64Guest": "Debian GNU/Linux 12 (64-bit)",
    "rhel9_64Guest": "Red Hat Enterprise Linux 9 (64-bit)",
    "centos8_64Guest": "CentOS 8 (64-bit)",
    "windows2019srv_64Guest": "Microsoft Windows Server 2019 (64-bit)",
    "windows9_64Guest": "Microsoft Windows 10 (64-bit)",
}
#: config spec fields CreateVM_Task applies; any other field set is refused (NotSupported)
_HANDLED = frozenset(
    {
        "name", "version", "uuid", "instanceUuid", "guestId", "alternateGuestName",
        "annotation", "files", "numCPUs", "numCoresPerSocket", "memoryMB", "deviceChange",
        "extraConfig", "firmware", "cpuHotAddEnabled", "cpuHotRemoveEnabled",
        "memoryHotAddEnabled", "changeTrackingEnabled", "nestedHVEnabled", "bootOptions",
        "tools", "flags", "cpuAllocation", "memoryAllocation", "swapPlacement",
        "changeVersion", "createDate",
    }
)  # fmt: skip
_BASE = ("dynamicType", "dynamicProperty")
#: spec fields copied to the new VM's config as they are
_PLAIN = (
    "annotation", "firmware", "alternateGuestName", "cpuHotAddEnabled", "cpuHotRemoveEnabled",
    "memoryHotAddEnabled", "changeTrackingEnabled", "nestedHVEnabled", "swapPlacement",
)  # fmt: skip


class Target:
    """Where a new VM goes: folder, pool (None for a template), host, datacenter."""

    def __init__(self, folder: MoRef, pool: MoRef | None, host: MoRef, dc: MoRef) -> None:
        self.folder, self.pool, self.host, self.dc = folder, pool, host, dc


def _hosts(reg: Registry, compute: MoRef) -> list[MoRef]:
    return list(reg.prop(compute, "host") or [])


def resolve_target(
    ctx: Context, folder: MoRef, pool: MoRef | None, host: MoRef | None, template: bool = False
) -> Target:
    """Check a folder / pool / host placement as vCenter does and pick the host."""
    reg = ctx.registry
    dc = ancestor(reg, folder, "Datacenter")
    if dc is None:
        raise faults.not_supported("The folder is not in a datacenter.")
    compute: MoRef | None
    if pool is not None:
        compute = ancestor(reg, pool, "ComputeResource")
    else:
        compute = reg.prop(host, "parent") if host is not None else None
    if compute is None or ancestor(reg, compute, "Datacenter") != dc:
        raise faults.invalid_argument("pool" if pool is not None else "host")
    hosts = _hosts(reg, compute)
    if host is not None:
        if host not in hosts:
            raise faults.invalid_argument("host", "not a host of the pool's compute resource")
    elif compute.type == "ClusterComputeResource":
        drs = getattr(reg.prop(compute, "configurationEx"), "drsConfig", None)
        if not getattr(drs, "enabled", False) or not hosts:
            raise faults.invalid_argument("host", "the cluster has no DRS to choose one")
        host = min(hosts, key=lambda h: len(reg.prop(h, "vm") or []))
    elif hosts:
        host = hosts[0]
    else:
        raise faults.invalid_argument("pool", "the compute resource has no host")
    return Target(folder, None if template else pool or reg.prop(compute, "resourcePool"), host, dc)


def _datastores(reg: Registry, dc: MoRef) -> dict[str, MoRef]:
    return {reg.prop(ds, "name"): ds for ds in reg.prop(dc, "datastore") or []}


def _vm_directory(ctx: Context, vm_path: str, name: str, register: bool) -> tuple[str, str]:
    """(datastore name, path of the .vmx) for ``files.vmPathName``; a bare ``[ds]`` gets
    the directory ``name`` (``name_1``... if taken), as vCenter names it."""
    try:
        ds, rel = parse_ds_path(vm_path)
    except ValueError:
        raise faults.invalid_datastore_path(vm_path) from None
    storage = ctx.backend.storage
    if register or rel.endswith((".vmx", ".vmtx")):
        if not register and storage.exists(ds, rel):
            raise faults.file_already_exists(vm_path)
        return ds, rel
    if rel:
        vmx = f"{rel.rstrip('/')}/{name}.vmx"
        if storage.exists(ds, vmx):
            raise faults.file_already_exists(f"[{ds}] {vmx}")
        return ds, vmx
    n, directory = 0, name
    while storage.exists(ds, directory):
        n += 1
        directory = f"{name}_{n}"
    return ds, f"{directory}/{name}.vmx"


def create_vm(
    ctx: Context,
    target: Target,
    spec: d.VirtualMachineConfigSpec,
    *,
    chain: int,
    register: bool = False,
    template: bool = False,
) -> MoRef:
    """Build, store and link a VM; post its events. Must run under the registry lock."""
    reg = ctx.registry
    for attr, _xml, _t, _f, _v in spec._fields:
        if attr not in _HANDLED and attr not in _BASE and getattr(spec, attr) is not None:
            raise faults.not_supported(
                f"configSpec.{_xml} is not implemented by spherekit.sim's CreateVM_Task"
            )
    if not spec.name:
        raise faults.invalid_vm_config("configSpec.name")
    name = entity_name(spec.name)
    check_unique(reg, target.folder, name)
    if spec.files is None or not spec.files.vmPathName:
        raise faults.invalid_vm_config("configSpec.files.vmPathName")
    ds_name, vmx_rel = _vm_directory(ctx, spec.files.vmPathName, name, register)
    stores = _datastores(reg, target.dc)
    ds = stores.get(ds_name)
    if ds is None or ds not in (reg.prop(target.host, "datastore") or []):
        raise faults.invalid_datastore_path(spec.files.vmPathName, ds_name)
    directory = f"[{ds_name}] {posixpath.dirname(vmx_rel)}/"
    networks = list(reg.prop(target.dc, "network") or [])
    result = build_devices(
        ctx,
        list(spec.deviceChange or []),
        name=name,
        directory=directory,
        datastores=stores,
        networks=networks,
        register=register,
    )
    host_nets = list(reg.prop(target.host, "network") or []) or networks
    compute = reg.prop(target.host, "parent")
    where = Placement(
        folder=target.folder,
        host=target.host,
        pool=target.pool or reg.prop(compute, "resourcePool"),
        datastore=ds,
        datastore_name=ds_name,
        network=host_nets[0] if host_nets else ds,
        network_name="",
        environment_browser=reg.prop(compute, "environmentBrowser"),
    )
    ref, props = VmFactory(reg, where, powered_on=False).make(name)
    props = _configure(ctx, props, spec, result.devices, f"[{ds_name}] {vmx_rel}", template)
    datastores = list(dict.fromkeys([ds, *result.datastores]))
    props["datastore"] = datastores
    props["network"] = result.networks or None
    if target.pool is None:
        props.pop("resourcePool", None)
    _write_files(ctx, props["config"], ds_name, vmx_rel, result.new_disks, register)
    reg.add(ref, props)
    reg.append(target.folder, "childEntity", ref)
    if target.pool is not None:
        reg.append(target.pool, "vm", ref)
    reg.append(target.host, "vm", ref)
    for x in datastores + result.networks:
        reg.append(x, "vm", ref)
    _created_events(ctx, ref, spec, chain, register, template)
    return ref


def _configure(
    ctx: Context,
    props: dict[str, Any],
    spec: d.VirtualMachineConfigSpec,
    devices: list[Any],
    vmx_path: str,
    template: bool,
) -> dict[str, Any]:
    config = props["config"]
    guest_id = spec.guestId or config.guestId
    full_name = GUESTS.get(guest_id, guest_id)
    cpus, memory = spec.numCPUs or 1, spec.memoryMB or 32
    hardware = d.VirtualHardware(
        numCPU=cpus, numCoresPerSocket=spec.numCoresPerSocket or 1, memoryMB=memory, device=devices
    )
    directory = vmx_path.rpartition("/")[0] + "/"
    files = d.VirtualMachineFileInfo(
        vmPathName=vmx_path,
        snapshotDirectory=directory,
        suspendDirectory=directory,
        logDirectory=directory,
    )
    stem = vmx_path.rpartition("/")[2].rpartition(".")[0]
    extra = [d.OptionValue(key="nvram", value=f"{stem}.nvram"), *(spec.extraConfig or [])]
    changes: dict[str, Any] = {
        "guestId": guest_id,
        "guestFullName": full_name,
        "version": spec.version or config.version,
        "files": sparse(files),
        "hardware": sparse(hardware),
        "template": template,
        "extraConfig": list({o.key: o for o in extra}.values()),
        "uuid": spec.uuid or config.uuid,
        "instanceUuid": spec.instanceUuid or config.instanceUuid,
    }
    changes.update(config_changes(config, spec, _PLAIN))
    config = clone(config, **changes)
    disks = [x for x in devices if isinstance(x, d.VirtualDisk)]
    nics = [x for x in devices if isinstance(x, d.VirtualEthernetCard)]
    disk_bytes = sum(x.capacityInBytes or 0 for x in disks)
    runtime = clone(props["runtime"], maxMemoryUsage=memory)
    summary_config = clone(
        props["summary"].config,
        vmPathName=vmx_path,
        template=template,
        memorySizeMB=memory,
        numCpu=cpus,
        numEthernetCards=len(nics),
        numVirtualDisks=len(disks),
        uuid=config.uuid,
        instanceUuid=config.instanceUuid,
        guestId=guest_id,
        guestFullName=full_name,
        hwVersion=config.version,
        annotation=config.annotation,
    )
    storage = clone(props["summary"].storage, uncommitted=disk_bytes)
    summary = clone(props["summary"], config=summary_config, runtime=runtime, storage=storage)
    usage = [
        d.VirtualMachineUsageOnDatastore(datastore=ds, committed=0, uncommitted=0, unshared=0)
        for ds in props["datastore"]
    ]
    return props | {
        "config": config,
        "runtime": runtime,
        "summary": summary,
        "guest": clone(props["guest"], guestId=guest_id, guestFullName=full_name),
        "storage": clone(props["storage"], perDatastoreUsage=usage),
    }


def _write_files(
    ctx: Context, config: Any, ds: str, vmx_rel: str, disks: list[Any], register: bool
) -> None:
    if register:
        return
    storage = ctx.backend.storage
    directory = f"[{ds}] {posixpath.dirname(vmx_rel)}/"
    storage.mkdir(ds, posixpath.dirname(vmx_rel))
    for disk in disks:
        stem = disk.path.removesuffix(".vmdk")
        flat = f"{stem}-flat.vmdk"
        descriptor = vmdk_descriptor(
            disk.capacity, disk.uuid, posixpath.basename(flat), config.version
        )
        storage.write(disk.datastore, disk.path, descriptor)
        storage.write(disk.datastore, flat, b"")
    storage.write(ds, vmx_rel, vmx_text(config, directory))


def _created_events(
    ctx: Context,
    vm: MoRef,
    spec: d.VirtualMachineConfigSpec,
    chain: int,
    register: bool,
    template: bool,
) -> None:
    reg = ctx.registry
    name = reg.prop(vm, "name")
    host, dc = where_names(ctx, vm)
    if register:
        message = f"Registered {name} on {host} in {dc}"
        emit(
            ctx, "VmRegisteredEvent", entity=vm, chain_id=chain, message=message, template=template
        )
        return
    compute = reg.prop(reg.prop(vm, "runtime").host, "parent")
    emit(
        ctx,
        "VmBeingCreatedEvent",
        entity=vm,
        chain_id=chain,
        message=f"Creating {name} on {host}, {reg.prop(compute, 'name')} in {dc}",
        template=False,
        configSpec=spec,
    )
    identity_events(ctx, vm, chain)
    emit(
        ctx,
        "VmCreatedEvent",
        entity=vm,
        chain_id=chain,
        message=f"Created virtual machine {name} on {host} in {dc}",
        template=False,
    )


def identity_events(ctx: Context, vm: MoRef, chain: int) -> None:
    """What vCenter posts as a new VM (created or cloned) gets its identity: its instance
    and BIOS UUIDs, and each generated MAC address."""
    reg = ctx.registry
    name = reg.prop(vm, "name")
    host, dc = where_names(ctx, vm)
    config = reg.prop(vm, "config")
    emit(
        ctx, "VmInstanceUuidAssignedEvent", entity=vm, chain_id=chain, template=False,
        message=f"Assign a new instance UUID ({config.instanceUuid}) to {name}",
        instanceUuid=config.instanceUuid,
    )  # fmt: skip
    emit(
        ctx, "VmUuidAssignedEvent", entity=vm, chain_id=chain, template=False,
        message=f"Assigned new BIOS UUID ({config.uuid}) to {name} on {host} in {dc}",
        uuid=config.uuid,
    )  # fmt: skip
    for dev in config.hardware.device or []:
        if isinstance(dev, d.VirtualEthernetCard) and dev.addressType != "manual":
            label = dev.deviceInfo.label if dev.deviceInfo is not None else str(dev.key)
            emit(
                ctx, "VmMacAssignedEvent", entity=vm, chain_id=chain, template=False,
                message=f"New MAC address ({dev.macAddress}) assigned to adapter {label} for "
                f"{name}", adapter=label, mac=dev.macAddress,
            )  # fmt: skip
