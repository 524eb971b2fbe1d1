"""Virtual disks as files: a VMDK text descriptor plus a sparse ``-flat.vmdk`` extent.

A disk ``[ds] dir/disk.vmdk`` is two files, as on VMFS: the descriptor ``disk.vmdk`` (VMware's
text format: ``createType``, one ``RW <sectors> VMFS "disk-flat.vmdk"`` extent line and the
``ddb.*`` disk database with adapter type, geometry, UUID and thin provisioning) and the
extent ``disk-flat.vmdk``, a sparse file of the disk's full capacity. A thin disk's extent
commits only the blocks written to it; any other type commits its capacity (see
:mod:`spherekit.sim.storage`). The disk type VirtualDiskManager was asked for is kept in the
descriptor as ``ddb.sim.diskType`` (VMFS keeps it in its own metadata, which a file tree
does not have).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass, replace

__all__ = ["ADAPTERS", "DISK_TYPES", "Disk", "ddb_uuid", "extent_name", "parse", "render"]

#: VirtualDiskType values (vim.VirtualDiskManager.VirtualDiskType)
DISK_TYPES = frozenset(
    {
        "preallocated",
        "thin",
        "rdm",
        "rdmp",
        "raw",
        "delta",
        "sparse2Gb",
        "thick2Gb",
        "eagerZeroedThick",
        "sparseMonolithic",
        "flatMonolithic",
        "thick",
        "seSparse",
    }
)
#: VirtualDiskAdapterType -> the descriptor's ddb.adapterType
ADAPTERS = {"ide": "ide", "busLogic": "buslogic", "lsiLogic": "lsilogic"}
_ADAPTER_BACK = {v: k for k, v in ADAPTERS.items()}
_LINE = re.compile(r'^\s*([A-Za-z][\w.]*)\s*=\s*"(.*)"\s*$')
_EXTENT = re.compile(r'^\s*(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]*)"')


def extent_name(descriptor: str) -> str:
    """``disk.vmdk`` -> ``disk-flat.vmdk`` (any leading folders kept)."""
    return descriptor.removesuffix(".vmdk") + "-flat.vmdk"


def ddb_uuid(value: str) -> str:
    """A UUID as the disk database writes it: ``60 00 C2 9a ...-... 41`` (16 hex bytes)."""
    hexed = value.replace("-", "").replace(" ", "").lower()
    if len(hexed) != 32:
        return ""
    pairs = [hexed[i : i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])


def new_disk_uuid() -> str:
    """A fresh disk UUID with VMware's ``6000C29`` prefix, in ddb form."""
    return ddb_uuid("6000c29" + uuidlib.uuid4().hex[7:])


@dataclass(frozen=True)
class Disk:
    """What a descriptor says about its disk."""

    capacity_kb: int
    disk_type: str = "thin"
    adapter_type: str = "lsiLogic"
    uuid: str = ""
    extent: str = ""
    hardware_version: int = 4

    @property
    def thin(self) -> bool:
        return self.disk_type == "thin"

    def geometry(self) -> tuple[int, int, int]:
        """(cylinders, heads, sectors) as VMware computes them for the adapter type."""
        sectors = self.capacity_kb * 2
        if self.adapter_type == "ide":
            return min(16383, sectors // (16 * 63)), 16, 63
        return sectors // (255 * 63), 255, 63

    def with_(self, **changes: object) -> Disk:
        return replace(self, **changes)  # type: ignore[arg-type]


def render(disk: Disk) -> bytes:
    """The descriptor text of ``disk``."""
    cylinders, heads, sectors = disk.geometry()
    lines = [
        "# Disk DescriptorFile",
        "version=1",
        'encoding="UTF-8"',
        "CID=fffffffe",
        "parentCID=ffffffff",
        'createType="vmfs"',
        "",
        "# Extent description",
        f'RW {disk.capacity_kb * 2} VMFS "{disk.extent}"',
        "",
        "# The Disk Data Base",
        "#DDB",
        "",
        f'ddb.adapterType = "{ADAPTERS.get(disk.adapter_type, disk.adapter_type)}"',
        f'ddb.geometry.cylinders = "{cylinders}"',
        f'ddb.geometry.heads = "{heads}"',
        f'ddb.geometry.sectors = "{sectors}"',
        f'ddb.sim.diskType = "{disk.disk_type}"',
    ]
    if disk.thin:
        lines.append('ddb.thinProvisioned = "1"')
    lines += [
        f'ddb.uuid = "{disk.uuid}"',
        f'ddb.virtualHWVersion = "{disk.hardware_version}"',
        "",
    ]
    return "\n".join(lines).encode()


def parse(data: bytes) -> Disk | None:
    """The disk a descriptor describes; None if ``data`` is not a descriptor."""
    if len(data) > 64 * 1024:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "# Disk DescriptorFile" not in text and "createType" not in text:
        return None
    ddb: dict[str, str] = {}
    sectors = 0
    extent = ""
    for line in text.splitlines():
        m = _EXTENT.match(line)
        if m is not None:
            sectors += int(m[2])
            extent = extent or m[4]
            continue
        kv = _LINE.match(line)
        if kv is not None:
            ddb[kv[1]] = kv[2]
    if not extent:
        return None
    thin = ddb.get("ddb.thinProvisioned") == "1"
    disk_type = ddb.get("ddb.sim.diskType") or ("thin" if thin else "preallocated")
    try:
        version = int(ddb.get("ddb.virtualHWVersion", "4"))
    except ValueError:
        version = 4
    return Disk(
        capacity_kb=sectors // 2,
        disk_type=disk_type,
        adapter_type=_ADAPTER_BACK.get(ddb.get("ddb.adapterType", ""), "lsiLogic"),
        uuid=ddb.get("ddb.uuid", ""),
        extent=extent,
        hardware_version=version,
    )
