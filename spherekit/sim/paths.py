"""Property paths of managed objects, checked and typed against the vim25 schema.

A path is a property name, optionally followed by field names of its (declared) data type:
``config.hardware.numCPU``. Paths cannot step into arrays. The declared type of a path
decides how its value is written on the wire (``xsi:type``, ``ArrayOf...``).
"""

from __future__ import annotations

from functools import cache

from spherekit.schema import registry as schema
from spherekit.schema.base import ARRAY
from spherekit.schema.vim25.model import PROPERTIES

__all__ = ["all_properties", "field_attrs", "path_type", "property_info"]


def property_info(mtype: str, name: str) -> tuple[str, int] | None:
    """(declared type, flags) of property ``name`` of managed type ``mtype`` or a base."""
    cur: str | None = mtype
    while cur is not None:
        p = PROPERTIES.get(cur, {}).get(name)
        if p is not None:
            return p[0], p[1]
        cur = schema.MANAGED_BASES.get(cur)
    return None


@cache
def all_properties(mtype: str) -> tuple[tuple[str, str, int], ...]:
    """Every property of ``mtype`` and its bases as (name, type, flags), bases first."""
    chain: list[str] = []
    cur: str | None = mtype
    while cur is not None:
        chain.append(cur)
        cur = schema.MANAGED_BASES.get(cur)
    out: list[tuple[str, str, int]] = []
    for t in reversed(chain):
        for name, (tname, flags, _since) in PROPERTIES.get(t, {}).items():
            out.append((name, tname, flags))
    return tuple(out)


@cache
def path_type(mtype: str, path: str) -> tuple[str, int] | None:
    """(declared type, flags) of ``path`` on ``mtype``; None if the path is not valid."""
    if not path:
        return None
    head, *rest = path.split(".")
    found = property_info(mtype, head)
    if found is None:
        return None
    tname, flags = found
    for part in rest:
        if flags & ARRAY or not schema.is_data(tname):
            return None
        cls = schema.data_class(tname)
        if cls is None:
            return None
        field = next((f for f in cls._fields if f[1] == part), None)
        if field is None:
            return None
        tname, flags = field[2], field[3]
    return tname, flags


@cache
def field_attrs(mtype: str, path: str) -> tuple[str, ...] | None:
    """Python attribute names of the fields below the property in ``path``
    (``config.hardware.numCPU`` -> ``("hardware", "numCPU")``); None if not valid."""
    if path_type(mtype, path) is None:
        return None
    head, *rest = path.split(".")
    found = property_info(mtype, head)
    assert found is not None
    tname = found[0]
    attrs: list[str] = []
    for part in rest:
        cls = schema.data_class(tname)
        assert cls is not None
        field = next(f for f in cls._fields if f[1] == part)
        attrs.append(field[0])
        tname = field[2]
    return tuple(attrs)
