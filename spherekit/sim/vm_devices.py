"""The device-spec engine: ``deviceChange`` (add / edit / remove) applied as vCenter does.

:func:`apply_device_changes` takes a VM's device list and a list of
``VirtualDeviceConfigSpec`` and returns the new list plus the file work to do. It assigns
device keys the way vCenter numbers them (SCSI disks ``2000 + 16*bus + unit``, IDE devices
``3000 + 2*bus + unit``, NICs from ``4000``, SCSI controllers ``1000 + bus``; a negative
key in the spec stands for the new device in later entries' ``controllerKey``), picks a
free ``unitNumber`` on a controller, names new disk files ``<vm>.vmdk``, ``<vm>_1.vmdk``,
..., gives NICs a MAC from vCenter's range, resolves network backings to their Network or
DistributedVirtualPortgroup, and keeps each controller's ``device`` list in step.

Faults as vCenter reports them: ``InvalidDeviceSpec`` (unknown key, unit taken),
``InvalidDeviceOperation`` (a disk may not shrink), ``DeviceHotPlugNotSupported`` (IDE
devices while powered on), ``FileAlreadyExists`` / ``FileNotFound`` for disk files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.storage import parse_ds_path
from spherekit.sim.values import clone, sparse
from spherekit.sim.vm_device_info import (
    FIXED,
    Built,
    DeviceWork,
    NewDisk,
    controller_lists,
    datastores_of,
    disk_bytes,
    disk_label_summary,
    file_name,
    networks_of,
    resolve_nic,
    units,
)

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = [
    "Built",
    "DeviceWork",
    "NewDisk",
    "apply_device_changes",
    "build_devices",
    "datastores_of",
    "disk_bytes",
    "disk_label_summary",
    "file_name",
    "networks_of",
]

#: devices every VM has and nobody may remove (controllers, keyboard, mouse, video, VMCI)


class _Engine:
    def __init__(
        self,
        ctx: Context,
        vm_name: str,
        vm_dir: str,
        powered_on: bool,
        datastores: Mapping[str, MoRef] | None = None,
        networks: list[MoRef] | None = None,
    ) -> None:
        self.ctx = ctx
        self.datastores = datastores
        self.networks = networks
        self.vm_name = vm_name
        self.vm_dir = vm_dir  # "[ds] name/"
        self.on = powered_on
        self.devices: list[d.VirtualDevice] = []
        self.keymap: dict[int, int] = {}
        self.work = DeviceWork([])

    # -- lookups ------------------------------------------------------------------------------

    def by_key(self, key: int) -> d.VirtualDevice | None:
        return next((x for x in self.devices if x.key == key), None)

    def usedunits(self, controller_key: int) -> set[int]:
        return {
            int(x.unitNumber)
            for x in self.devices
            if x.controllerKey == controller_key and x.unitNumber is not None
        }

    def free_key(self, start: int) -> int:
        keys = {x.key for x in self.devices}
        key = start
        while key in keys:
            key += 1
        return key

    def controller_of(self, dev: d.VirtualDevice, i: int) -> d.VirtualController | None:
        if dev.controllerKey is None:
            return None
        key = self.keymap.get(int(dev.controllerKey), int(dev.controllerKey))
        found = self.by_key(key)
        if not isinstance(found, d.VirtualController):
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.controllerKey")
        return found

    def pick_controller(self, kind: type[d.VirtualController]) -> d.VirtualController | None:
        for x in self.devices:
            if isinstance(x, kind) and len(self.usedunits(x.key)) < len(units(x)) - 1:
                return x
        return None

    def new_key(self, dev: d.VirtualDevice, ctl: d.VirtualController | None) -> int:
        unit = int(dev.unitNumber or 0)
        bus = int(ctl.busNumber) if ctl is not None else 0
        if isinstance(dev, d.VirtualEthernetCard):
            return self.free_key(4000)
        if isinstance(dev, d.VirtualSCSIController):
            return self.free_key(1000 + int(dev.busNumber))
        if isinstance(dev, d.VirtualSATAController):
            return self.free_key(15000 + int(dev.busNumber))
        if isinstance(dev, d.VirtualNVMEController):
            return self.free_key(31000 + int(dev.busNumber))
        if isinstance(ctl, d.VirtualSCSIController):
            return self.free_key(2000 + 16 * bus + unit)
        if isinstance(ctl, d.VirtualIDEController):
            return self.free_key(3000 + 2 * bus + unit)
        if isinstance(ctl, d.VirtualSATAController):
            return self.free_key(16000 + 30 * bus + unit)
        if isinstance(ctl, d.VirtualNVMEController):
            return self.free_key(32000 + 64 * bus + unit)
        return self.free_key(max([x.key for x in self.devices] + [99]) + 1)

    def label(self, dev: d.VirtualDevice) -> str:
        kinds: list[tuple[type[d.VirtualDevice], str]] = [
            (d.VirtualDisk, "Hard disk"),
            (d.VirtualEthernetCard, "Network adapter"),
            (d.VirtualCdrom, "CD/DVD drive"),
            (d.VirtualFloppy, "Floppy drive"),
        ]
        for kind, text in kinds:
            if isinstance(dev, kind):
                return f"{text} {sum(isinstance(x, kind) for x in self.devices) + 1}"
        if isinstance(dev, d.VirtualSCSIController):
            return f"SCSI controller {dev.busNumber}"
        if isinstance(dev, d.VirtualSATAController):
            return f"SATA controller {dev.busNumber}"
        if isinstance(dev, d.VirtualNVMEController):
            return f"NVME controller {dev.busNumber}"
        return type(dev).__name__

    # -- backings -------------------------------------------------------------------------

    def datastore(self, name: str, i: int) -> MoRef:
        reg = self.ctx.registry
        if self.datastores is not None:
            found = self.datastores.get(name)
            if found is None:
                raise faults.invalid_datastore_path(f"[{name}]", name)
            return found
        for ds in reg.of_type("Datastore"):
            if reg.prop(ds, "name") == name:
                return ds
        raise faults.invalid_datastore_path(f"[{name}]", name)

    def next_disk_path(self, ds_name: str) -> str:
        storage = self.ctx.backend.storage
        _ds, rel_dir = parse_ds_path(self.vm_dir)
        taken = {
            file_name(x)
            for x in self.devices
            if isinstance(x, d.VirtualDisk) and x.backing is not None
        } | {p for p, _c, _parent in self.work.create}
        n = 0
        while True:
            base = self.vm_name if n == 0 else f"{self.vm_name}_{n}"
            path = f"[{ds_name}] {rel_dir.rstrip('/')}/{base}.vmdk"
            if path not in taken and not storage.exists(*parse_ds_path(path)):
                return path
            n += 1

    def disk_backing(self, dev: d.VirtualDisk, i: int, file_op: str | None) -> Any:
        backing = dev.backing
        if not isinstance(backing, d.VirtualDeviceFileBackingInfo):
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing")
        name = (backing.fileName or "").strip()
        ds_name = parse_ds_path(self.vm_dir)[0]
        if name.startswith("["):
            ds_name, rel = parse_ds_path(name)
            name = name if rel else ""
        elif name:
            raise faults.invalid_datastore_path(name)
        if not name:
            if file_op not in ("create", "replace"):
                raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing.fileName")
            name = self.next_disk_path(ds_name)
        ds = self.datastore(ds_name, i)
        changes: dict[str, Any] = {"fileName": name, "datastore": ds}
        if isinstance(backing, d.VirtualDiskFlatVer2BackingInfo):
            for flag in ("split", "writeThrough", "thinProvisioned", "eagerlyScrub"):
                if getattr(backing, flag) is None:
                    changes[flag] = False
            if backing.uuid is None:
                changes["uuid"] = self.ctx.registry.uuid()
            if backing.sharing is None:
                changes["sharing"] = "sharingNone"
            if backing.digestEnabled is None:
                changes["digestEnabled"] = False
        exists = self.ctx.backend.storage.exists(*parse_ds_path(name))
        if file_op == "create" and exists:
            raise faults.file_already_exists(name)
        if file_op is None and not exists:
            raise faults.file_not_found(name)
        return clone(backing, **changes)

    def network(self, dev: d.VirtualEthernetCard, i: int) -> tuple[Any, str]:
        """(resolved backing, summary) of a NIC."""
        return resolve_nic(self.ctx, dev, i, self.networks)

    def add(self, spec: d.VirtualDeviceConfigSpec, i: int) -> None:
        dev = spec.device
        file_op = str(spec.fileOperation) if spec.fileOperation else None
        ctl = self.controller_of(dev, i)
        if ctl is None and not isinstance(dev, d.VirtualController):
            kind: type[d.VirtualController] = d.VirtualPCIController
            if isinstance(dev, d.VirtualDisk):
                kind = d.VirtualSCSIController
            elif isinstance(dev, d.VirtualCdrom):
                kind = d.VirtualIDEController
            ctl = self.pick_controller(kind)
            if ctl is None:
                raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.controllerKey")
        if isinstance(dev, d.VirtualController) and ctl is None:
            ctl = self.pick_controller(d.VirtualPCIController)
        if self.on and isinstance(ctl, d.VirtualIDEController):
            raise faults.device_hot_plug_not_supported(i)
        changes: dict[str, Any] = {}
        if ctl is not None:
            changes["controllerKey"] = ctl.key
            used = self.usedunits(ctl.key)
            reserved = (
                {int(ctl.scsiCtlrUnitNumber or 7)}
                if isinstance(ctl, d.VirtualSCSIController)
                else set()
            )
            if dev.unitNumber is not None:
                if int(dev.unitNumber) in used | reserved:
                    raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.unitNumber")
            else:
                start = 7 if isinstance(dev, d.VirtualEthernetCard) else 0
                free = [u for u in units(ctl) if u >= start and u not in used | reserved]
                if not free:
                    raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.unitNumber")
                changes["unitNumber"] = free[0]
        summary = None
        if isinstance(dev, d.VirtualDisk):
            size = disk_bytes(dev)
            if size is None or size <= 0:
                raise faults.invalid_argument("capacityInKB", "a disk's capacity must be > 0")
            changes |= {"capacityInBytes": size, "capacityInKB": size // 1024}
            backing = self.disk_backing(dev, i, file_op)
            changes["backing"] = backing
            summary = disk_label_summary(size // 1024)
            if file_op in ("create", "replace"):
                parent = getattr(backing, "parent", None)
                self.work.create.append(
                    (backing.fileName, size, parent.fileName if parent is not None else None)
                )
        elif isinstance(dev, d.VirtualEthernetCard):
            backing, summary = self.network(dev, i)
            changes["backing"] = backing
            if dev.addressType == "manual":
                if not dev.macAddress:
                    raise faults.invalid_argument("macAddress")
            else:
                changes["macAddress"] = self.ctx.registry.mac()
                changes["addressType"] = "assigned"
            if dev.wakeOnLanEnabled is None:
                changes["wakeOnLanEnabled"] = True
        elif isinstance(dev, d.VirtualCdrom):
            if isinstance(dev.backing, d.VirtualCdromIsoBackingInfo):
                summary = f"ISO {dev.backing.fileName}"
            else:
                summary = "Remote device"
        elif isinstance(dev, d.VirtualSCSIController):
            for k, v in (("hotAddRemove", True), ("sharedBus", "noSharing")):
                if getattr(dev, k) is None:
                    changes[k] = v
            changes["scsiCtlrUnitNumber"] = 7
        if dev.connectable is None and isinstance(
            dev, d.VirtualEthernetCard | d.VirtualCdrom | d.VirtualFloppy
        ):
            changes["connectable"] = d.VirtualDeviceConnectInfo(
                startConnected=True, allowGuestControl=True, connected=self.on, status="ok"
            )
        dev = clone(dev, **changes)
        key = self.new_key(dev, ctl)
        label = dev.deviceInfo.label if dev.deviceInfo and dev.deviceInfo.label else None
        label = label or self.label(dev)
        dev = clone(dev, key=key, deviceInfo=d.Description(label=label, summary=summary or label))
        if spec.device.key is not None:
            self.keymap[int(spec.device.key)] = key
        if isinstance(dev, d.VirtualEthernetCard) and "macAddress" in changes:
            self.work.macs.append((label, str(dev.macAddress)))
        self.devices.append(sparse(dev))

    def edit(self, spec: d.VirtualDeviceConfigSpec, i: int) -> None:
        new: Any = spec.device
        old: Any = self.by_key(int(new.key))
        if old is None or (not isinstance(new, type(old)) and not isinstance(old, type(new))):
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.key")
        merged = clone(old, **{k: v for k, v in new.__dict__.items() if v is not None})
        merged = clone(merged, controllerKey=old.controllerKey, unitNumber=old.unitNumber)
        summary = None
        if isinstance(old, d.VirtualDisk):
            before = disk_bytes(old) or 0
            # a client edits the device it read: whichever capacity field it changed wins
            after = before
            if new.capacityInBytes is not None and int(new.capacityInBytes) != before:
                after = int(new.capacityInBytes)
            elif new.capacityInKB is not None and int(new.capacityInKB) * 1024 != before:
                after = int(new.capacityInKB) * 1024
            if after is None or after < before or after <= 0:
                raise faults.invalid_device_operation(i, "edit")
            merged = clone(merged, capacityInBytes=after, capacityInKB=after // 1024)
            if new.backing is not None and old.backing is not None:
                merged = clone(
                    merged,
                    backing=clone(
                        old.backing, **{k: v for k, v in new.backing.__dict__.items() if v}
                    ),
                )
            merged = clone(merged, backing=clone(merged.backing, fileName=file_name(old)))
            summary = disk_label_summary(after // 1024)
        elif isinstance(old, d.VirtualEthernetCard):
            backing, summary = self.network(merged, i)
            merged = clone(merged, backing=backing)
            if new.addressType == "generated" or (
                new.addressType != "manual" and new.macAddress != old.macAddress
            ):
                merged = clone(merged, macAddress=old.macAddress, addressType=old.addressType)
        elif isinstance(old, d.VirtualCdrom):
            if isinstance(merged.backing, d.VirtualCdromIsoBackingInfo):
                summary = f"ISO {merged.backing.fileName}"
            else:
                summary = "Remote device"
        label = old.deviceInfo.label if old.deviceInfo is not None else self.label(old)
        merged = clone(merged, deviceInfo=d.Description(label=label, summary=summary or label))
        self.devices[self.devices.index(old)] = sparse(merged)

    def remove(self, spec: d.VirtualDeviceConfigSpec, i: int) -> None:
        old = self.by_key(int(spec.device.key))
        if old is None or isinstance(old, FIXED):
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.key")
        ctl = self.by_key(int(old.controllerKey)) if old.controllerKey is not None else None
        if self.on and isinstance(ctl, d.VirtualIDEController):
            raise faults.device_hot_plug_not_supported(i)
        if isinstance(old, d.VirtualController) and self.usedunits(old.key):
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device")
        if spec.fileOperation == "destroy" and isinstance(old, d.VirtualDisk):
            self.work.delete.append(file_name(old))
        self.devices.remove(old)


def apply_device_changes(
    ctx: Context,
    devices: list[d.VirtualDevice],
    changes: list[d.VirtualDeviceConfigSpec],
    *,
    vm_name: str,
    vm_dir: str,
    powered_on: bool,
    datastores: Mapping[str, MoRef] | None = None,
    networks: list[MoRef] | None = None,
) -> DeviceWork:
    """Apply ``changes`` to ``devices`` (not stored; the caller commits :class:`DeviceWork`).

    ``datastores`` (name -> ref) and ``networks`` limit what backings may name (a VM's
    datacenter); by default every datastore and network of the inventory."""
    engine = _Engine(ctx, vm_name, vm_dir, powered_on, datastores, networks)
    engine.devices = list(devices)
    # controllers first, so later entries may name them by their (negative) spec key
    order = sorted(
        range(len(changes)),
        key=lambda n: (
            not (
                changes[n].operation == "add" and isinstance(changes[n].device, d.VirtualController)
            )
        ),
    )
    for n in order:
        spec = changes[n]
        op = str(spec.operation) if spec.operation else None
        if op == "add":
            engine.add(spec, n)
        elif op == "edit":
            engine.edit(spec, n)
        elif op == "remove":
            engine.remove(spec, n)
        else:
            raise faults.invalid_device_spec(n, "virtualDeviceSpec.operation")
    engine.work.devices = controller_lists(engine.devices)
    return engine.work


def build_devices(
    ctx: Context,
    changes: list[d.VirtualDeviceConfigSpec],
    *,
    name: str,
    directory: str,
    datastores: Mapping[str, MoRef],
    networks: list[MoRef],
    register: bool = False,
) -> Built:
    """A new VM's device list: the devices every VM has plus ``changes`` (all ``add``)."""
    from spherekit.sim.vm_model import _fixed_devices

    base: list[d.VirtualDevice] = [sparse(x) for x in _fixed_devices() if isinstance(x, FIXED)]
    work = apply_device_changes(
        ctx,
        base,
        changes,
        vm_name=name,
        vm_dir=directory,
        powered_on=False,
        datastores=datastores,
        networks=networks,
    )
    by_path = {
        file_name(x): x
        for x in work.devices
        if isinstance(x, d.VirtualDisk) and x.backing is not None
    }
    new = []
    for path, size, _parent in work.create:
        ds, rel = parse_ds_path(path)
        uuid = getattr(by_path[path].backing, "uuid", None) or ctx.registry.uuid()
        new.append(NewDisk(ds, rel, size, uuid))
    return Built(work.devices, datastores_of(work.devices), networks_of(work.devices), new)
