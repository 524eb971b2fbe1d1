"""Helpers for the simulator's immutable-by-convention values.

Data objects stored in the registry are never changed in place; these helpers make the
copies. Objects are kept *sparse*: an unset field is absent from the instance ``__dict__``
(the generated classes default every field to ``None`` at class level), which keeps a large
inventory small in memory without changing what any reader or the codec sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from spherekit.schema.base import DataObject

__all__ = ["attr_name", "clone", "get_path", "sparse", "with_path"]

T = TypeVar("T", bound=DataObject)


def sparse(obj: T) -> T:
    """Drop unset (None) fields from ``obj`` and, recursively, from the data objects in it."""
    d = obj.__dict__
    for key in [k for k, v in d.items() if v is None]:
        del d[key]
    for v in d.values():
        if isinstance(v, DataObject):
            sparse(v)
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, DataObject):
                    sparse(item)
    return obj


def clone(obj: T, **changes: Any) -> T:
    """A shallow copy of ``obj`` with some fields replaced (None unsets a field)."""
    new = obj.__class__.__new__(obj.__class__)
    d = new.__dict__
    d.update(obj.__dict__)
    for key, value in changes.items():
        if value is None:
            d.pop(key, None)
        else:
            d[key] = value
    return new


_ATTRS: dict[type[DataObject], dict[str, str]] = {}


def attr_name(cls: type[DataObject], xml: str) -> str | None:
    """The Python attribute of the field whose XML name is ``xml`` (``from`` -> ``from_``)."""
    table = _ATTRS.get(cls)
    if table is None:
        table = _ATTRS[cls] = {x: attr for attr, x, _t, _f, _v in cls._fields}
    return table.get(xml)


def get_path(value: Any, parts: Sequence[str]) -> Any:
    """The value at a field path below ``value``; None if anything on the way is unset."""
    for part in parts:
        if value is None:
            return None
        if not isinstance(value, DataObject):
            raise ValueError(f"cannot read field {part!r} of a {type(value).__name__}")
        attr = attr_name(type(value), part)
        if attr is None:
            raise ValueError(f"{value._wsdl_name} has no field {part!r}")
        value = getattr(value, attr)
    return value


def with_path(value: Any, parts: Sequence[str], new: Any) -> Any:
    """A copy of ``value`` with the field at ``parts`` set to ``new``, copying each level."""
    if not parts:
        return new
    if not isinstance(value, DataObject):
        raise ValueError(f"cannot set field {parts[0]!r} of a {type(value).__name__}")
    attr = attr_name(type(value), parts[0])
    if attr is None:
        raise ValueError(f"{value._wsdl_name} has no field {parts[0]!r}")
    if len(parts) == 1:
        return clone(value, **{attr: new})
    inner = getattr(value, attr)
    if inner is None:
        raise ValueError(f"cannot set {'.'.join(parts)!r}: {parts[0]!r} is unset")
    return clone(value, **{attr: with_path(inner, parts[1:], new)})
