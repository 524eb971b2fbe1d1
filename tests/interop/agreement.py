"""Decode the same SOAP bytes with spherekit and with pyVmomi, and compare field by field.

Used by ``test_pyvmomi_agreement.py``. The pieces:

- :class:`Recorder` wraps spherekit's transport and keeps every exchange, so the bytes both
  decoders see are exactly the bytes the server sent;
- :func:`decode_spherekit` / :func:`decode_pyvmomi` decode one response (a fault is
  returned, not raised);
- :func:`compare` walks both results together and returns a :class:`Comparison`: how many
  leaf values were compared, every disagreement (path first), and the places where the two
  differ only by a documented pyVmomi convention (``notes``);
- :func:`xml_leaf_count` counts the leaf elements in the response, so a test can check that
  every value the server sent was compared (nothing dropped by both decoders alike).

pyVmomi conventions that are *not* disagreements (each is recorded in ``notes``):

``unset-array``
    pyVmomi initialises every array field to ``[]``; spherekit leaves an absent array
    ``None`` (unset is not zero). pyVmomi cannot tell "absent" from "empty".
``required-default``
    pyVmomi initialises a required field the server left out to ``""``/``0``/``False``;
    spherekit leaves it ``None``. vcsim omits some required fields (Go ``omitempty``).
``localized-fault``
    pyVmomi unwraps every ``LocalizedMethodFault`` into its ``fault`` and puts
    ``localizedMessage`` in the fault's ``msg``; spherekit keeps the WSDL shape
    (``LocalizedMethodFault(fault=..., localizedMessage=...)``). Compared as
    ``fault`` <-> the unwrapped fault and ``localizedMessage`` <-> ``msg``.
``type-name`` / ``method-name``
    pyVmomi decodes ``vmodl.TypeName`` values to its Python classes and ``vmodl.MethodName``
    values to its method objects (an ``UnknownManagedMethod`` for a name it does not know,
    such as vcsim's ``TaskInfo.name`` "PowerOff"); spherekit keeps the strings. Compared by
    name.
``empty-fault-string``
    For a SOAP fault with an empty ``<faultstring>`` pyVmomi's ``msg`` is ``""``; spherekit's
    is ``None`` (on purpose: ``str(fault)`` then names the fault type).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from pyVmomi import SoapAdapter, VmomiSupport

from spherekit.schema.base import ARRAY, DataObject, FieldInfo, MoRef
from spherekit.schema.vim25.data import LocalizedMethodFault, MethodFault
from spherekit.wire import codec
from spherekit.wire.transport import Request, Response, Transport

__all__ = [
    "Comparison",
    "Exchange",
    "Recorder",
    "compare",
    "decode_pyvmomi",
    "decode_spherekit",
    "pyvmomi_version",
    "xml_leaf_count",
]

# pyVmomi ships py.typed but is unannotated; everything taken from it is Any, on purpose.
_V: Any = VmomiSupport
_SOAP: Any = SoapAdapter

NS_SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"


# ---------------------------------------------------------------------------------------
# capturing the bytes


@dataclass(frozen=True)
class Exchange:
    method: str
    request: bytes
    status: int
    body: bytes


class Recorder:
    """A transport that passes everything to ``inner`` and keeps every SOAP exchange."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        response = self.inner.send(request, timeout=timeout)
        if request.soap_method is not None:
            self.exchanges.append(
                Exchange(request.soap_method, request.body, response.status, response.body)
            )
        return response

    def close(self) -> None:
        self.inner.close()

    def last(self, method: str) -> Exchange:
        """The most recent exchange of ``method``."""
        for exchange in reversed(self.exchanges):
            if exchange.method == method:
                return exchange
        raise AssertionError(f"no {method} call was recorded")


# ---------------------------------------------------------------------------------------
# decoding


def pyvmomi_version(api_version: str) -> str:
    """pyVmomi's version id for a vim25 wire version: "6.5" -> "vim.version.version11"."""
    return str(_V.versionMap[f"vim25/{api_version}"])


def decode_spherekit(method: str, body: bytes, status: int = 200) -> Any:
    """spherekit's result for a response; a SOAP fault is returned as its exception."""
    try:
        return codec.decode_response(method, body, status)
    except MethodFault as fault:
        return fault


def decode_pyvmomi(method: str, body: bytes, api_version: str) -> Any:
    """pyVmomi's result for a response, as ``SoapStubAdapter.InvokeMethod`` computes it.

    The stub points nowhere (it is never used to connect); it sets the version that
    pyVmomi widens newer types to, and is what decoded managed objects would call through.
    A SOAP fault is returned (``InvokeMethod`` would raise it).
    """
    stub = _SOAP.SoapStubAdapter(host="127.0.0.1", port=9, version=pyvmomi_version(api_version))
    info = _V.GetWsdlMethod("urn:vim25", method).info
    return _SOAP.SoapResponseDeserializer(stub).Deserialize(body, info.result)


