"""The VM document: what :func:`spherekit.compute.spec.dump` writes and ``apply`` reads.

A document is a plain dict (so it travels as YAML or JSON) with this shape; every field
but ``name`` may be left out, and a field left out is left alone by ``apply`` (unset is not
zero)::

    apiVersion: spherekit/v1
    kind: VirtualMachine
    name: web-1
    guestId: ubuntu64Guest
    annotation: "..."
    powerState: poweredOn            # poweredOn | poweredOff | suspended
    hardware: {cpus: 2, coresPerSocket: 1, memoryMB: 4096, firmware: efi}
    placement:                       # names and paths, never morefs
      datacenter: DC0
      folder: /                      # path under the datacenter's VM folder
      cluster: DC0_C0                # or leave out for a standalone host
      host: DC0_C0_H0
      resourcePool: Resources        # path under the cluster's (or host's) root pool
      datastore: LocalDS_0           # where the .vmx lives
    disks:
      - {label: Hard disk 1, sizeGB: 10, datastore: LocalDS_0, provisioning: thin,
         controller: "pvscsi:0", unit: 0}
    nics:
      - {label: Network adapter 1, network: VM Network, adapter: vmxnet3, mac: ...}
    cdroms:
      - {label: CD/DVD drive 1, controller: "ide:0", unit: 0, iso: "[LocalDS_0] x.iso"}
    extraConfig: {guestinfo.metadata: <redacted>, ...}
    pruneDisks: false                # true: remove disks the document does not list

``sizeGB`` is exact: a whole number when the disk is, else the float KB / 2**20 (exact in
binary). ``mac`` appears only for manually assigned addresses. ``pruneDisks`` is never
dumped: it is the document's author's opt-in to destroying disks. extraConfig values that
carry secrets (cloud-init user-data, meta-data, vendor-data, anything named *password*)
are written as ``<redacted>`` unless asked for; ``apply`` leaves a redacted key as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from spherekit.errors import UsageError

__all__ = [
    "ADAPTERS", "API_VERSION", "CONTROLLERS", "REDACTED", "Cdrom", "Disk", "Hardware",
    "Nic", "Placement", "SpecError", "VmDoc", "is_secret_key", "load", "parse",
    "portable_key", "to_json", "to_yaml",
]  # fmt: skip

API_VERSION = "spherekit/v1"
REDACTED = "<redacted>"
#: controller kinds as the document names them
CONTROLLERS = ("pvscsi", "lsilogic", "lsilogic-sas", "buslogic", "ide", "sata", "nvme")
#: NIC adapter types as the document names them
ADAPTERS = ("vmxnet3", "vmxnet2", "vmxnet", "e1000", "e1000e", "pcnet32", "sriov")
PROVISIONING = ("thin", "thick", "eagerZeroedThick")
POWER_STATES = ("poweredOn", "poweredOff", "suspended")
FIRMWARE = ("bios", "efi")
_SECRET_KEYS = ("guestinfo.userdata", "guestinfo.metadata", "guestinfo.vendordata")
#: extraConfig keys vSphere writes itself: not portable, never dumped, never removed
_HOST_KEYS = (
    "nvram", "pciBridge", "vmware.log", "vmotion.", "migrate.", "monitor.phys_bits_used",
    "sched.swap.derivedName", "softPowerOff", "toolsInstallManager.", "checkpoint.",
    "guestinfo.vmtools", "guestinfo.appInfo", "guestinfo.driver", "vmxstats.", "numa.autosize",
    "svga.guestBackedPrimaryAware", "cpuid.coresPerSocket", "guestinfo.vmware.components",
)  # fmt: skip


class SpecError(UsageError):
    """The document is not a valid VM document (says which field and what to write)."""


def is_secret_key(key: str) -> bool:
    low = key.lower()
    return (low.startswith(_SECRET_KEYS) and not low.endswith(".encoding")) or "password" in low


def portable_key(key: str) -> bool:
    """Whether an extraConfig key belongs in a document (vSphere did not write it itself)."""
    return not key.startswith(_HOST_KEYS)


@dataclass
class Hardware:
    cpus: int | None = None
    coresPerSocket: int | None = None
    memoryMB: int | None = None
    firmware: str | None = None


@dataclass
class Placement:
    datacenter: str | None = None
    folder: str | None = None
    cluster: str | None = None
    host: str | None = None
    resourcePool: str | None = None
    datastore: str | None = None


@dataclass
class Disk:
    sizeGB: float
    label: str | None = None
    datastore: str | None = None
    provisioning: str | None = None
    controller: str | None = None
    unit: int | None = None

    @property
    def capacity_kb(self) -> int:
        return int(self.sizeGB * 1048576)


@dataclass
class Nic:
    network: str
    label: str | None = None
    adapter: str | None = None
    mac: str | None = None


@dataclass
class Cdrom:
    label: str | None = None
    controller: str | None = None
    unit: int | None = None
    iso: str | None = None


@dataclass
class VmDoc:
    name: str
    guestId: str | None = None
    annotation: str | None = None
    powerState: str | None = None
    hardware: Hardware = field(default_factory=Hardware)
    placement: Placement = field(default_factory=Placement)
    #: None: the document says nothing about them (apply leaves them alone)
    disks: list[Disk] | None = None
    nics: list[Nic] | None = None
    cdroms: list[Cdrom] | None = None
    extraConfig: dict[str, str] | None = None
    #: remove (and destroy) disks the VM has and the document does not list
    pruneDisks: bool = False


# -- parsing ----------------------------------------------------------------------------


def _obj(value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{where} must be a mapping, not {type(value).__name__}")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise SpecError(
            f"{where} has unknown field(s) {', '.join(unknown)}; known: {', '.join(keys)}"
        )
    return value


def _str(d: dict[str, Any], key: str, where: str, choices: tuple[str, ...] = ()) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or (not v.strip() and key != "annotation"):
        raise SpecError(f"{where}.{key} must be a non-empty string, not {v!r}")
    if choices and v not in choices:
        raise SpecError(f"{where}.{key} is {v!r}; write one of {', '.join(choices)}")
    return v


def _int(d: dict[str, Any], key: str, where: str, low: int = 1) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise SpecError(f"{where}.{key} must be a whole number >= {low}, not {v!r}")
    return v


def _controller(d: dict[str, Any], where: str) -> str | None:
    v = _str(d, "controller", where)
    if v is None:
        return None
    kind, sep, bus = v.partition(":")
    if kind not in CONTROLLERS or (sep and not bus.isdigit()):
        raise SpecError(
            f"{where}.controller is {v!r}; write KIND:BUS such as pvscsi:0 "
            f"(kinds: {', '.join(CONTROLLERS)})"
        )
    return f"{kind}:{int(bus) if bus else 0}"


def _list(value: Any, where: str) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise SpecError(f"{where} must be a list")
    return value


def _disk(raw: Any, where: str) -> Disk:
    d = _obj(raw, where, ("label", "sizeGB", "datastore", "provisioning", "controller", "unit"))
    size = d.get("sizeGB")
    if not isinstance(size, int | float) or isinstance(size, bool) or not size > 0:
        raise SpecError(f"{where}.sizeGB must be a number of GB > 0, not {size!r}")
    return Disk(
        sizeGB=size,
        label=_str(d, "label", where),
        datastore=_str(d, "datastore", where),
        provisioning=_str(d, "provisioning", where, PROVISIONING),
        controller=_controller(d, where),
        unit=_int(d, "unit", where, 0),
    )


def _nic(raw: Any, where: str) -> Nic:
    d = _obj(raw, where, ("label", "network", "adapter", "mac"))
    network = _str(d, "network", where)
    if network is None:
        raise SpecError(f"{where}.network is required (the name of a network or portgroup)")
    return Nic(
        network, _str(d, "label", where), _str(d, "adapter", where, ADAPTERS), _str(d, "mac", where)
    )


def _cdrom(raw: Any, where: str) -> Cdrom:
    d = _obj(raw, where, ("label", "controller", "unit", "iso"))
    iso = _str(d, "iso", where)
    if iso is not None and not iso.startswith("["):
        raise SpecError(f"{where}.iso is a datastore path such as '[LocalDS_0] iso/x.iso'")
    return Cdrom(_str(d, "label", where), _controller(d, where), _int(d, "unit", where, 0), iso)


_TOP = (
    "apiVersion",
    "kind",
    "name",
    "guestId",
    "annotation",
    "powerState",
    "hardware",
    "placement",
    "disks",
    "nics",
    "cdroms",
    "extraConfig",
    "pruneDisks",
)


def parse(doc: dict[str, Any]) -> VmDoc:
    """A checked :class:`VmDoc` from a document; :class:`SpecError` names what is wrong."""
    d = _obj(doc, "the document", _TOP)
    if d.get("apiVersion", API_VERSION) != API_VERSION:
        raise SpecError(f"apiVersion is {d['apiVersion']!r}; this spherekit reads {API_VERSION}")
    if d.get("kind", "VirtualMachine") != "VirtualMachine":
        raise SpecError(f"kind is {d['kind']!r}; only VirtualMachine documents exist")
    name = _str(d, "name", "the document")
    if name is None or len(name) > 80:
        raise SpecError("name is required: the VM's name (at most 80 characters)")
    h = _obj(
        d.get("hardware") or {}, "hardware", ("cpus", "coresPerSocket", "memoryMB", "firmware")
    )
    hw = Hardware(
        _int(h, "cpus", "hardware"),
        _int(h, "coresPerSocket", "hardware"),
        _int(h, "memoryMB", "hardware"),
        _str(h, "firmware", "hardware", FIRMWARE),
    )
    if hw.cpus and hw.coresPerSocket and hw.cpus % hw.coresPerSocket:
        raise SpecError(
            f"hardware.cpus ({hw.cpus}) must be a multiple of coresPerSocket ({hw.coresPerSocket})"
        )
    p = _obj(d.get("placement") or {}, "placement", tuple(Placement.__dataclass_fields__))
    pl = Placement(**{k: _str(p, k, "placement") for k in Placement.__dataclass_fields__})
    extra = d.get("extraConfig")
    if extra is not None and (
        not isinstance(extra, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items())
    ):
        raise SpecError("extraConfig is a mapping of key: string value (quote numbers)")
    prune = d.get("pruneDisks", False)
    if not isinstance(prune, bool):
        raise SpecError(f"pruneDisks is true or false, not {prune!r}")
    disks, nics, cds = (_list(d.get(k), k) for k in ("disks", "nics", "cdroms"))
    return VmDoc(
        name=name,
        guestId=_str(d, "guestId", "the document"),
        annotation=_str(d, "annotation", "the document"),
        powerState=_str(d, "powerState", "the document", POWER_STATES),
        hardware=hw,
        placement=pl,
        disks=None if disks is None else [_disk(x, f"disks[{i}]") for i, x in enumerate(disks)],
        nics=None if nics is None else [_nic(x, f"nics[{i}]") for i, x in enumerate(nics)],
        cdroms=None if cds is None else [_cdrom(x, f"cdroms[{i}]") for i, x in enumerate(cds)],
        extraConfig=dict(extra) if extra is not None else None,
        pruneDisks=prune,
    )


# -- text -------------------------------------------------------------------------------


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def load(text: str) -> dict[str, Any]:
    """A document from YAML or JSON text (JSON is YAML)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"the document is not valid YAML or JSON: {e}") from None
    if not isinstance(doc, dict):
        raise SpecError("a VM document is a mapping with at least 'name'")
    return doc
