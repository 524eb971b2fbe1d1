"""Lookups over the generated vim25 model, loading the heavy modules only when needed.

``import spherekit`` loads only the small tables of :mod:`spherekit.schema.vim25.model`;
the data classes (``data.py``, ~3,000 classes) and enums are imported on first use.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from spherekit.schema.vim25.model import DATA_BASES, ENUM_NAMES, MANAGED_BASES, METHODS, VERSIONS

if TYPE_CHECKING:
    from spherekit.schema.base import DataObject, ManagedObject

__all__ = [
    "DATA_BASES",
    "ENUM_NAMES",
    "MANAGED_BASES",
    "METHODS",
    "VERSIONS",
    "data_class",
    "enum_class",
    "handle_class",
    "is_data",
    "is_managed",
    "is_subtype",
    "version_index",
]

_VERSION_INDEX = {v: i for i, v in enumerate(VERSIONS)}


def data_class(name: str) -> type[DataObject] | None:
    from spherekit.schema.vim25.data import TYPES

    return TYPES.get(name)


def enum_class(name: str) -> type[StrEnum] | None:
    from spherekit.schema.vim25.enums import ENUMS

    return ENUMS.get(name)


def handle_class(name: str) -> type[ManagedObject]:
    from spherekit.schema.vim25.managed import HANDLES

    return HANDLES.get(name) or HANDLES["ManagedObject"]


def is_managed(name: str) -> bool:
    return name in MANAGED_BASES or name == "ManagedObject"


def is_data(name: str) -> bool:
    return name in DATA_BASES


@cache
def is_subtype(name: str, base: str) -> bool:
    """True if type ``name`` is ``base`` or derives from it (data or managed types)."""
    bases = MANAGED_BASES if name in MANAGED_BASES else DATA_BASES
    cur: str | None = name
    while cur is not None:
        if cur == base:
            return True
        cur = bases.get(cur)
    return base == "ManagedObject" and name in MANAGED_BASES


def _numeric(v: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", v)
    return tuple(int(p) for p in parts) if parts and v[0].isdigit() else None


@cache
def version_index(server_version: str) -> int:
    """Index of a server's API version in VERSIONS; a version newer than all we know is last.

    Unknown versions are placed by their numeric value (``8.0.2.1`` sits after ``8.0.2.0``).
    """
    if server_version in _VERSION_INDEX:
        return _VERSION_INDEX[server_version]
    num = _numeric(server_version)
    if num is None:
        return len(VERSIONS) - 1
    best = -1
    for i, v in enumerate(VERSIONS):
        vn = _numeric(v)
        if vn is not None and vn <= num:
            best = i
    return max(best, 0)
