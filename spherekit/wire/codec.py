"""vim25 SOAP encoding and decoding, driven by the schema.

One codec serves both directions (the client encodes requests and decodes responses; the
simulator does the reverse). Rules:

- an optional field or parameter that is ``None`` is omitted; ``0``, ``False`` and ``""``
  are values and are sent;
- a value whose type is a subtype of the declared type carries ``xsi:type``; values inside
  ``anyType`` always do (``xsd:int``, ``ArrayOfString``, ``ManagedObjectReference``, ...);
- elements a newer server sends that the schema does not know are skipped;
- mistakes (unknown method or parameter, missing required value, wrong Python type, a
  method or field newer than the server) raise before anything is sent, naming the path.

Decoding walks an lxml tree; encoding writes escaped XML text directly, which is several
times faster than building an element tree for large responses.
"""

from __future__ import annotations

import base64
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from spherekit.errors import ProtocolError, UsageError, VersionError
from spherekit.schema import registry
from spherekit.schema.base import ARRAY, SECRET, DataObject, FieldInfo, ManagedObject, MoRef
from spherekit.wire.xml import parse

NS_VIM = "urn:vim25"
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
XSI_TYPE = "{%s}type" % NS_XSI  # noqa: UP031 - constant folded at import
_Q = "{%s}" % NS_VIM  # noqa: UP031

ENVELOPE_START = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{NS_SOAP}" xmlns:xsd="{NS_XSD}" xmlns:xsi="{NS_XSI}">'
    "<soapenv:Body>"
)
ENVELOPE_END = "</soapenv:Body></soapenv:Envelope>"

# ---------------------------------------------------------------------------------------
# primitives

_PRIMITIVES = frozenset(
    ["string", "anyURI", "boolean", "byte", "short", "int", "long", "float", "double",
     "dateTime", "base64Binary"]
)  # fmt: skip

# ArrayOfX names for primitive X (the WSDL capitalizes the first letter)
_ARRAY_ITEM = {"ArrayOf" + p[0].upper() + p[1:]: p for p in _PRIMITIVES} | {
    "ArrayOfAnyType": "anyType",
    "ArrayOfManagedObjectReference": "ManagedObject",
}


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ProtocolError(f"not an xsd:dateTime: {text!r}") from None


def _parse_bool(text: str) -> bool:
    text = text.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ProtocolError(f"not an xsd:boolean: {text!r}")


_DECODE_PRIM: dict[str, Callable[[str], Any]] = {
    "string": str,
    "anyURI": str,
    "boolean": _parse_bool,
    "byte": int,
    "short": int,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "dateTime": _parse_datetime,
    "base64Binary": base64.b64decode,
}

_INF = float("inf")

_INT_RANGE = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}

# "\r" as a character reference: a parser turns a literal CR (or CRLF) into LF
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


# characters XML 1.0 cannot carry: C0 controls except TAB/LF/CR, surrogates, U+FFFE/U+FFFF
_BAD_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _check_xml_chars(s: str, path: str) -> None:
    bad = _BAD_XML_CHAR.search(s)  # one regex scan, not a Python loop per character
    if bad is not None:
        raise UsageError(f"{path}: character {bad.group()!r} cannot be sent in XML")


def escape(s: str) -> str:
    return s.translate(_ESCAPE)


def format_datetime(value: datetime, path: str | None = None) -> str:
    if value.utcoffset() is None:  # naive (no tzinfo, or one that gives no offset)
        where = f"{path}: " if path else ""
        raise UsageError(
            f"{where}naive datetime cannot be sent: vSphere needs a time zone "
            "(use datetime.now(UTC) or .replace(tzinfo=UTC))"
        )
    if value.utcoffset() == UTC.utcoffset(None):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _primitive_text(tname: str, value: Any, path: str) -> str:
    """Text of a primitive value, checked against its declared XML Schema type."""
    if tname in ("string", "anyURI"):
        if not isinstance(value, str):
            raise _type_error(path, "str", value)
        _check_xml_chars(value, path)
        return escape(value)
    if tname == "boolean":
        if not isinstance(value, bool):
            raise _type_error(path, "bool", value)
        return "true" if value else "false"
    if tname in _INT_RANGE:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(path, "int", value)
        lo, hi = _INT_RANGE[tname]
        if not lo <= value <= hi:
            raise UsageError(f"{path}: {value} does not fit in an xsd:{tname}")
        return str(value)
    if tname in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _type_error(path, "float", value)
        f = float(value)
        if f != f:
            return "NaN"
        if f in (_INF, -_INF):
            return "INF" if f > 0 else "-INF"
        return repr(f)
    if tname == "dateTime":
        if not isinstance(value, datetime):
            raise _type_error(path, "datetime", value)
        return format_datetime(value, path)
    if tname == "base64Binary":
        if not isinstance(value, bytes | bytearray):
            raise _type_error(path, "bytes", value)
        return base64.b64encode(value).decode("ascii")
    raise AssertionError(tname)


