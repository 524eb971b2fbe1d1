"""VirtualMachine.ReconfigVM_Task: a ``VirtualMachineConfigSpec`` applied as vCenter does.

CPU and memory follow vCenter's hot-plug rules: while the VM is powered on, ``numCPUs``
may grow only with ``cpuHotAddEnabled`` (shrink only with ``cpuHotRemoveEnabled``),
``memoryMB`` may grow only with ``memoryHotAddEnabled`` and never shrink, and settings that
need a power cycle (cores per socket, guest OS, firmware, the hot-add flags themselves)
fail with ``InvalidPowerState``. ``extraConfig`` entries are added or changed, and an entry
with an empty value removes the key. ``deviceChange`` goes through
:mod:`spherekit.sim.vm_devices`; disk files are created and deleted on the datastore.

After every change the values derived from the configuration are recomputed as vCenter
shows them (:func:`refresh`): ``summary.config``, ``datastore`` and ``network`` (and the
reverse ``vm`` lists on datastores and networks), ``storage``, ``summary.storage`` and
``layoutEx``; ``config.changeVersion`` moves on. A field of the spec the simulator does not
model is refused with ``NotSupported`` rather than silently ignored.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.managed_entity import check_unique, entity_name
from spherekit.sim.methods import handler
from spherekit.sim.storage import Sparse, parse_ds_path
from spherekit.sim.values import clone, sparse
from spherekit.sim.vm_devices import (
    DeviceWork,
    apply_device_changes,
    datastores_of,
    disk_bytes,
    file_name,
    networks_of,
)
from spherekit.sim.vm_model import MERGED_CONFIG_FIELDS, config_changes
from spherekit.sim.vm_power import start_task, vm_event
from spherekit.sim.vm_vapp import apply_vapp_config
from spherekit.sim.vmx import vmdk_descriptor

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["apply_config_spec", "new_identity", "refresh", "write_disks"]

#: spec fields copied to ``config`` as they are (allowed while powered on)
_PLAIN = ("annotation", "changeTrackingEnabled", "swapPlacement", "alternateGuestName")
#: spec fields copied to ``config`` that need the VM powered off
_OFFLINE = (
    "guestId",
    "firmware",
    "nestedHVEnabled",
    "cpuHotAddEnabled",
    "cpuHotRemoveEnabled",
    "memoryHotAddEnabled",
    "uuid",
    "instanceUuid",
)
_HANDLED = frozenset(
    {"name", "numCPUs", "numCoresPerSocket", "memoryMB", "extraConfig", "deviceChange"}
    | {"vAppConfig", "vAppConfigRemoved"}
    | {"changeVersion", "dynamicType", "dynamicProperty"}
    | set(_PLAIN)
    | set(_OFFLINE)
    | set(MERGED_CONFIG_FIELDS)
)


def _datastore_ref(ctx: Context, name: str) -> MoRef | None:
    reg = ctx.registry
    return next((x for x in reg.of_type("Datastore") if reg.prop(x, "name") == name), None)


def _size(ctx: Context, path: str) -> int:
    try:
        local = ctx.backend.storage.resolve(path)
    except ValueError:
        return 0
    return local.stat().st_size if local.is_file() else 0


def _layout(ctx: Context, config: Any, old: Any) -> tuple[Any, dict[str, int]]:
    """``layoutEx`` from the configuration, and bytes committed per datastore name."""
    files: list[d.VirtualMachineFileLayoutExFileInfo] = []
    used: dict[str, int] = {}

    def add(name: str, kind: str) -> int:
        size = _size(ctx, name)
        key = len(files)
        files.append(
            d.VirtualMachineFileLayoutExFileInfo(
                key=key, name=name, type=kind, size=size, uniqueSize=size, accessible=True
            )
        )
        ds = parse_ds_path(name)[0]
        used[ds] = used.get(ds, 0) + size
        return key

    vmx = config.files.vmPathName
    directory = vmx.rpartition("/")[0]
    add(vmx, "config")
    add(f"{directory}/{posixpath.basename(vmx).rpartition('.')[0]}.nvram", "nvram")
    add(f"{directory}/vmware.log", "log")
    disks: list[Any] = []
    for dev in config.hardware.device or []:
        if not isinstance(dev, d.VirtualDisk) or dev.backing is None:
            continue
        chain: list[Any] = []
        backing: Any = dev.backing
        while backing is not None:
            name = backing.fileName
            desc = add(name, "diskDescriptor")
            suffix = "-delta.vmdk" if getattr(backing, "parent", None) else "-flat.vmdk"
            extent = add(name.removesuffix(".vmdk") + suffix, "diskExtent")
            chain.insert(0, d.VirtualMachineFileLayoutExDiskUnit(fileKey=[desc, extent]))
            backing = getattr(backing, "parent", None)
        disks.append(d.VirtualMachineFileLayoutExDiskLayout(key=dev.key, chain=chain))
    layout = d.VirtualMachineFileLayoutEx(
        file=files,
        disk=disks or None,
        snapshot=getattr(old, "snapshot", None),
        timestamp=datetime.now(UTC),
    )
    return sparse(layout), used


def refresh(ctx: Context, vm: MoRef) -> None:
    """Recompute what vCenter derives from ``config`` (see the module docstring)."""
    reg = ctx.registry
    props = reg.props(vm)
    config = props["config"]
    devices = list(config.hardware.device or [])
    disks = [x for x in devices if isinstance(x, d.VirtualDisk)]
    nics = [x for x in devices if isinstance(x, d.VirtualEthernetCard)]
    vmx_ds = _datastore_ref(ctx, parse_ds_path(config.files.vmPathName)[0])
    stores = list(dict.fromkeys([*([vmx_ds] if vmx_ds else []), *datastores_of(devices)]))
    nets = [n for n in networks_of(devices) if n in reg]
    for prop, new in (("datastore", stores), ("network", nets)):
        old = list(props.get(prop) or [])
        for x in old:
            if x not in new and x in reg:
                reg.discard(x, "vm", vm)
        for x in new:
            if x not in old:
                reg.append(x, "vm", vm)
    layout, used = _layout(ctx, config, props.get("layoutEx"))
    usage = []
    total_committed = total_uncommitted = 0
    for ds in stores:
        name = reg.prop(ds, "name")
        committed = used.get(name, 0)
        capacity = sum(
            disk_bytes(x) or 0 for x in disks if getattr(x.backing, "datastore", None) == ds
        )
        uncommitted = max(capacity - committed, 0)
        total_committed += committed
        total_uncommitted += uncommitted
        usage.append(
            d.VirtualMachineUsageOnDatastore(
                datastore=ds, committed=committed, uncommitted=uncommitted, unshared=committed
            )
        )
    now = datetime.now(UTC)
    summary = props["summary"]
    summary_config = clone(
        summary.config,
        name=config.name,
        template=bool(config.template),
        vmPathName=config.files.vmPathName,
        memorySizeMB=config.hardware.memoryMB,
        numCpu=config.hardware.numCPU,
        numEthernetCards=len(nics),
        numVirtualDisks=len(disks),
        uuid=config.uuid,
        instanceUuid=config.instanceUuid,
        guestId=config.guestId,
        guestFullName=config.guestFullName,
        annotation=config.annotation,
        hwVersion=config.version,
    )
    storage_summary = d.VirtualMachineStorageSummary(
        committed=total_committed, uncommitted=total_uncommitted, unshared=total_committed,
        timestamp=now,
    )  # fmt: skip
    runtime = clone(props["runtime"], maxMemoryUsage=config.hardware.memoryMB)
    reg.update(
        vm,
        {
            "datastore": stores or None,
            "network": nets or None,
            "layoutEx": layout,
            "storage": d.VirtualMachineStorageInfo(perDatastoreUsage=usage or None, timestamp=now),
            "runtime": runtime,
            "summary": clone(
                summary, config=summary_config, storage=storage_summary, runtime=runtime
            ),
        },
    )


def write_disks(ctx: Context, work: DeviceWork, version: str) -> None:
    """Create and delete the disk files a deviceChange asked for."""
    storage = ctx.backend.storage
    by_path = {
        file_name(x): x
        for x in work.devices
        if isinstance(x, d.VirtualDisk) and x.backing is not None
    }
    for path, size, parent in work.create:
        ds, rel = parse_ds_path(path)
        stem = rel.removesuffix(".vmdk")
        uuid = getattr(by_path[path].backing, "uuid", None) or ctx.registry.uuid()
        extent = "-delta.vmdk" if parent is not None else "-flat.vmdk"
        text = vmdk_descriptor(size, uuid, posixpath.basename(stem) + extent, version)
        if parent is not None:
            text += f'parentFileNameHint="{parse_ds_path(parent)[1]}"\n'.encode()
        storage.write(ds, rel, text)
        extent = "-delta.vmdk" if parent is not None else "-flat.vmdk"
        storage.write(ds, stem + extent, b"" if parent is not None else Sparse(size))
    for path in work.delete:
        ds, rel = parse_ds_path(path)
        stem = rel.removesuffix(".vmdk")
        for p in (rel, stem + "-flat.vmdk", stem + "-delta.vmdk"):
            if storage.exists(ds, p):
                storage.delete(ds, p)


def new_identity(ctx: Context, vm: MoRef) -> None:
    """A new BIOS UUID and new generated MAC addresses (a copied VM, "I Copied It")."""
    reg = ctx.registry
    config = reg.props(vm)["config"]
    devices = [
        clone(x, macAddress=reg.mac())
        if isinstance(x, d.VirtualEthernetCard) and x.addressType != "manual"
        else x
        for x in config.hardware.device or []
    ]
    hardware = clone(config.hardware, device=devices)
    reg.update(vm, {"config": clone(config, uuid=reg.uuid(), hardware=hardware)})
    refresh(ctx, vm)


def _check_cpu_memory(spec: d.VirtualMachineConfigSpec, config: Any, on: bool) -> None:
    hw = config.hardware
    if spec.numCPUs is not None and spec.numCPUs < 1:
        raise faults.invalid_argument("numCPUs")
    if spec.memoryMB is not None and (spec.memoryMB < 4 or spec.memoryMB % 4):
        raise faults.invalid_argument("memoryMB", "a multiple of 4 MB is required")
    cores = spec.numCoresPerSocket or hw.numCoresPerSocket or 1
    cpus = spec.numCPUs if spec.numCPUs is not None else hw.numCPU
    if cores < 1 or cpus % cores:
        raise faults.invalid_argument("numCoresPerSocket")
    if not on:
        return
    if spec.numCPUs is not None and spec.numCPUs != hw.numCPU:
        grow = spec.numCPUs > hw.numCPU
        if not (config.cpuHotAddEnabled if grow else config.cpuHotRemoveEnabled):
            raise faults.invalid_power_state("poweredOff", "poweredOn")
    if spec.memoryMB is not None and spec.memoryMB != hw.memoryMB:
        if spec.memoryMB < hw.memoryMB:
            raise faults.not_supported("Memory hot remove is not supported.")
        if not config.memoryHotAddEnabled:
            raise faults.invalid_power_state("poweredOff", "poweredOn")
    changed = [
        a
        for a in (*_OFFLINE, "numCoresPerSocket")
        if getattr(spec, a) is not None
        and getattr(spec, a) != getattr(hw if a == "numCoresPerSocket" else config, a)
    ]
    if changed:
        raise faults.invalid_power_state("poweredOff", "poweredOn")


def _extra_config(current: list[Any] | None, given: list[Any]) -> list[Any] | None:
    options = {o.key: o for o in current or []}
    for o in given:
        if o.value is None or o.value == "":
            options.pop(o.key, None)
        else:
            options[o.key] = d.OptionValue(key=o.key, value=o.value)
    return list(options.values()) or None


def apply_config_spec(
    ctx: Context,
    vm: MoRef,
    spec: d.VirtualMachineConfigSpec,
    chain: int | None = None,
    *,
    as_template: bool = True,
) -> DeviceWork | None:
    """Check and apply ``spec`` to ``vm``; return the device work done (if any).

    ``as_template=False`` configures a template as a VM (a clone being made into one)."""
    reg = ctx.registry
    for attr, xml, _t, _f, _v in spec._fields:
        if attr not in _HANDLED and getattr(spec, attr) is not None:
            raise faults.not_supported(
                f"spec.{xml} is not implemented by spherekit.sim's ReconfigVM_Task"
            )
    props = reg.props(vm)
    config = props["config"]
    on = props["runtime"].powerState != "poweredOff"
    if config.template and as_template:
        allowed = {"name", "annotation", "changeVersion", "dynamicType", "dynamicProperty"}
        if any(getattr(spec, a) is not None for a, *_ in spec._fields if a not in allowed):
            raise faults.not_supported("A template can only be renamed or annotated.")
    if spec.changeVersion is not None and spec.changeVersion != config.changeVersion:
        raise faults.concurrent_access("config.changeVersion differs")
    _check_cpu_memory(spec, config, on)
    name = props["name"]
    if spec.name is not None and spec.name != name:
        name = entity_name(spec.name, vm)
        if props.get("parent") is not None:
            check_unique(reg, props["parent"], name, exclude=vm)
    work = None
    devices = list(config.hardware.device or [])
    if spec.deviceChange:
        directory = config.files.vmPathName.rpartition("/")[0] + "/"
        work = apply_device_changes(
            ctx,
            devices,
            list(spec.deviceChange),
            vm_name=config.name,
            vm_dir=directory,
            powered_on=on,
        )
        devices = work.devices
    hw = config.hardware
    hardware = clone(
        hw,
        numCPU=spec.numCPUs if spec.numCPUs is not None else hw.numCPU,
        numCoresPerSocket=spec.numCoresPerSocket or hw.numCoresPerSocket,
        memoryMB=spec.memoryMB if spec.memoryMB is not None else hw.memoryMB,
        device=devices,
    )
    now = datetime.now(UTC)
    changes: dict[str, Any] = {
        "name": name,
        "hardware": hardware,
        "changeVersion": now.isoformat(),
        "modified": now,
    }
    changes.update(config_changes(config, spec, (*_PLAIN, *_OFFLINE)))
    if spec.extraConfig:
        changes["extraConfig"] = _extra_config(config.extraConfig, list(spec.extraConfig))
    if spec.vAppConfigRemoved:
        changes["vAppConfig"] = None
    elif spec.vAppConfig is not None:
        changes["vAppConfig"] = apply_vapp_config(config.vAppConfig, spec.vAppConfig)
    if work is not None:
        write_disks(ctx, work, config.version)
    reg.update(vm, {"name": name, "config": clone(config, **changes)})
    refresh(ctx, vm)
    for label, mac in work.macs if work is not None else []:
        vm_event(
            ctx,
            "VmMacAssignedEvent",
            vm,
            f"New MAC address ({mac}) assigned to adapter {label} for {{vm}}",
            chain,
            adapter=label,
            mac=mac,
        )
    return work


def reconfigure(ctx: Context, vm: MoRef, spec: d.VirtualMachineConfigSpec, chain: int) -> None:
    apply_config_spec(ctx, vm, spec, chain)
    vm_event(
        ctx, "VmReconfiguredEvent", vm, "Reconfigured {vm} on {host} in {dc}", chain,
        configSpec=spec,
    )  # fmt: skip


@handler("VirtualMachine", "ReconfigVM_Task")
def reconfig_vm(ctx: Context, this: MoRef, *, spec: d.VirtualMachineConfigSpec) -> MoRef:
    return start_task(
        ctx,
        this,
        "ReconfigVM_Task",
        "VirtualMachine.reconfigure",
        lambda chain: reconfigure(ctx, this, spec, chain),
    )