def xml_leaf_count(body: bytes) -> int:
    """Leaf elements of the payload: under the response element, or a fault's detail.

    A fault's ``faultstring`` is one more leaf (both decoders keep it as the fault's
    message); ``faultcode`` is not (neither decoder keeps it).
    """
    root = etree.fromstring(body)
    soap_body = root.find(NS_SOAP + "Body")
    assert soap_body is not None and len(soap_body) == 1
    payload = soap_body[0]
    if payload.tag == NS_SOAP + "Fault":
        detail = payload.find("detail")
        assert detail is not None
        return 1 + sum(_leaves(child) for child in detail)
    return sum(_leaves(child) for child in payload)


def _leaves(el: etree._Element) -> int:
    children = [c for c in el if isinstance(c.tag, str)]
    return 1 if not children else sum(_leaves(c) for c in children)


# ---------------------------------------------------------------------------------------
# comparing


@dataclass
class Comparison:
    """The outcome of :func:`compare`."""

    leaves: int = 0
    diffs: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    types: set[str] = field(default_factory=set)

    def diff(self, path: str, what: str) -> None:
        self.diffs.append(f"{path}: {what}")

    def note(self, kind: str, path: str) -> None:
        self.notes[kind].append(path)

    def report(self, limit: int = 15) -> str:
        lines = [f"{len(self.diffs)} disagreement(s); first: {self.diffs[0]}"] if self.diffs else []
        lines += [f"  {d}" for d in self.diffs[1:limit]]
        if len(self.diffs) > limit:
            lines.append(f"  ... and {len(self.diffs) - limit} more")
        return "\n".join(lines)


def compare(ours: Any, theirs: Any, path: str = "result") -> Comparison:
    """Compare spherekit's decoded value with pyVmomi's, recursively and exhaustively."""
    result = Comparison()
    _value(ours, theirs, path, result)
    if isinstance(ours, MethodFault) and _is_pyvmomi_fault(theirs):
        # a SOAP fault: both keep the faultstring as the fault's message, but spherekit
        # turns an empty one into None (its str() then names the fault type instead)
        if ours.msg is None and theirs.msg == "":
            result.leaves += 1
            result.note("empty-fault-string", f"{path}.msg")
        else:
            _leaf(ours.msg, theirs.msg, f"{path}.msg", result)
    return result


def _is_pyvmomi_data(v: Any) -> bool:
    return isinstance(v, _V.DataObject)


def _is_pyvmomi_fault(v: Any) -> bool:
    return isinstance(v, _V.DataObject) and isinstance(v, Exception)


def _show(v: Any) -> str:
    if _is_pyvmomi_data(v):
        return f"<{type(v)._wsdlName}>"
    if isinstance(v, DataObject):
        return f"<{v._wsdl_name}>"
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _value(ours: Any, theirs: Any, path: str, r: Comparison) -> None:
    if ours is None:
        if theirs is None:
            return
        r.diff(path, f"spherekit None vs pyVmomi {_show(theirs)}")
    elif isinstance(ours, LocalizedMethodFault):
        _localized_fault(ours, theirs, path, r)
    elif isinstance(ours, DataObject):
        _data(ours, theirs, path, r)
    elif isinstance(ours, list):
        _list(ours, theirs, path, r)
    elif isinstance(ours, MoRef):
        r.leaves += 1
        if not isinstance(theirs, _V.ManagedObject):
            r.diff(path, f"spherekit {ours} vs pyVmomi {_show(theirs)} (not a managed object)")
        elif (ours.type, ours.value) != (type(theirs)._wsdlName, theirs._moId):
            r.diff(path, f"spherekit {ours} vs pyVmomi {type(theirs)._wsdlName}:{theirs._moId}")
    else:
        _leaf(ours, theirs, path, r)


def _localized_fault(ours: LocalizedMethodFault, theirs: Any, path: str, r: Comparison) -> None:
    if not _is_pyvmomi_fault(theirs):
        r.diff(path, f"spherekit {_show(ours)} vs pyVmomi {_show(theirs)} (not a fault)")
        return
    r.note("localized-fault", path)
    for attr in ("dynamicType", "dynamicProperty"):  # pyVmomi has nowhere to keep these
        if getattr(ours, attr) is not None:
            r.diff(f"{path}.{attr}", "set on the LocalizedMethodFault; pyVmomi drops it")
    _value(ours.fault, theirs, f"{path}.fault", r)
    _leaf(ours.localizedMessage, theirs.msg, f"{path}.localizedMessage", r)


