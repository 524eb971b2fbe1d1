"""Sizes: CPU, memory and disk of a node, as named presets or explicit values.

    size("medium")                      # a preset
    size("2x4096x40")                   # CPUs x memory MB x disk GB (disk optional)
    Size(cpus=2, memory_mb=4096, disk_gb=40)

A preset's disk is a *minimum*: the image's disk is grown to it when smaller and left alone
when larger. An explicit disk is exact: a disk smaller than the image's is refused, because
vSphere cannot shrink a virtual disk. Zero, negative and non-integral sizes and memory that
is not a multiple of 4 MB are refused before anything is sent (:func:`check`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spherekit.errors import UsageError

__all__ = ["PRESETS", "Size", "SizeError", "check", "size"]

GIB = 1024**3


class SizeError(UsageError):
    """A size that cannot be right (zero, negative, shrinking, unknown preset)."""


@dataclass(frozen=True)
class Size:
    """CPU count, memory in MB, disk in GB (None: keep the image's value)."""

    cpus: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    #: the disk is a minimum (presets) rather than an exact size
    disk_at_least: bool = False

    def __str__(self) -> str:
        parts = [
            f"{self.cpus} CPU" if self.cpus is not None else None,
            f"{self.memory_mb} MB" if self.memory_mb is not None else None,
            (f"{'>=' if self.disk_at_least else ''}{self.disk_gb} GB disk")
            if self.disk_gb is not None
            else None,
        ]
        return ", ".join(p for p in parts if p) or "the image's size"


PRESETS: dict[str, Size] = {
    "tiny": Size(1, 512, 10, True),
    "small": Size(1, 2048, 20, True),
    "medium": Size(2, 4096, 40, True),
    "large": Size(4, 8192, 80, True),
    "xlarge": Size(8, 16384, 160, True),
}

_EXPLICIT = re.compile(r"(\d+)x(\d+)(?:x(\d+))?")


def size(value: str | Size | Mapping[str, Any] | None) -> Size:
    """A :class:`Size` from a preset name, ``"CPUSxMEMMBxDISKGB"``, a mapping or a Size."""
    if value is None:
        return Size()
    if isinstance(value, Size):
        out = value
    elif isinstance(value, str):
        key = value.strip().lower()
        if key in PRESETS:
            return PRESETS[key]
        m = _EXPLICIT.fullmatch(key)
        if m is None:
            raise SizeError(
                f"unknown size {value!r}: use a preset ({', '.join(PRESETS)}) or "
                "CPUSxMEMORY_MBxDISK_GB such as 2x4096x40"
            )
        disk = m.group(3)
        out = Size(int(m.group(1)), int(m.group(2)), int(disk) if disk else None)
    elif isinstance(value, Mapping):
        unknown = set(value) - {"cpus", "memory_mb", "disk_gb"}
        if unknown:
            raise SizeError(f"unknown size keys {sorted(unknown)}: use cpus, memory_mb, disk_gb")
        out = Size(value.get("cpus"), value.get("memory_mb"), value.get("disk_gb"))
    else:
        raise SizeError(f"a size is a preset name, a Size or a mapping, not {value!r}")
    for name in ("cpus", "memory_mb", "disk_gb"):
        v = getattr(out, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise SizeError(f"{name} must be a positive whole number, got {v!r}")
    if out.memory_mb is not None and out.memory_mb % 4:
        raise SizeError(f"memory_mb must be a multiple of 4 MB, got {out.memory_mb}")
    return out


def check(wanted: Size, image_disk_bytes: int | None, *, linked: bool) -> int | None:
    """The new capacity of the image's first disk in bytes, or None to leave it.

    Refuses a shrinking disk, and growing the disk of a linked clone (its disk is a delta
    on the image's snapshot, which vSphere will not extend).
    """
    if wanted.disk_gb is None:
        return None
    new = wanted.disk_gb * GIB
    if image_disk_bytes is None:
        raise SizeError("the image has no virtual disk to size; leave disk_gb out")
    if new == image_disk_bytes:
        return None
    if new < image_disk_bytes:
        if wanted.disk_at_least:
            return None
        raise SizeError(
            f"disk of {wanted.disk_gb} GB is smaller than the image's "
            f"{image_disk_bytes / GIB:g} GB: vSphere cannot shrink a disk; ask for "
            f"{-(-image_disk_bytes // GIB)} GB or more"
        )
    if linked:
        if wanted.disk_at_least:
            return None
        raise SizeError(
            "a linked clone's disk is a delta on the image's snapshot and cannot be grown; "
            "use a full clone (linked=False) or leave disk_gb out"
        )
    return new
