"""What the VM modules read off devices: capacities, file names, networks, datastores,
controller capacities, NIC backings resolved to their network; the result types of
:func:`spherekit.sim.vm_devices.build_devices`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = [
    "FIXED",
    "Built",
    "DeviceWork",
    "NewDisk",
    "controller_lists",
    "datastores_of",
    "disk_bytes",
    "disk_label_summary",
    "file_name",
    "networks_of",
    "resolve_nic",
    "units",
]

FIXED = (
    d.VirtualIDEController,
    d.VirtualPS2Controller,
    d.VirtualPCIController,
    d.VirtualSIOController,
    d.VirtualKeyboard,
    d.VirtualPointingDevice,
    d.VirtualMachineVideoCard,
    d.VirtualMachineVMCIDevice,
)


@dataclass
class DeviceWork:
    """The outcome of a deviceChange: the new devices and what to do with files."""

    devices: list[d.VirtualDevice]
    #: disk files to create: (datastore path, capacity in bytes, parent datastore path)
    create: list[tuple[str, int, str | None]] = field(default_factory=list)
    #: disk files to delete
    delete: list[str] = field(default_factory=list)
    #: (adapter label, MAC) of every MAC address assigned
    macs: list[tuple[str, str]] = field(default_factory=list)


def disk_bytes(disk: d.VirtualDisk) -> int | None:
    """A disk's capacity in bytes (capacityInBytes wins over capacityInKB), or None."""
    if disk.capacityInBytes is not None:
        return int(disk.capacityInBytes)
    if disk.capacityInKB is not None:
        return int(disk.capacityInKB) * 1024
    return None


def file_name(dev: Any) -> str:
    """The datastore path of a device's file backing ("" if it has none)."""
    return str(getattr(dev.backing, "fileName", None) or "")


def disk_label_summary(kb: int) -> str:
    return f"{kb:,} KB"


def units(controller: d.VirtualController) -> range:
    if isinstance(controller, d.VirtualSCSIController):
        return range(16)
    if isinstance(controller, d.VirtualIDEController):
        return range(2)
    if isinstance(controller, d.VirtualSATAController):
        return range(30)
    if isinstance(controller, d.VirtualNVMEController):
        return range(64)
    if isinstance(controller, d.VirtualPCIController):
        return range(32)
    return range(16)


def resolve_nic(
    ctx: Context, dev: d.VirtualEthernetCard, i: int, networks: list[MoRef] | None = None
) -> tuple[Any, str]:
    """(resolved backing, summary) of a NIC."""
    reg = ctx.registry
    backing = dev.backing
    if isinstance(backing, d.VirtualEthernetCardNetworkBackingInfo):
        net = backing.network
        if net is None and backing.deviceName:
            candidates = networks or reg.of_type("Network")
            net = next((n for n in candidates if reg.prop(n, "name") == backing.deviceName), None)
        if net is None or net not in reg or net.type != "Network":
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing")
        name = str(reg.prop(net, "name"))
        return clone(backing, network=net, deviceName=name, useAutoDetect=False), name
    if isinstance(backing, d.VirtualEthernetCardDistributedVirtualPortBackingInfo):
        port = backing.port
        pg = next(
            (
                p
                for p in reg.of_type("DistributedVirtualPortgroup")
                if reg.prop(p, "key") == port.portgroupKey
            ),
            None,
        )
        if pg is None:
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing.port")
        switch = reg.prop(pg, "config").distributedVirtualSwitch
        uuid = reg.prop(switch, "uuid") if switch in reg else None
        if port.switchUuid != uuid:
            raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing.port")
        return backing, f"DVSwitch: {uuid}"
    raise faults.invalid_device_spec(i, "virtualDeviceSpec.device.backing")


def controller_lists(devices: list[d.VirtualDevice]) -> list[d.VirtualDevice]:
    """Each controller's ``device`` list, recomputed from the devices' controllerKey."""
    out = []
    for x in devices:
        if isinstance(x, d.VirtualController):
            keys = [y.key for y in devices if y.controllerKey == x.key]
            if keys != list(x.device or []):
                x = clone(x, device=keys or None)
        out.append(x)
    return out


def networks_of(devices: list[d.VirtualDevice]) -> list[MoRef]:
    """The networks the NICs among ``devices`` connect to (Network or portgroup refs)."""
    out: list[MoRef] = []
    for x in devices:
        if not isinstance(x, d.VirtualEthernetCard):
            continue
        b = x.backing
        if isinstance(b, d.VirtualEthernetCardNetworkBackingInfo) and b.network is not None:
            out.append(b.network)
        elif isinstance(b, d.VirtualEthernetCardDistributedVirtualPortBackingInfo):
            out.append(MoRef("DistributedVirtualPortgroup", str(b.port.portgroupKey)))
    return list(dict.fromkeys(out))


def datastores_of(devices: list[d.VirtualDevice]) -> list[MoRef]:
    """The datastores holding the disks among ``devices``."""
    out: list[MoRef] = []
    for x in devices:
        if isinstance(x, d.VirtualDisk) and x.backing is not None:
            ds = getattr(x.backing, "datastore", None)
            if ds is not None:
                out.append(ds)
    return list(dict.fromkeys(out))


@dataclass
class NewDisk:
    """A disk file CreateVM_Task must write: datastore name, path in it, size, disk UUID."""

    datastore: str
    path: str
    capacity: int
    uuid: str


@dataclass
class Built:
    """A new VM's devices (for CreateVM_Task / RegisterVM_Task)."""

    devices: list[d.VirtualDevice]
    datastores: list[MoRef]
    networks: list[MoRef]
    new_disks: list[NewDisk]
