"""The files behind a VM: its ``.vmx`` configuration and its disks' ``.vmdk`` descriptors.

CreateVM_Task writes them (:func:`vmx_text`, :func:`vmdk_descriptor`); RegisterVM_Task
reads a ``.vmx`` back into a ``VirtualMachineConfigSpec`` (:func:`spec_from_vmx`) and builds
the VM from it as CreateVM_Task would, with the disks it names. The text follows VMware's
formats (``key = "value"`` lines; a disk descriptor with one ``RW <sectors> VMFS`` extent) for
the keys the simulator models.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecOperation
from spherekit.sim import vmdk

ADD = VirtualDeviceConfigSpecOperation.add

__all__ = [
    "parse_vmx",
    "spec_from_vmx",
    "vmdk_capacity",
    "vmdk_descriptor",
    "vmx_text",
]

_SCSI = {
    "pvscsi": d.ParaVirtualSCSIController,
    "lsilogic": d.VirtualLsiLogicController,
    "lsisas1068": d.VirtualLsiLogicSASController,
    "buslogic": d.VirtualBusLogicController,
}
_NIC = {
    "vmxnet3": d.VirtualVmxnet3,
    "e1000": d.VirtualE1000,
    "e1000e": d.VirtualE1000e,
    "vmxnet2": d.VirtualVmxnet2,
    "vmxnet": d.VirtualVmxnet,
    "vlance": d.VirtualPCNet32,
}
_LINE = re.compile(r'^\s*([^#=\s][^=]*?)\s*=\s*"(.*)"\s*$')
_DEVICE_KEY = re.compile(r"^(scsi|sata|nvme|ide|ethernet)\d")
_CONSUMED = frozenset(
    {
        ".encoding",
        "config.version",
        "virtualHW.version",
        "displayName",
        "guestOS",
        "numvcpus",
        "cpuid.coresPerSocket",
        "memSize",
        "uuid.bios",
        "vc.uuid",
        "annotation",
        "firmware",
    }
)


def _vmx_uuid(value: str) -> str:
    """``"4210..."`` -> ``"42 10 ... -..."`` as a .vmx writes UUIDs."""
    h = value.replace("-", "").lower()
    pairs = [h[i : i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])


def _uuid(value: str) -> str | None:
    h = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    if len(h) != 32:
        return None
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _quote(value: str) -> str:
    return value.replace("|", "|7C").replace("\n", "|0A").replace('"', "|22")


def _unquote(value: str) -> str:
    return value.replace("|0A", "\n").replace("|22", '"').replace("|7C", "|")


def _controller_prefix(dev: Any) -> str | None:
    if isinstance(dev, d.VirtualSCSIController):
        return f"scsi{dev.busNumber}"
    if isinstance(dev, d.VirtualAHCIController):
        return f"sata{dev.busNumber}"
    if isinstance(dev, d.VirtualNVMEController):
        return f"nvme{dev.busNumber}"
    if isinstance(dev, d.VirtualIDEController):
        return f"ide{dev.busNumber}"
    return None


def _relative(file_name: str, directory: str) -> str:
    """A file's name relative to the VM directory (``[ds] vm/``) if it lies there."""
    return file_name[len(directory) :] if file_name.startswith(directory) else file_name


