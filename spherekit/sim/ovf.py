"""OVF descriptors as the simulator's OvfManager reads them (OVF 1.x and 2.0 envelopes).

:func:`parse` turns a descriptor into an :class:`Envelope` with the parts vCenter uses:
References/File, DiskSection, NetworkSection, EulaSection, AnnotationSection,
DeploymentOptionSection, ProductSection properties, the VMware IP assignment section and
the VirtualSystem's OperatingSystemSection and VirtualHardwareSection items. It parses with
spherekit's hardened parser (no DTD, no entities, no network). Problems in the package are
OVF faults, as vCenter reports them in a result's ``error`` list: :class:`OvfProblem`
carries one (``OvfXmlFormat`` for XML that is not well formed, ``OvfWrongNamespace``,
``OvfMissingElement``, ``OvfElementInvalidValue``, ``OvfInvalidValueReference``, ...),
with the line number of the element at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from spherekit.errors import ProtocolError
from spherekit.schema.vim25 import data as d
from spherekit.sim.faults import with_msg
from spherekit.sim.ovf_xml import (
    OvfProblem,
    bad_reference,
    invalid_element,
    localized,
    missing_attribute,
    missing_element,
    units,
    xml_attr,
    xml_child,
    xml_children,
    xml_int,
    xml_line,
    xml_local,
    xml_text,
)
from spherekit.wire.xml import parse as parse_xml

__all__ = [
    "NS",
    "Disk",
    "Envelope",
    "FileRef",
    "Item",
    "OvfProblem",
    "Product",
    "Property",
    "localized",
    "parse",
    "product_info",
    "units",
]

OVF1 = "http://schemas.dmtf.org/ovf/envelope/1"
OVF2 = "http://schemas.dmtf.org/ovf/envelope/2"
NS = {
    "ovf": OVF1,
    "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
    "vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
    "vmw": "http://www.vmware.com/schema/ovf",
    "cim": "http://schemas.dmtf.org/wbem/wscim/1/common",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_VMW = NS["vmw"]


@dataclass
class FileRef:
    id: str
    href: str
    size: int | None


@dataclass
class Disk:
    disk_id: str
    file_ref: str | None
    capacity: int  # bytes
    populated_size: int | None
    format: str


@dataclass
class Property:
    key: str
    type: str  # the vSphere type: string, string(..64), int, boolean, password, ...
    category: str
    label: str | None
    description: str | None
    default: str
    user_configurable: bool


@dataclass
class Product:
    class_id: str
    instance_id: str
    info: dict[str, str]
    properties: list[Property] = field(default_factory=list)
    transport: list[str] = field(default_factory=list)


@dataclass
class Item:
    """One rasd Item of the VirtualHardwareSection (element values by local name)."""

    line: int
    values: dict[str, list[str]]
    configuration: list[str]

    def get(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None

    @property
    def instance_id(self) -> str:
        return self.get("InstanceID") or ""

    @property
    def name(self) -> str:
        return self.get("ElementName") or ""

    def integer(self, name: str) -> int | None:
        text = self.get(name)
        if text is None:
            return None
        try:
            return int(text.strip())
        except ValueError:
            raise OvfProblem(invalid_element(self.line, name, text)) from None


@dataclass
class Envelope:
    version: str
    files: list[FileRef]
    disks: list[Disk]
    networks: list[tuple[str, str]]
    eula: list[str]
    annotation: str
    products: list[Product]
    system_id: str
    system_name: str
    os_type: str | None
    hardware_family: str | None
    items: list[Item]
    options: list[tuple[str, str, str, bool]]  # id, label, description, default
    ip_protocols: list[str]
    ip_schemes: list[str]
    extra_config: list[tuple[str, str]]
    virtual_app: bool

    def file(self, ref: str) -> FileRef | None:
        return next((f for f in self.files if f.id == ref), None)

    def disk(self, host_resource: str) -> Disk | None:
        """The Disk a HostResource names (``ovf:/disk/vmdisk1`` or ``/disk/vmdisk1``)."""
        disk_id = host_resource.rsplit("/", 1)[-1]
        return next((x for x in self.disks if x.disk_id == disk_id), None)

    @property
    def default_option(self) -> str:
        return next(
            (o[0] for o in self.options if o[3]), self.options[0][0] if self.options else ""
        )


# -- parsing ------------------------------------------------------------------------------


def _xml_root(descriptor: str | bytes) -> etree._Element:
    raw = descriptor.encode("utf-8") if isinstance(descriptor, str) else descriptor
    try:
        return parse_xml(raw.lstrip(), what="OVF descriptor")
    except ProtocolError as exc:
        found = re.findall(r"line (\d+)", str(exc))
        line = int(found[-1]) if found else 1
        why = str(exc).split(" (", 1)[-1].rsplit("); it starts", 1)[0]
        fault = d.OvfXmlFormat(lineNumber=line, description=why)
        raise OvfProblem(
            with_msg(fault, f"Line {line}: Unable to parse XML element: {why}")
        ) from None


def _property_type(el: etree._Element, ns: str) -> str:
    kind = xml_attr(el, "type", ns) or "string"
    qualifiers = xml_attr(el, "qualifiers", ns) or ""
    if "true" in (xml_attr(el, "password", ns), el.get(f"{{{_VMW}}}password")):
        return "password"
    values = re.search(r"ValueMap\{(.*)\}", qualifiers)
    if values:
        choices = [v.strip().strip("'\"") for v in values[1].split(",")]
        return "string[" + ", ".join(f'"{c}"' for c in choices) + "]"
    if kind == "boolean":
        return "boolean"
    if kind.startswith(("uint", "sint", "int")):
        lo = re.search(r"MinValue\((-?\d+)\)", qualifiers)
        hi = re.search(r"MaxValue\((-?\d+)\)", qualifiers)
        return f"int({lo[1] if lo else ''}..{hi[1] if hi else ''})" if lo or hi else "int"
    if kind.startswith("real"):
        return "real"
    lo = re.search(r"MinLen\((\d+)\)", qualifiers)
    hi = re.search(r"MaxLen\((\d+)\)", qualifiers)
    return f"string({lo[1] if lo else ''}..{hi[1] if hi else ''})" if lo or hi else "string"


def _product(el: etree._Element, ns: str) -> Product:
    info: dict[str, str] = {}
    for name in (
        "Product",
        "Vendor",
        "Version",
        "FullVersion",
        "ProductUrl",
        "VendorUrl",
        "AppUrl",
    ):
        text = xml_text(xml_child(el, name))
        if text:
            info[name] = text
    product = Product(xml_attr(el, "class", ns) or "", xml_attr(el, "instance", ns) or "", info)
    transport = xml_attr(el, "transport", ns)
    product.transport = transport.split() if transport else []
    category = ""
    for c in el:
        kind = xml_local(c)
        if kind == "Category":
            category = xml_text(c)
        elif kind == "Property":
            key = xml_attr(c, "key", ns)
            if not key:
                raise OvfProblem(missing_attribute(xml_line(c), "Property", "ovf:key"))
            product.properties.append(
                Property(
                    key=key,
                    type=_property_type(c, ns),
                    category=category,
                    label=xml_text(xml_child(c, "Label")) or None,
                    description=xml_text(xml_child(c, "Description")) or None,
                    default=xml_attr(c, "value", ns) or "",
                    user_configurable=(xml_attr(c, "userConfigurable", ns) or "false") == "true",
                )
            )
    return product


def _item(el: etree._Element, ns: str) -> Item:
    values: dict[str, list[str]] = {}
    for c in el:
        values.setdefault(xml_local(c), []).append((c.text or "").strip())
    if "ResourceType" not in values:
        raise OvfProblem(missing_element(xml_line(el), "rasd:ResourceType"))
    config = xml_attr(el, "configuration", ns)
    item = Item(xml_line(el), values, config.split() if config else [])
    item.integer("ResourceType")
    return item


def _references(env: etree._Element, ns: str) -> list[FileRef]:
    refs = xml_child(env, "References")
    out: list[FileRef] = []
    for f in xml_children(refs, "File") if refs is not None else []:
        fid, href = xml_attr(f, "id", ns), xml_attr(f, "href", ns)
        if not fid or not href:
            missing = "ovf:id" if not fid else "ovf:href"
            raise OvfProblem(missing_attribute(xml_line(f), "File", missing))
        out.append(FileRef(fid, href, xml_int(f, "size", ns, required=False)))
    return out


def _disks(section: etree._Element | None, ns: str, files: list[FileRef]) -> list[Disk]:
    out: list[Disk] = []
    for el in xml_children(section, "Disk") if section is not None else []:
        line = xml_line(el)
        disk_id = xml_attr(el, "diskId", ns)
        if not disk_id:
            raise OvfProblem(missing_attribute(line, "Disk", "ovf:diskId"))
        capacity = xml_attr(el, "capacity", ns)
        if capacity is None:
            raise OvfProblem(missing_attribute(line, "Disk", "ovf:capacity"))
        unit = units(xml_attr(el, "capacityAllocationUnits", ns))
        if unit is None or not capacity.strip().isdigit():
            bad = capacity if not capacity.strip().isdigit() else "capacityAllocationUnits"
            raise OvfProblem(bad_reference(line, "Disk", "ovf:capacity", bad))
        file_ref = xml_attr(el, "fileRef", ns)
        if file_ref and not any(f.id == file_ref for f in files):
            raise OvfProblem(bad_reference(line, "Disk", "ovf:fileRef", file_ref))
        out.append(
            Disk(
                disk_id,
                file_ref or None,
                int(capacity) * unit,
                xml_int(el, "populatedSize", ns, required=False),
                xml_attr(el, "format", ns) or "",
            )
        )
    return out


def parse(descriptor: str | bytes) -> Envelope:
    """Read an OVF descriptor; OvfProblem (with vCenter's OVF fault) if it is not valid."""
    root = _xml_root(descriptor)
    qname = etree.QName(root)
    if qname.namespace not in (OVF1, OVF2):
        fault = d.OvfWrongNamespace(lineNumber=xml_line(root), namespaceName=qname.namespace or "")
        raise OvfProblem(
            with_msg(fault, f"Line {xml_line(root)}: Invalid namespace '{qname.namespace}'.")
        )
    ns = qname.namespace
    if qname.localname != "Envelope":
        wrong = d.OvfWrongElement(lineNumber=xml_line(root), name=qname.localname)
        raise OvfProblem(
            with_msg(wrong, f"Line {xml_line(root)}: Wrong element name: {qname.localname}.")
        )
    files = _references(root, ns)
    disks = _disks(xml_child(root, "DiskSection"), ns, files)
    networks: list[tuple[str, str]] = []
    net_section = xml_child(root, "NetworkSection")
    for n in xml_children(net_section, "Network") if net_section is not None else []:
        name = xml_attr(n, "name", ns)
        if not name:
            raise OvfProblem(missing_attribute(xml_line(n), "Network", "ovf:name"))
        networks.append((name, xml_text(xml_child(n, "Description"))))
    options: list[tuple[str, str, str, bool]] = []
    deployment = xml_child(root, "DeploymentOptionSection")
    for c in xml_children(deployment, "Configuration") if deployment is not None else []:
        cid = xml_attr(c, "id", ns) or ""
        options.append(
            (cid, xml_text(xml_child(c, "Label")), xml_text(xml_child(c, "Description")),
             (xml_attr(c, "default", ns) or "") == "true")
        )  # fmt: skip
    system = xml_child(root, "VirtualSystem")
    collection = xml_child(root, "VirtualSystemCollection")
    if system is None and collection is not None:
        system = xml_child(collection, "VirtualSystem")
    if system is None:
        raise OvfProblem(missing_element(xml_line(root), "VirtualSystem"))
    sections = [root, *([collection] if collection is not None else []), system]
    eula: list[str] = []
    products: list[Product] = []
    annotation = ""
    ip_protocols: list[str] = []
    ip_schemes: list[str] = []
    for holder in sections:
        for c in holder:
            kind = xml_local(c)
            if kind == "EulaSection":
                eula.append(xml_text(xml_child(c, "License")))
            elif kind == "ProductSection":
                products.append(_product(c, ns))
            elif kind == "AnnotationSection":
                annotation = xml_text(xml_child(c, "Annotation"))
            elif kind == "IpAssignmentSection":
                ip_protocols = (c.get(f"{{{_VMW}}}protocols") or "").split(",")
                ip_schemes = (c.get(f"{{{_VMW}}}schemes") or "").split(",")
    os_section = xml_child(system, "OperatingSystemSection")
    hardware = xml_child(system, "VirtualHardwareSection")
    if hardware is None:
        raise OvfProblem(missing_element(xml_line(system), "VirtualHardwareSection"))
    vssd = xml_child(hardware, "System")
    family = xml_text(xml_child(vssd, "VirtualSystemType")) if vssd is not None else ""
    extra = [
        (c.get(f"{{{_VMW}}}key") or "", c.get(f"{{{_VMW}}}value") or "")
        for c in xml_children(hardware, "ExtraConfig")
    ]
    system_id = xml_attr(system, "id", ns) or ""
    return Envelope(
        version="2.0" if ns == OVF2 else "1.0",
        files=files,
        disks=disks,
        networks=networks,
        eula=eula,
        annotation=annotation,
        products=products,
        system_id=system_id,
        system_name=xml_text(xml_child(system, "Name")) or system_id,
        os_type=os_section.get(f"{{{_VMW}}}osType") if os_section is not None else None,
        hardware_family=family.split()[0] if family else None,
        items=[
            _item(i, ns)
            for i in hardware
            if xml_local(i) in ("Item", "StorageItem", "EthernetPortItem")
        ],
        options=options,
        ip_protocols=[p for p in ip_protocols if p],
        ip_schemes=[s for s in ip_schemes if s],
        extra_config=[(k, v) for k, v in extra if k],
        virtual_app=collection is not None,
    )


def product_info(product: Product, key: int) -> Any:
    """A ProductSection as a VAppProductInfo."""
    return d.VAppProductInfo(
        key=key,
        classId=product.class_id or None,
        instanceId=product.instance_id or None,
        name=product.info.get("Product"),
        vendor=product.info.get("Vendor"),
        version=product.info.get("Version"),
        fullVersion=product.info.get("FullVersion"),
        vendorUrl=product.info.get("VendorUrl"),
        productUrl=product.info.get("ProductUrl"),
        appUrl=product.info.get("AppUrl"),
    )


def property_infos(env: Envelope, values: dict[str, str] | None = None) -> list[Any]:
    """The ProductSection properties as VAppPropertyInfo (``values`` by key override)."""
    out: list[Any] = []
    key = 0
    for product in env.products:
        for p in product.properties:
            out.append(
                d.VAppPropertyInfo(
                    key=key,
                    classId=product.class_id,
                    instanceId=product.instance_id,
                    id=p.key,
                    category=p.category,
                    label=p.label,
                    type=p.type,
                    userConfigurable=p.user_configurable,
                    defaultValue=p.default,
                    value=(values or {}).get(_full_key(product, p.key), ""),
                    description=p.description,
                )
            )
            key += 1
    return out


def _full_key(product: Product, key: str) -> str:
    """A property's key as clients name it in propertyMapping: ``class.key.instance``."""
    parts = [product.class_id, key, product.instance_id]
    return ".".join(p for p in parts if p)
