"""OvfManager.CreateDescriptor: an OVF 1.1 descriptor describing a VM, as vCenter writes it.

The descriptor has References (one File per disk), DiskSection, NetworkSection, the
VirtualSystem with its OperatingSystemSection, VirtualHardwareSection (CPU, memory,
controllers, disks, CD-ROMs, NICs; rasd elements in schema order), AnnotationSection and
ProductSection (from ``config.vAppConfig``). The File of a disk is the ``OvfFile`` the
caller passes in ``cdp.ovfFiles`` whose ``deviceId`` is the disk's device key (the
``key`` of ExportVm's device URL, ``/vm-42/VirtualLsiLogicController0:0``); without
``ovfFiles`` (a simulator convenience, documented) the files are named by the target ids
ExportVm gives its device URLs (``disk-0.vmdk``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim.ovf import NS
from spherekit.sim.ovf_import_spec import device_id
from spherekit.sim.registry import Registry

__all__ = ["ExportDisk", "describe", "export_disks"]

_FORMAT = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
_O, _R, _S, _V = (f"{{{NS[k]}}}" for k in ("ovf", "rasd", "vssd", "vmw"))
_NIC_SUBTYPES = {
    "VirtualE1000": "E1000",
    "VirtualE1000e": "E1000e",
    "VirtualVmxnet3": "VmxNet3",
    "VirtualVmxnet2": "VmxNet2",
    "VirtualVmxnet": "VmxNet",
    "VirtualPCNet32": "PCNet32",
}
_SCSI_SUBTYPES = {
    "VirtualLsiLogicController": "lsilogic",
    "VirtualBusLogicController": "buslogic",
    "VirtualLsiLogicSASController": "lsilogicsas",
    "ParaVirtualSCSIController": "VirtualSCSI",
}


@dataclass(frozen=True)
class ExportDisk:
    """A disk as an export lease and a descriptor name it."""

    disk: d.VirtualDisk
    key: str  # /vm-42/VirtualLsiLogicController0:0
    target: str  # disk-0.vmdk
    file_name: str  # [LocalDS_0] vm/vm.vmdk


def export_disks(vm: MoRef, devices: list[Any]) -> list[ExportDisk]:
    """The VM's disks in device order, with their device keys and target ids."""
    by_key = {x.key: x for x in devices}
    out: list[ExportDisk] = []
    for dev in devices:
        if not isinstance(dev, d.VirtualDisk):
            continue
        ctl = by_key.get(dev.controllerKey)
        if ctl is None:
            continue
        name = getattr(dev.backing, "fileName", None) or ""
        key = device_id(vm.value, ctl, int(dev.unitNumber or 0))
        out.append(ExportDisk(dev, key, f"disk-{len(out)}.vmdk", name))
    return out


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(
        parent, tag, {(_O + k if ":" not in k else k): v for k, v in attrs.items()}
    )
    if text is not None:
        el.text = text
    return el


def _item(parent: etree._Element, fields: dict[str, str | None]) -> None:
    item = etree.SubElement(parent, "Item")
    for name in sorted(fields):
        value = fields[name]
        if value is not None:
            etree.SubElement(item, _R + name).text = value