def _type_error(path: str, expected: str, value: Any) -> UsageError:
    # the value itself is not shown: it may be a password or a ticket
    return UsageError(f"{path}: expected {expected}, got {type(value).__name__}")


# ---------------------------------------------------------------------------------------
# encoding


class Encoder:
    """Writes vim25 values as XML text, checking them against the schema.

    ``version`` is the index (into ``registry.VERSIONS``) of the API version the peer
    speaks; anything newer raises VersionError. ``None`` disables version checks.
    """

    __slots__ = ("out", "version")

    def __init__(self, version: int | None = None) -> None:
        self.out: list[str] = []
        self.version = version

    def text(self) -> str:
        return "".join(self.out)

    def _check_version(self, since: int, what: str) -> None:
        if self.version is not None and since > self.version:
            raise VersionError(
                f"{what} appeared in API {registry.VERSIONS[since]}, but the server speaks "
                f"{registry.VERSIONS[self.version]}; leave it unset or use a newer server"
            )

    def field(self, tag: str, tname: str, flags: int, value: Any, path: str) -> None:
        """Write one field or parameter (all occurrences, if it is an array)."""
        if flags & SECRET:
            mark = len(self.out)
            try:
                self._field(tag, tname, flags, value, path)
            except UsageError:
                del self.out[mark:]
                # the message would quote the value: a password must never appear in errors
                raise UsageError(
                    f"{path}: not a valid {tname} (the value is secret, so it is not shown)"
                ) from None
        else:
            self._field(tag, tname, flags, value, path)

    def _field(self, tag: str, tname: str, flags: int, value: Any, path: str) -> None:
        if flags & ARRAY:
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise _type_error(path, "a list", value)
            for i, item in enumerate(value):
                if item is None:
                    raise UsageError(f"{path}[{i}]: None cannot be an array element")
                self.value(tag, tname, item, f"{path}[{i}]")
        else:
            self.value(tag, tname, value, path)

    def value(self, tag: str, tname: str, value: Any, path: str) -> None:
        out = self.out
        if tname in _PRIMITIVES:
            out.append(f"<{tag}>{_primitive_text(tname, value, path)}</{tag}>")
        elif tname == "anyType":
            self.any_value(tag, value, path)
        elif registry.is_managed(tname):
            ref = _moref(value, tname, path)
            out.append(f'<{tag} type="{escape(ref.type)}">{escape(ref.value)}</{tag}>')
        elif tname in registry.ENUM_NAMES:
            out.append(f"<{tag}>{escape(_enum_value(tname, value, path))}</{tag}>")
        else:
            self.data(tag, tname, value, path, xsi=False)

    def data(self, tag: str, tname: str, value: Any, path: str, *, xsi: bool) -> None:
        if not isinstance(value, DataObject):
            raise _type_error(path, tname, value)
        actual = value._wsdl_name
        if actual != tname and not registry.is_subtype(actual, tname) and tname != "DataObject":
            raise UsageError(f"{path}: expected {tname} (or a subtype), got {actual}")
        self._check_version(value._version, f"type {actual} (at {path})")
        out = self.out
        if xsi or actual != tname:
            out.append(f'<{tag} xsi:type="{actual}">')
        else:
            out.append(f"<{tag}>")
        for attr, xml, ftype, flags, since in value._fields:
            v = getattr(value, attr)
            fpath = f"{path}.{attr}"
            if v is None:
                if not flags & 2:  # OPTIONAL
                    raise UsageError(
                        f"{fpath} is required by {actual} but not set "
                        f"(set it, or check that the right type was used)"
                    )
                continue
            self._check_version(since, f"field {actual}.{xml} (at {fpath})")
            self.field(xml, ftype, flags, v, fpath)
        out.append(f"</{tag}>")

    def any_value(self, tag: str, value: Any, path: str) -> None:
        """A value declared as xsd:anyType: its type is inferred and sent as xsi:type."""
        out = self.out
        if isinstance(value, DataObject):
            self.data(tag, value._wsdl_name, value, path, xsi=True)
        elif isinstance(value, MoRef | ManagedObject):
            ref = _moref(value, "ManagedObject", path)
            out.append(
                f'<{tag} xsi:type="ManagedObjectReference" type="{escape(ref.type)}">'
                f"{escape(ref.value)}</{tag}>"
            )
        elif isinstance(value, list | tuple):
            item = _infer_type(value[0], path) if value else "string"
            if item == "int" and any(
                isinstance(v, int) and _infer_type(v, path) == "long" for v in value
            ):
                item = "long"  # one wide value makes the whole array xsd:long
            array = "ArrayOf" + (
                "ManagedObjectReference"
                if registry.is_managed(item)
                else item[0].upper() + item[1:]
            )
            out.append(f'<{tag} xsi:type="{array}">')
            child = "ManagedObjectReference" if registry.is_managed(item) else item
            for i, v in enumerate(value):
                self.value(child, item, v, f"{path}[{i}]")
            out.append(f"</{tag}>")
        else:
            tname = _infer_type(value, path)
            text = _primitive_text(tname, value, path)
            out.append(f'<{tag} xsi:type="xsd:{tname}">{text}</{tag}>')


