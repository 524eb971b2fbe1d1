"""Writing property values as vCenter does, and the property collector's large answers.

A property value travels as ``xsd:anyType``; vCenter types it from the property's
*declared* type, not from the Python value: an ``int`` field is ``xsi:type="xsd:int"``, a
``long`` one ``xsd:long``, an enum ``xsi:type="VirtualMachinePowerState"``, a list of
devices ``ArrayOfVirtualDevice`` with one ``<VirtualDevice xsi:type="VirtualDisk">`` per
item. The codec's generic ``anyType`` writer can only infer from the value, so results of
RetrieveProperties(Ex), WaitForUpdates(Ex) and Fetch are written here, directly as text
(the hot path of a 10,000-VM bulk read).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from spherekit.schema import registry as schema
from spherekit.schema.base import ARRAY, DataObject, MoRef
from spherekit.wire.codec import (
    ENVELOPE_END,
    ENVELOPE_START,
    NS_VIM,
    Encoder,
    format_datetime,
)
from spherekit.wire.codec import escape as _translate

__all__ = [
    "Content",
    "Encoded",
    "FetchReply",
    "ObjectChange",
    "Prop",
    "RetrieveReply",
    "UpdateReply",
    "typed_value",
]

#: (path, declared type, flags, value)
Prop = tuple[str, str, int, Any]
#: (path, fault) of a property that could not be read
Missing = tuple[str, DataObject]
#: one object's part of a RetrieveResult
Content = tuple[MoRef, list[Prop], list[Missing]]
#: (kind, object, changes as (path, op, declared type, flags, value), missing)
ObjectChange = tuple[str, MoRef, list[tuple[str, str, str, int, Any]], list[Missing]]

_PRIMITIVE = frozenset(
    [
        "string",
        "anyURI",
        "boolean",
        "byte",
        "short",
        "int",
        "long",
        "float",
        "double",
        "dateTime",
        "base64Binary",
    ]
)


def escape(s: str) -> str:
    """``s`` escaped for XML text or attributes (quick when nothing needs escaping)."""
    if "&" in s or "<" in s or ">" in s or '"' in s:
        return _translate(s)
    return s


class Encoded(Protocol):
    """A handler result that writes its own SOAP response body."""

    def body(self, method: str) -> bytes: ...


def _text(tname: str, value: Any) -> str:
    if tname in ("string", "anyURI"):
        return escape(value)
    if tname == "boolean":
        return "true" if value else "false"
    if tname in ("float", "double"):
        return repr(float(value))
    if tname == "dateTime":
        assert isinstance(value, datetime)
        return format_datetime(value)
    if tname == "base64Binary":
        return base64.b64encode(value).decode("ascii")
    return str(int(value))


def _array_name(tname: str) -> tuple[str, str]:
    """(ArrayOf... type, item element name) for an array of declared type ``tname``."""
    if schema.is_managed(tname):
        return "ArrayOfManagedObjectReference", "ManagedObjectReference"
    if tname == "anyType":
        return "ArrayOfAnyType", "anyType"
    return "ArrayOf" + tname[0].upper() + tname[1:], tname


@cache
def _writer(tname: str, flags: int) -> Callable[[str, Any], str]:
    """A function writing ``<tag xsi:type=...>value</tag>`` for values of a declared type."""
    if flags & ARRAY:
        array, item = _array_name(tname)

        def write_array(tag: str, value: Any) -> str:
            enc = Encoder()
            enc.out.append(f'<{tag} xsi:type="{array}">')
            for i, v in enumerate(value):
                if tname == "anyType":
                    enc.any_value(item, v, f"{tag}[{i}]")
                else:
                    enc.value(item, tname, v, f"{tag}[{i}]")
            enc.out.append(f"</{tag}>")
            return enc.text()

        return write_array
    if tname in _PRIMITIVE:
        xsi = f'xsi:type="xsd:{tname}"'

        def write_primitive(tag: str, value: Any) -> str:
            return f"<{tag} {xsi}>{_text(tname, value)}</{tag}>"

        return write_primitive
    if schema.is_managed(tname):

        def write_ref(tag: str, value: Any) -> str:
            return (
                f'<{tag} xsi:type="ManagedObjectReference" type="{value.type}">'
                f"{escape(value.value)}</{tag}>"
            )

        return write_ref
    if tname in schema.ENUM_NAMES:
        xsi = f'xsi:type="{tname}"'

        def write_enum(tag: str, value: Any) -> str:
            return f"<{tag} {xsi}>{escape(str(value))}</{tag}>"

        return write_enum

    def write_any(tag: str, value: Any) -> str:
        enc = Encoder()
        enc.any_value(tag, value, tag)  # data objects always carry their xsi:type
        return enc.text()

    return write_any


def typed_value(tag: str, tname: str, flags: int, value: Any) -> str:
    """``value`` as element ``tag``, typed by its declared type ``tname`` (with flags)."""
    return _writer(tname, flags)(tag, value)


def _ref(tag: str, ref: MoRef) -> str:
    return f'<{tag} type="{ref.type}">{escape(ref.value)}</{tag}>'


def _missing(out: list[str], missing: list[Missing]) -> None:
    from spherekit.schema.vim25.data import LocalizedMethodFault, MethodFault, MissingProperty

    for path, fault in missing:
        assert isinstance(fault, MethodFault)
        enc = Encoder()
        lmf = LocalizedMethodFault(fault=fault, localizedMessage=fault.msg or None)
        enc.data(
            "missingSet", "MissingProperty", MissingProperty(path=path, fault=lmf), "m", xsi=False
        )
        out.append(enc.text())


def _contents(out: list[str], contents: list[Content], tag: str) -> None:
    append = out.append
    names: dict[str, str] = {}
    for ref, props, missing in contents:
        append(f'<{tag}><obj type="{ref.type}">{escape(ref.value)}</obj>')
        for path, tname, flags, value in props:
            head = names.get(path)
            if head is None:
                head = names[path] = f"<propSet><name>{escape(path)}</name>"
            append(head)
            append(_writer(tname, flags)("val", value))
            append("</propSet>")
        if missing:
            _missing(out, missing)
        append(f"</{tag}>")


def _envelope(method: str, inner: list[str]) -> bytes:
    head = f'{ENVELOPE_START}<{method}Response xmlns="{NS_VIM}">'
    return (head + "".join(inner) + f"</{method}Response>{ENVELOPE_END}").encode("utf-8")


class RetrieveReply:
    """Objects found by RetrievePropertiesEx / ContinueRetrievePropertiesEx (with a
    continuation token) or, with ``legacy``, by RetrieveProperties (a bare array)."""

    __slots__ = ("contents", "legacy", "token")

    def __init__(self, contents: list[Content], token: str | None, legacy: bool = False) -> None:
        self.contents = contents
        self.token = token
        self.legacy = legacy

    def body(self, method: str) -> bytes:
        out: list[str] = []
        if self.legacy:
            _contents(out, self.contents, "returnval")
        elif self.contents or self.token:
            out.append("<returnval>")
            if self.token:
                out.append(f"<token>{escape(self.token)}</token>")
            _contents(out, self.contents, "objects")
            out.append("</returnval>")
        return _envelope(method, out)


class UpdateReply:
    """An UpdateSet of WaitForUpdates(Ex) / CheckForUpdates: per filter, object changes."""

    __slots__ = ("filters", "truncated", "version")

    def __init__(
        self, version: str, filters: list[tuple[MoRef, list[ObjectChange]]], truncated: bool
    ) -> None:
        self.version = version
        self.filters = filters
        self.truncated = truncated

    def body(self, method: str) -> bytes:
        out = [f"<returnval><version>{escape(self.version)}</version>"]
        append = out.append
        for filter_ref, updates in self.filters:
            append("<filterSet>" + _ref("filter", filter_ref))
            for kind, ref, changes, missing in updates:
                append(f"<objectSet><kind>{kind}</kind>" + _ref("obj", ref))
                for path, op, tname, flags, value in changes:
                    append(f"<changeSet><name>{escape(path)}</name><op>{op}</op>")
                    if value is not None:
                        append(_writer(tname, flags)("val", value))
                    append("</changeSet>")
                if missing:
                    _missing(out, missing)
                append("</objectSet>")
            append("</filterSet>")
        if self.truncated:
            append("<truncated>true</truncated>")
        append("</returnval>")
        return _envelope(method, out)


class FetchReply:
    """The value of one property, as pyVmomi's internal ``Fetch`` method returns it."""

    __slots__ = ("flags", "tname", "value")

    def __init__(self, tname: str, flags: int, value: Any) -> None:
        self.tname = tname
        self.flags = flags
        self.value = value

    def body(self, method: str) -> bytes:
        if self.value is None:
            return _envelope(method, [])
        return _envelope(method, [typed_value("returnval", self.tname, self.flags, self.value)])