def vmx_text(config: Any, directory: str) -> bytes:
    """The ``.vmx`` of a VM whose ``VirtualMachineConfigInfo`` is ``config``; ``directory``
    is the VM directory as a datastore path ending in ``/``."""
    hw = config.hardware
    lines: list[tuple[str, str]] = [
        (".encoding", "UTF-8"),
        ("config.version", "8"),
        ("virtualHW.version", config.version.removeprefix("vmx-")),
        ("displayName", config.name),
        ("guestOS", config.guestId),
        ("numvcpus", str(hw.numCPU)),
        ("cpuid.coresPerSocket", str(hw.numCoresPerSocket or 1)),
        ("memSize", str(hw.memoryMB)),
        ("uuid.bios", _vmx_uuid(config.uuid)),
        ("vc.uuid", _vmx_uuid(config.instanceUuid)),
    ]
    if config.annotation:
        lines.append(("annotation", config.annotation))
    if config.firmware == "efi":
        lines.append(("firmware", "efi"))
    controllers = {dev.key: _controller_prefix(dev) for dev in hw.device}
    for dev in hw.device:
        prefix = controllers.get(dev.key)
        if prefix is not None and not prefix.startswith("ide"):
            lines.append((f"{prefix}.present", "TRUE"))
            for name, cls in _SCSI.items():
                if type(dev) is cls:
                    lines.append((f"{prefix}.virtualDev", name))
    nic = 0
    for dev in hw.device:
        slot = f"{controllers.get(dev.controllerKey)}:{dev.unitNumber}"
        if isinstance(dev, d.VirtualDisk):
            lines.append((f"{slot}.present", "TRUE"))
            file_name = getattr(dev.backing, "fileName", None) or ""
            lines.append((f"{slot}.fileName", _relative(file_name, directory)))
        elif isinstance(dev, d.VirtualCdrom):
            lines.append((f"{slot}.present", "TRUE"))
            if isinstance(dev.backing, d.VirtualCdromIsoBackingInfo):
                lines.append((f"{slot}.deviceType", "cdrom-image"))
                lines.append((f"{slot}.fileName", dev.backing.fileName))
            else:
                lines.append((f"{slot}.deviceType", "atapi-cdrom"))
        elif isinstance(dev, d.VirtualEthernetCard):
            lines += _nic_lines(f"ethernet{nic}", dev)
            nic += 1
    own = {k for k, _v in lines}
    for opt in config.extraConfig or []:
        if opt.key not in own and isinstance(opt.value, str | int | bool):
            lines.append((opt.key, str(opt.value)))
    return "".join(f'{k} = "{_quote(v)}"\n' for k, v in lines).encode()


def _nic_lines(prefix: str, dev: Any) -> Iterator[tuple[str, str]]:
    yield f"{prefix}.present", "TRUE"
    for name, cls in _NIC.items():
        if type(dev) is cls:
            yield f"{prefix}.virtualDev", name
    backing = dev.backing
    if isinstance(backing, d.VirtualEthernetCardDistributedVirtualPortBackingInfo):
        yield f"{prefix}.dvs.switchId", backing.port.switchUuid or ""
        yield f"{prefix}.dvs.portgroupId", backing.port.portgroupKey or ""
    elif backing is not None and getattr(backing, "deviceName", None):
        yield f"{prefix}.networkName", backing.deviceName
    if dev.addressType == "manual":
        yield f"{prefix}.addressType", "static"
        yield f"{prefix}.address", dev.macAddress or ""
    else:
        yield f"{prefix}.addressType", "vpx"
        yield f"{prefix}.generatedAddress", dev.macAddress or ""


def parse_vmx(data: bytes) -> dict[str, str]:
    """The ``key = "value"`` pairs of a ``.vmx`` (keys as written, later lines win)."""
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        m = _LINE.match(line)
        if m:
            out[m[1]] = _unquote(m[2])
    return out