def describe(
    reg: Registry, vm: MoRef, cdp: d.OvfCreateDescriptorParams, sizes: dict[str, int]
) -> str:
    """The OVF descriptor of ``vm`` (``sizes``: default file sizes by device key)."""
    props = reg.props(vm)
    config = props["config"]
    name = cdp.name or props["name"]
    devices = list(config.hardware.device or [])
    disks = export_disks(vm, devices)
    given = {f.deviceId: f for f in cdp.ovfFiles or []}
    nsmap: dict[str | None, str] = {None: NS["ovf"]}
    nsmap |= {k: NS[k] for k in ("cim", "ovf", "rasd", "vmw", "vssd", "xsi")}
    env = etree.Element("Envelope", nsmap=nsmap)  # type: ignore[arg-type]
    refs = _sub(env, "References")
    section = _sub(env, "DiskSection")
    _sub(section, "Info", "Virtual disk information")
    disk_ids: dict[int, str] = {}
    for i, x in enumerate(disks, 1):
        f = given.get(x.key)
        if cdp.ovfFiles is not None and f is None:
            href, size = None, None
        else:
            href = f.path if f is not None else x.target
            size = f.size if f is not None else sizes.get(x.key, 0)
        attrs = {"capacity": str(x.disk.capacityInKB or 0), "diskId": f"vmdisk{i}"}
        attrs |= {"capacityAllocationUnits": "byte * 2^10", "format": _FORMAT}
        if href is not None:
            _sub(refs, "File", href=href, id=f"file{i}", size=str(size or 0))
            attrs["fileRef"] = f"file{i}"
        _sub(section, "Disk", **attrs)
        disk_ids[x.disk.key] = f"vmdisk{i}"
    nets = [n for n in props.get("network") or [] if n in reg]
    net_section = _sub(env, "NetworkSection")
    _sub(net_section, "Info", "The list of logical networks")
    for n in nets:
        net_name = reg.prop(n, "name")
        _sub(_sub(net_section, "Network", name=net_name), "Description", f"The {net_name} network")
    system = _sub(env, "VirtualSystem", id=name)
    _sub(system, "Info", "A virtual machine")
    _sub(system, "Name", name)
    os_section = _sub(system, "OperatingSystemSection", id="1")
    os_section.set(_V + "osType", config.guestId or "otherGuest")
    _sub(os_section, "Info", "The kind of installed guest operating system")
    hardware = _sub(system, "VirtualHardwareSection")
    _sub(hardware, "Info", "Virtual hardware requirements")
    vssd = _sub(hardware, "System")
    for tag, text in (
        ("ElementName", "Virtual Hardware Family"),
        ("InstanceID", "0"),
        ("VirtualSystemIdentifier", name),
        ("VirtualSystemType", config.version or "vmx-21"),
    ):
        etree.SubElement(vssd, _S + tag).text = text
    hw = config.hardware
    _item(hardware, {
        "AllocationUnits": "hertz * 10^6", "Description": "Number of Virtual CPUs",
        "ElementName": f"{hw.numCPU} virtual CPU(s)", "InstanceID": "1", "ResourceType": "3",
        "VirtualQuantity": str(hw.numCPU),
    })  # fmt: skip
    _item(hardware, {
        "AllocationUnits": "byte * 2^20", "Description": "Memory Size",
        "ElementName": f"{hw.memoryMB}MB of memory", "InstanceID": "2", "ResourceType": "4",
        "VirtualQuantity": str(hw.memoryMB),
    })  # fmt: skip
    ids: dict[int, str] = {}
    for dev in devices:
        label = dev.deviceInfo.label if dev.deviceInfo is not None else type(dev).__name__
        iid = str(len(ids) + 3)
        parent = ids.get(dev.controllerKey) if dev.controllerKey is not None else None
        fields: dict[str, str | None] = {"ElementName": label, "InstanceID": iid}
        if isinstance(dev, d.VirtualSCSIController):
            fields |= {"Address": str(dev.busNumber), "Description": "SCSI Controller",
                       "ResourceSubType": _SCSI_SUBTYPES.get(type(dev).__name__, "lsilogic"),
                       "ResourceType": "6"}  # fmt: skip
        elif isinstance(dev, d.VirtualIDEController):
            fields |= {"Address": str(dev.busNumber), "Description": "IDE Controller",
                       "ResourceType": "5"}  # fmt: skip
        elif isinstance(dev, d.VirtualAHCIController):
            fields |= {"Address": str(dev.busNumber), "Description": "SATA Controller",
                       "ResourceSubType": "vmware.sata.ahci", "ResourceType": "20"}  # fmt: skip
        elif isinstance(dev, d.VirtualDisk) and parent is not None:
            fields |= {"AddressOnParent": str(dev.unitNumber), "Parent": parent,
                       "HostResource": f"ovf:/disk/{disk_ids[dev.key]}",
                       "ResourceType": "17"}  # fmt: skip
        elif isinstance(dev, d.VirtualCdrom) and parent is not None:
            fields |= {"AddressOnParent": str(dev.unitNumber), "Parent": parent,
                       "AutomaticAllocation": "false",
                       "ResourceSubType": "vmware.cdrom.remotepassthrough",
                       "ResourceType": "15"}  # fmt: skip
        elif isinstance(dev, d.VirtualEthernetCard):
            backing = dev.backing
            net = getattr(backing, "network", None)
            if net is None and backing is not None and hasattr(backing, "port"):
                key = backing.port.portgroupKey
                net = next((n for n in nets if reg.prop(n, "key") == key), None)
            connection = reg.prop(net, "name") if net is not None and net in reg else ""
            kind = _NIC_SUBTYPES.get(type(dev).__name__, "E1000")
            fields |= {"AddressOnParent": str(dev.unitNumber), "AutomaticAllocation": "true",
                       "Connection": connection, "ResourceType": "10",
                       "Description": f"{kind} ethernet adapter on \"{connection}\"",
                       "ResourceSubType": kind}  # fmt: skip
        else:
            continue
        ids[dev.key] = iid
        _item(hardware, fields)
    if config.annotation or cdp.description:
        annotation = _sub(system, "AnnotationSection")
        _sub(annotation, "Info", "A human-readable annotation")
        _sub(annotation, "Annotation", cdp.description or config.annotation)
    _products(system, config.vAppConfig)
    xml: bytes = etree.tostring(env, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml.decode("utf-8")


def _products(system: etree._Element, vapp: Any) -> None:
    if vapp is None:
        return
    for product in vapp.product or [None]:
        section = _sub(system, "ProductSection")
        if product is not None and product.classId:
            section.set(_O + "class", product.classId)
        if product is not None and product.instanceId:
            section.set(_O + "instance", product.instanceId)
        if vapp.ovfEnvironmentTransport:
            section.set(_O + "transport", " ".join(vapp.ovfEnvironmentTransport))
        _sub(section, "Info", "Information about the installed software")
        for tag, attr in (("Product", "name"), ("Vendor", "vendor"), ("Version", "version"),
                          ("FullVersion", "fullVersion"), ("VendorUrl", "vendorUrl")):  # fmt: skip
            value = getattr(product, attr, None) if product is not None else None
            if value:
                _sub(section, tag, value)
        category = None
        for p in vapp.property or []:
            if product is not None and (p.classId or "") != (product.classId or ""):
                continue
            if p.category and p.category != category:
                category = p.category
                _sub(section, "Category", category)
            kind = p.type or "string"
            attrs = {
                "key": p.id or str(p.key),
                "userConfigurable": str(bool(p.userConfigurable)).lower(),
            }
            attrs["type"] = "boolean" if kind == "boolean" else "string"
            attrs["value"] = p.defaultValue or ""
            el = _sub(section, "Property", **attrs)
            if kind == "password":
                el.set(_O + "password", "true")
            if p.label:
                _sub(el, "Label", p.label)
            if p.description:
                _sub(el, "Description", p.description)