def _infer_type(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "dateTime"
    if isinstance(value, bytes | bytearray):
        return "base64Binary"
    if isinstance(value, DataObject):
        return value._wsdl_name
    if isinstance(value, MoRef | ManagedObject):
        return "ManagedObject"
    raise UsageError(f"{path}: cannot send a {type(value).__name__} as xsd:anyType")


def _moref(value: Any, tname: str, path: str) -> MoRef:
    if isinstance(value, ManagedObject):
        value = value.ref
    if not isinstance(value, MoRef):
        raise _type_error(path, f"a reference to a {tname} (MoRef or handle)", value)
    if not isinstance(value.type, str) or not isinstance(value.value, str):
        raise UsageError(f"{path}: a MoRef's type and value must be str, got {value!r:.80}")
    _check_xml_chars(value.type + value.value, path)
    known = tname != "ManagedObject" and registry.is_managed(value.type)
    if known and not registry.is_subtype(value.type, tname):
        raise UsageError(f"{path}: expected a reference to a {tname}, got {value}")
    return value


def _enum_value(tname: str, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _type_error(path, f"{tname} (a str enum)", value)
    cls = registry.enum_class(tname)
    if cls is not None and not isinstance(value, cls) and value not in cls._value2member_map_:
        allowed = ", ".join(cls._value2member_map_)
        raise UsageError(f"{path}: {value!r} is not a {tname}; one of: {allowed}")
    return str(value)


def method_info(method: str) -> tuple[str, int, bool, bool, str, int, tuple[FieldInfo, ...]]:
    info = registry.METHODS.get(method)
    if info is None:
        close = difflib.get_close_matches(method, registry.METHODS, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(f"unknown vim25 method {method!r}{hint}")
    return info


def encode_call(
    method: str, this: MoRef, params: Mapping[str, Any], version: int | None = None
) -> bytes:
    """The SOAP request body for ``this.method(**params)``, checked against the schema."""
    owner, since, _task, _writes, _rt, _rf, pinfo = method_info(method)
    if registry.is_managed(this.type) and not registry.is_subtype(this.type, owner):
        raise UsageError(f"{method} is a method of {owner}, not of {this.type} ({this.value})")
    enc = Encoder(version)
    enc._check_version(since, f"method {method}")
    known = {p[0]: p for p in pinfo} | {p[1]: p for p in pinfo}
    for name in params:
        if name not in known:
            names = ", ".join(p[1] for p in pinfo) or "none"
            raise UsageError(f"{method} has no parameter {name!r} (its parameters: {names})")
    out = enc.out
    out.append(ENVELOPE_START)
    out.append(f'<{method} xmlns="{NS_VIM}">')
    this = _moref(this, "ManagedObject", f"{method}._this")
    out.append(f'<_this type="{escape(this.type)}">{escape(this.value)}</_this>')
    for attr, xml, tname, flags, psince in pinfo:
        value = params.get(xml, params.get(attr))
        if value is None:
            if not flags & 2:
                raise UsageError(f"{method} requires parameter {xml!r} ({tname})")
            continue
        enc._check_version(psince, f"parameter {xml} of {method}")
        enc.field(xml, tname, flags, value, f"{method}.{xml}")
    out.append(f"</{method}>")
    out.append(ENVELOPE_END)
    return enc.text().encode("utf-8")


# ---------------------------------------------------------------------------------------
# decoding

_TABLES: dict[type[DataObject], dict[str, tuple[str, str, int]]] = {}


def _table(cls: type[DataObject]) -> dict[str, tuple[str, str, int]]:
    """Qualified and bare element name -> (attribute, type, flags) for a data class."""
    t = _TABLES.get(cls)
    if t is None:
        t = {}
        for attr, xml, tname, flags, _since in cls._fields:
            t[_Q + xml] = t[xml] = (attr, tname, flags)
        _TABLES[cls] = t
    return t


def _local(tag: str) -> str:
    return tag[tag.index("}") + 1 :] if tag[0] == "{" else tag


def decode(el: etree._Element, tname: str) -> Any:
    """Decode one element whose declared type is ``tname`` (an xsi:type overrides it)."""
    declared = tname
    xt = el.get(XSI_TYPE)
    if xt is not None:
        tname = xt.rpartition(":")[2]
    prim = _DECODE_PRIM.get(tname)
    if prim is not None:
        try:
            return prim(el.text or "")
        except (ValueError, TypeError) as e:
            raise ProtocolError(f"bad {tname} value in <{_local(el.tag)}>: {e}") from None
    if tname == "ManagedObjectReference" or registry.is_managed(tname):
        return MoRef(el.get("type") or tname, el.text or "")
    if tname.startswith("ArrayOf"):
        item = _ARRAY_ITEM.get(tname, tname[7:])
        return [decode(c, item) for c in el]
    if tname in registry.ENUM_NAMES:
        text = el.text or ""
        cls = registry.enum_class(tname)
        return cls._value2member_map_.get(text, text) if cls is not None else text
    if tname == "anyType":
        return el.text or ""
    cls_ = registry.data_class(tname)
    if cls_ is None:
        # a subtype from a newer server: keep what we know of it by its declared type (its
        # unknown fields are skipped); inside anyType there is no declared type to fall to
        cls_ = registry.data_class(declared) if declared != tname else None
        if cls_ is None:
            raise ProtocolError(f"unknown type {tname!r} in <{_local(el.tag)}>")
    return decode_data(el, cls_)


def decode_data(el: etree._Element, cls: type[DataObject]) -> DataObject:
    obj = cls.__new__(cls)
    d = obj.__dict__
    table = _table(cls)
    for child in el:
        f = table.get(child.tag)
        if f is None:
            continue  # an element from a newer API version: tolerated
        attr, tname, flags = f
        v = decode(child, tname)
        if flags & ARRAY:
            lst = d.get(attr)
            if lst is None:
                d[attr] = [v]
            else:
                lst.append(v)
        else:
            d[attr] = v
    return obj


class _TextDecoders(dict[str | None, Callable[[str], Any] | None]):
    """``xsi:type`` attribute value -> how :func:`decode` turns such an element's text into
    its value, for the types whose value is their text alone (primitives and enums); None
    for every other type (and for no ``xsi:type``). Filled on first use of each key.

    For bulk reads (``property._rows``): ``f(el.text or "")`` gives what ``decode`` gives,
    except that a ValueError or TypeError means "call decode" (for its ProtocolError).
    """

    def __missing__(self, xsi_type: str | None) -> Callable[[str], Any] | None:
        f: Callable[[str], Any] | None = None
        if xsi_type is not None:
            tname = xsi_type.rpartition(":")[2]
            f = _DECODE_PRIM.get(tname)
            if (  # the order of decode's tests: a reference or an array is never text alone
                f is None
                and tname != "ManagedObjectReference"
                and not registry.is_managed(tname)
                and not tname.startswith("ArrayOf")
                and tname in registry.ENUM_NAMES
            ):
                cls = registry.enum_class(tname)
                members: Mapping[str, Any] = cls._value2member_map_ if cls is not None else {}
                f = lambda text: members.get(text, text)  # noqa: E731

        self[xsi_type] = f
        return f


TEXT_DECODERS = _TextDecoders()


def _body(root: etree._Element) -> etree._Element:
    if root.tag != f"{{{NS_SOAP}}}Envelope":
        raise ProtocolError(f"expected a SOAP envelope, got <{_local(root.tag)}>")
    for child in root:
        if child.tag == f"{{{NS_SOAP}}}Body":
            for payload in child:
                return payload
    raise ProtocolError("the SOAP envelope has an empty body")


def _http_error(method: str, body: bytes, status: int) -> ProtocolError:
    snippet = body[:200].decode("utf-8", "replace")
    return ProtocolError(
        f"{method}: the server answered HTTP {status} with {snippet!r}",
        method=method,
        maybe_sent=True,
    )


def response_payload(method: str, body: bytes, status: int = 200) -> etree._Element:
    """The payload element of a SOAP response; a Fault is raised as its typed exception."""
    # a response came back, so the request reached the server: maybe_sent=True
    if not body.lstrip().startswith(b"<"):
        raise _http_error(method, body, status)
    try:
        payload = _body(parse(body))
    except ProtocolError as e:
        if status not in (200, 500):  # an error page (proxy, 503 ...), not a SOAP answer
            raise _http_error(method, body, status) from None
        e.method = method
        e.maybe_sent = True
        raise
    if payload.tag == f"{{{NS_SOAP}}}Fault":
        raise decode_fault(payload, method)
    return payload


def decode_return(method: str, payload: etree._Element) -> Any:
    """Decode the return value in a method's response element."""
    _owner, _since, _task, _writes, rtype, rflags, _p = method_info(method)
    if rtype == "void":
        return None
    if rflags & ARRAY:
        return [decode(c, rtype) for c in payload]
    for c in payload:
        return decode(c, rtype)
    return None


def decode_response(method: str, body: bytes, status: int = 200) -> Any:
    """Decode a method's SOAP response; raise its fault as the typed exception."""
    return decode_return(method, response_payload(method, body, status))


def decode_fault(fault: etree._Element, method: str | None) -> Exception:
    """A SOAP Fault element as the typed MethodFault exception it carries."""
    from spherekit.schema.vim25.data import MethodFault

    text = ""
    detail: etree._Element | None = None
    for child in fault:
        name = _local(child.tag)
        if name == "faultstring":
            text = child.text or ""
        elif name == "detail":
            detail = child
    exc: MethodFault | None = None
    if detail is not None:
        for d in detail:
            xt = d.get(XSI_TYPE)
            tname = xt.rpartition(":")[2] if xt else _local(d.tag).removesuffix("Fault")
            cls = registry.data_class(tname)
            if cls is not None and issubclass(cls, MethodFault):
                exc = decode_data(d, cls)  # type: ignore[assignment]
            else:
                exc = MethodFault()
                text = f"{text} [{tname}]"
            break
    if exc is None:
        exc = MethodFault()
    exc.msg = text or None
    exc.method_name = method
    return exc


# ---------------------------------------------------------------------------------------
# the server's direction (the simulator): decode requests, encode responses and faults


def decode_request(body: bytes) -> tuple[str, MoRef, dict[str, Any]]:
    """(method, _this, {parameter attribute: value}) of a SOAP request.

    An unknown method raises UsageError; a missing ``_this`` raises ProtocolError.
    """
    payload = _body(parse(body, what="request"))
    method = _local(payload.tag)
    pinfo = method_info(method)[6]
    by_xml = {p[1]: p for p in pinfo}
    this: MoRef | None = None
    params: dict[str, Any] = {}
    for child in payload:
        name = _local(child.tag)
        if name == "_this":
            this = MoRef(child.get("type") or "", (child.text or "").strip())
            continue
        p = by_xml.get(name)
        if p is None:
            raise ProtocolError(f"{method} has no parameter {name!r}")
        attr, _xml, tname, flags, _since = p
        value = decode(child, tname)
        if flags & ARRAY:
            params.setdefault(attr, []).append(value)
        else:
            params[attr] = value
    if this is None:
        raise ProtocolError(f"{method}: the request has no _this")
    return method, this, params


def encode_response(method: str, value: Any) -> bytes:
    """The SOAP response body carrying ``value`` as ``method``'s return value."""
    _owner, _since, _task, _writes, rtype, rflags, _p = method_info(method)
    enc = Encoder()
    out = enc.out
    out.append(ENVELOPE_START)
    out.append(f'<{method}Response xmlns="{NS_VIM}">')
    if rtype != "void" and value is not None:
        enc.field("returnval", rtype, rflags, value, f"{method}.returnval")
    out.append(f"</{method}Response>")
    out.append(ENVELOPE_END)
    return enc.text().encode("utf-8")


def encode_fault(fault: DataObject, message: str) -> bytes:
    """A SOAP Fault carrying ``fault`` (a MethodFault) in its detail, as vCenter sends it."""
    name = fault._wsdl_name
    enc = Encoder()
    out = enc.out
    out.append(ENVELOPE_START)
    out.append(
        f"<soapenv:Fault><faultcode>ServerFaultCode</faultcode>"
        f"<faultstring>{escape(message)}</faultstring><detail>"
    )
    inner = Encoder()
    inner.data(f"{name}Fault", name, fault, "fault", xsi=True)
    out.append(inner.text().replace(f"<{name}Fault ", f'<{name}Fault xmlns="{NS_VIM}" ', 1))
    out.append("</detail></soapenv:Fault>")
    out.append(ENVELOPE_END)
    return enc.text().encode("utf-8")