def spec_from_vmx(
    vmx: dict[str, str], directory: str, disk_capacity: Callable[[str], int | None]
) -> d.VirtualMachineConfigSpec:
    """The config spec that rebuilds the VM a ``.vmx`` describes (for RegisterVM_Task);
    ``disk_capacity(datastore path)`` reads a disk's size from its descriptor."""
    changes: list[d.VirtualDeviceConfigSpec] = []
    temp = -100
    keys: dict[str, int] = {"ide0": 200, "ide1": 201}

    def add(dev: d.VirtualDevice) -> None:
        changes.append(d.VirtualDeviceConfigSpec(operation=ADD, device=dev))

    for family in ("scsi", "sata", "nvme"):
        for bus in range(4):
            prefix = f"{family}{bus}"
            if vmx.get(f"{prefix}.present", "").upper() != "TRUE":
                continue
            temp -= 1
            keys[prefix] = temp
            if family == "scsi":
                cls: Any = _SCSI.get(
                    vmx.get(f"{prefix}.virtualDev", ""), d.VirtualLsiLogicController
                )
                add(cls(key=temp, busNumber=bus, sharedBus="noSharing"))
            elif family == "sata":
                add(d.VirtualAHCIController(key=temp, busNumber=bus))
            else:
                add(d.VirtualNVMEController(key=temp, busNumber=bus))
    slots = sorted(
        {k.rsplit(".", 1)[0] for k in vmx if re.match(r"^(scsi|sata|nvme|ide)\d+:\d+\.", k)}
    )
    for slot in slots:
        if vmx.get(f"{slot}.present", "").upper() != "TRUE":
            continue
        prefix, unit = slot.split(":")
        controller = keys.get(prefix)
        if controller is None:
            continue
        temp -= 1
        kind = vmx.get(f"{slot}.deviceType", "")
        file = vmx.get(f"{slot}.fileName", "")
        if file and not file.startswith("["):
            file = directory + file
        if kind.startswith("cdrom") or kind == "atapi-cdrom":
            cd_backing: Any = (
                d.VirtualCdromIsoBackingInfo(fileName=file)
                if kind == "cdrom-image"
                else d.VirtualCdromRemotePassthroughBackingInfo(deviceName="", exclusive=False)
            )
            add(
                d.VirtualCdrom(
                    key=temp, controllerKey=controller, unitNumber=int(unit), backing=cd_backing
                )
            )
            continue
        capacity = disk_capacity(file) or 0
        backing = d.VirtualDiskFlatVer2BackingInfo(
            fileName=file, diskMode="persistent", thinProvisioned=True
        )
        add(
            d.VirtualDisk(
                key=temp,
                controllerKey=controller,
                unitNumber=int(unit),
                backing=backing,
                capacityInKB=capacity // 1024,
                capacityInBytes=capacity,
            )
        )
    for n in range(10):
        prefix = f"ethernet{n}"
        if vmx.get(f"{prefix}.present", "").upper() != "TRUE":
            continue
        temp -= 1
        add(_nic_from_vmx(vmx, prefix, temp))
    extra = [
        d.OptionValue(key=k, value=v)
        for k, v in vmx.items()
        if k not in _CONSUMED and not _DEVICE_KEY.match(k)
    ]
    version = vmx.get("virtualHW.version")
    cpus = vmx.get("numvcpus", "1")
    return d.VirtualMachineConfigSpec(
        name=vmx.get("displayName"),
        version=f"vmx-{version}" if version else None,
        guestId=vmx.get("guestOS"),
        numCPUs=int(cpus) if cpus.isdigit() else 1,
        numCoresPerSocket=int(vmx.get("cpuid.coresPerSocket", "1") or 1),
        memoryMB=int(vmx.get("memSize", "32") or 32),
        uuid=_uuid(vmx.get("uuid.bios", "")),
        instanceUuid=_uuid(vmx.get("vc.uuid", "")),
        annotation=vmx.get("annotation"),
        firmware=vmx.get("firmware"),
        extraConfig=extra or None,
        deviceChange=changes or None,
    )


def _nic_from_vmx(vmx: dict[str, str], prefix: str, key: int) -> d.VirtualEthernetCard:
    cls: Any = _NIC.get(vmx.get(f"{prefix}.virtualDev", ""), d.VirtualE1000)
    switch = vmx.get(f"{prefix}.dvs.switchId")
    backing: d.VirtualDeviceBackingInfo
    if switch:
        port = d.DistributedVirtualSwitchPortConnection(
            switchUuid=switch, portgroupKey=vmx.get(f"{prefix}.dvs.portgroupId")
        )
        backing = d.VirtualEthernetCardDistributedVirtualPortBackingInfo(port=port)
    else:
        backing = d.VirtualEthernetCardNetworkBackingInfo(
            deviceName=vmx.get(f"{prefix}.networkName", "")
        )
    static = vmx.get(f"{prefix}.addressType") == "static"
    mac = vmx.get(f"{prefix}.address" if static else f"{prefix}.generatedAddress") or None
    nic: d.VirtualEthernetCard = cls(
        key=key,
        backing=backing,
        addressType="manual" if static else ("assigned" if mac else "generated"),
        macAddress=mac,
    )
    return nic


def vmdk_descriptor(capacity: int, uuid: str, flat_name: str, version: str) -> bytes:
    """A monolithic-flat VMFS disk descriptor of ``capacity`` bytes (see :mod:`vmdk`)."""
    try:
        hardware = int(version.removeprefix("vmx-"))
    except ValueError:
        hardware = vmdk.Disk.hardware_version
    disk = vmdk.Disk(
        capacity_kb=capacity // 1024,
        uuid=vmdk.ddb_uuid(uuid),
        extent=flat_name,
        hardware_version=hardware,
    )
    return vmdk.render(disk)


def vmdk_capacity(data: bytes) -> int | None:
    """The size in bytes of the disk a descriptor describes (the sum of its extents)."""
    disk = vmdk.parse(data)
    return disk.capacity_kb * 1024 if disk is not None else None