def _data(ours: DataObject, theirs: Any, path: str, r: Comparison) -> None:
    if not _is_pyvmomi_data(theirs):
        r.diff(path, f"spherekit {_show(ours)} vs pyVmomi {_show(theirs)}")
        return
    name = ours._wsdl_name
    r.types.add(name)
    if type(theirs)._wsdlName != name:
        r.diff(path, f"type: spherekit {name} vs pyVmomi {type(theirs)._wsdlName}")
        return
    mine: dict[str, FieldInfo] = {f[1]: f for f in ours._fields}
    props: dict[str, Any] = {p.name: p for p in type(theirs)._GetPropertyList()}
    if isinstance(ours, MethodFault):
        props.pop("msg")  # pyVmomi's slot for the fault string, compared by compare()
    any_set = False
    for xml in [*mine, *(p for p in props if p not in mine)]:
        fpath = f"{path}.{xml}"
        if xml not in props:
            value = getattr(ours, mine[xml][0])
            if value is not None:
                r.diff(fpath, f"spherekit decoded {_show(value)}; pyVmomi's {name} has no field")
            continue
        other = getattr(theirs, xml)
        if xml not in mine:
            if other is not None and other != []:
                r.diff(fpath, f"pyVmomi decoded {_show(other)}; spherekit's {name} has no field")
            continue
        attr, _xml, _tname, flags, _since = mine[xml]
        value = getattr(ours, attr)
        if value is None and other is not None:
            if flags & ARRAY and other == []:
                r.note("unset-array", fpath)
                continue
            if not props[xml].flags & _V.F_OPTIONAL and _is_default(other):
                r.note("required-default", fpath)
                continue
        if value is not None:
            any_set = True
        _value(value, other, fpath, r)
    if not any_set:
        r.leaves += 1  # an empty object (<fault xsi:type="InvalidLogin"/>) is a leaf too


def _is_default(v: Any) -> bool:
    """pyVmomi's filler for an absent required primitive: False, "", 0 or 0.0."""
    return isinstance(v, bool | str | int | float) and not v


def _list(ours: list[Any], theirs: Any, path: str, r: Comparison) -> None:
    if not isinstance(theirs, list):
        r.diff(path, f"spherekit list of {len(ours)} vs pyVmomi {_show(theirs)}")
        return
    if not ours:
        r.leaves += 1  # an empty array element (<val xsi:type="ArrayOfString"/>)
    if len(ours) != len(theirs):
        r.diff(path, f"spherekit has {len(ours)} items vs pyVmomi {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        _value(a, b, f"{path}[{i}]", r)


def _leaf(ours: Any, theirs: Any, path: str, r: Comparison) -> None:
    if ours is None and theirs is None:
        return  # absent on both sides (an unset localizedMessage)
    r.leaves += 1
    if isinstance(theirs, type) and hasattr(theirs, "_wsdlName"):
        r.note("type-name", path)
        theirs = theirs._wsdlName
    elif isinstance(theirs, _V.UnknownManagedMethod):
        r.note("method-name", path)
        theirs = theirs.name
    elif isinstance(theirs, _V.ManagedMethod):
        r.note("method-name", path)
        theirs = theirs.info.wsdlName
    if ours is None or theirs is None:
        if ours is not theirs:
            r.diff(path, f"spherekit {_show(ours)} vs pyVmomi {_show(theirs)}")
        return
    kind = _kind(ours)
    if kind != _kind(theirs):
        r.diff(
            path,
            f"spherekit {kind} {_show(ours)} vs pyVmomi {_kind(theirs)} {_show(theirs)}",
        )
    elif kind == "float" and math.isnan(ours) and math.isnan(theirs):
        return
    elif kind == "datetime":
        if ours != theirs or ours.utcoffset() != theirs.utcoffset():
            r.diff(path, f"spherekit {ours.isoformat()} vs pyVmomi {theirs.isoformat()}")
    elif kind == "bytes":
        if bytes(ours) != bytes(theirs):
            r.diff(path, f"spherekit {_show(bytes(ours))} vs pyVmomi {_show(bytes(theirs))}")
    elif ours != theirs:
        r.diff(path, f"spherekit {_show(ours)} vs pyVmomi {_show(theirs)}")


def _kind(v: Any) -> str:
    """The value's kind, ignoring subclasses (StrEnum members, pyVmomi's long, binary...)."""
    for kind, types in (
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("str", str),
        ("bytes", bytes),
        ("datetime", datetime),
    ):
        if isinstance(v, types):
            return kind
    return type(v).__name__
