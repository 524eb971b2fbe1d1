"""SOAP dispatch: request body in, response body out, for one backend.

``decode_request`` -> session from the cookie -> checks (authenticated, object exists and
is visible, method implemented for its type, parameters) -> the handler, run under the
registry lock -> ``encode_response`` (outside the lock; stored values are immutable
snapshots) or, for any fault, ``encode_fault``. A Python exception in a handler becomes a
``SystemError`` fault and is logged; no traceback ever goes on the wire.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from lxml import etree

from spherekit.errors import ProtocolError, SpherekitError, UsageError
from spherekit.schema import registry as schema
from spherekit.schema.base import OPTIONAL, DataObject, MoRef
from spherekit.sim import accounts, esx, faults, methods
from spherekit.sim.backend import Backend, Context
from spherekit.sim.faultrules import DropConnection
from spherekit.sim.sessions import COOKIE
from spherekit.wire import codec
from spherekit.wire.xml import parse

__all__ = ["SoapResult", "handle_soap"]

log = logging.getLogger("spherekit.sim")


@dataclass(frozen=True, slots=True)
class SoapResult:
    """An HTTP answer to a SOAP request: 200 with a result, 500 with a fault."""

    status: int
    body: bytes
    #: a ``Set-Cookie`` header value, if the call logged in or out
    set_cookie: str | None = None


def session_cookie(header: str | None) -> str | None:
    """The ``vmware_soap_session`` value in a ``Cookie`` header."""
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def _payload(body: bytes) -> etree._Element | None:
    """The element inside the SOAP Body (None if there is none)."""
    for part in parse(body, what="request"):
        if part.tag == f"{{{codec.NS_SOAP}}}Body":
            return next(iter(part), None)
    return None


def _fetch_request(body: bytes) -> tuple[str, MoRef, dict[str, Any]] | None:
    """pyVmomi's ``Fetch`` (not in the WSDL): (method, this, {"prop": path}) or None."""
    payload = _payload(body)
    if payload is None or payload.tag != f"{{{codec.NS_VIM}}}Fetch":
        return None
    this = prop = None
    for child in payload:
        name = child.tag.rpartition("}")[2]
        if name == "_this":
            this = MoRef(child.get("type") or "", (child.text or "").strip())
        elif name == "prop":
            prop = child.text or ""
    if this is None or prop is None:
        raise ProtocolError("Fetch needs _this and prop")
    return "Fetch", this, {"prop": prop}


def _method_name(body: bytes) -> tuple[str, MoRef | None]:
    """The method and _this of a request whose method is unknown (for MethodNotFound)."""
    try:
        payload = _payload(body)
    except ProtocolError:
        return "", None
    if payload is None:
        return "", None
    name = payload.tag.rpartition("}")[2]
    for child in payload:
        if child.tag.rpartition("}")[2] == "_this":
            return name, MoRef(child.get("type") or "", (child.text or "").strip())
    return name, None


def _fault_result(fault: Any, cookie: str | None = None) -> SoapResult:
    msg = getattr(fault, "msg", None) or fault._wsdl_name
    try:
        body = codec.encode_fault(fault, msg)
    except Exception as exc:  # a fault the handler filled in wrongly
        log.exception("cannot encode %s", fault._wsdl_name)
        crash = faults.system_error(f"cannot encode the {fault._wsdl_name} fault: {exc}")
        body = codec.encode_fault(crash, crash.msg or "")
    return SoapResult(500, body, cookie)


def _check_value(value: Any, tname: str, path: str) -> None:
    """Check a decoded request value against its declared type ``tname``: InvalidRequest
    if a required field of a data object is missing or an enum value is unknown;
    InvalidType if the value is of another type (an ``xsi:type`` that is not a subtype, a
    reference to another kind of object, a data object where text belongs)."""
    if tname == "anyType" or value is None:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, tname, f"{path}[{i}]")
        return
    if isinstance(value, MoRef):
        if tname != "ManagedObjectReference" and not (
            schema.is_managed(tname) and schema.is_subtype(value.type, tname)
        ):
            raise faults.invalid_type(path, f"{path}: a {value.type} reference is not a {tname}")
        return
    cls = schema.data_class(tname)
    if cls is not None or isinstance(value, DataObject):
        if cls is None or not isinstance(value, cls):
            got = getattr(value, "_wsdl_name", type(value).__name__)
            raise faults.invalid_type(path, f"{path}: a {got} is not a {tname}")
        for attr, xml, ftype, flags, _v in value._fields:
            v = getattr(value, attr)
            if v is None and not flags & OPTIONAL:
                raise faults.invalid_request(
                    f"Required property {xml} is missing from data object of type "
                    f"{value._wsdl_name} (at {path})"
                )
            _check_value(v, ftype, f"{path}.{xml}")
        return
    if tname in schema.ENUM_NAMES:
        enum = schema.enum_class(tname)
        if enum is not None and not isinstance(value, enum):
            raise faults.invalid_request(f"{path}: {value!r} is not a value of {tname}")


def _cookie_header(value: str, secure: bool) -> str:
    flags = "; Path=/; HttpOnly" + ("; Secure" if secure else "")
    if value:
        return f'{COOKIE}="{value}"{flags}'
    return f'{COOKIE}=""{flags}; Max-Age=0'


def handle_soap(
    backend: Backend,
    body: bytes,
    cookie_header: str | None,
    *,
    peer: str = "",
    agent: str = "",
    secure: bool = True,
) -> SoapResult:
    """Answer one SOAP request (``secure``: the connection is HTTPS, for the cookie)."""
    from spherekit.schema.vim25.data import MethodFault

    try:
        try:
            method, this, params = codec.decode_request(body)
        except UsageError:
            fetched = _fetch_request(body)
            if fetched is None:
                name, target = _method_name(body)
                raise faults.method_not_found(target or MoRef("ManagedObject", ""), name) from None
            method, this, params = fetched
    except MethodFault as fault:
        return _fault_result(fault)
    except (ProtocolError, SpherekitError) as exc:
        return _fault_result(faults.invalid_request(str(exc)))
    rule = backend.control.faults.match(method, this, "call")
    if rule is not None:  # fault injection (spherekit.sim.faultrules), before the handler
        if rule.drop:
            raise DropConnection(f"fault rule {rule.id}: {method} drops the connection")
        if rule.status is not None:
            return SoapResult(rule.status, f"fault rule {rule.id}: HTTP {rule.status}\n".encode())
        if rule.fault is not None:
            return _fault_result(rule.make_fault(this))
        time.sleep(rule.delay)
    reg = backend.registry
    ctx: Context | None = None
    try:
        with reg.lock:
            if backend.closing:
                raise faults.invalid_request("the simulator is shutting down")
            session = backend.sessions.by_cookie(session_cookie(cookie_header))
            ctx = Context(backend, session, this, method, peer, agent)
            if session is not None:
                session.in_flight += 1
            try:
                result = _call(ctx, method, this, params)
            finally:
                if session is not None:  # idle from the end of its last call on
                    session.in_flight -= 1
                    session.last_active = time.monotonic()
            backend.diagnostics.call(ctx, method, this, None)  # a vpxd.log line
        encoded = _encode(method, result)
    except MethodFault as fault:
        backend.diagnostics.call(ctx, method, this, fault)
        return _fault_result(fault, _cookie_of(ctx, secure))
    except Exception as exc:
        log.exception("%s on %s failed", method, this)
        return _fault_result(faults.system_error(f"{type(exc).__name__}: {exc}"))
    return SoapResult(200, encoded, _cookie_of(ctx, secure))


def _cookie_of(ctx: Context | None, secure: bool) -> str | None:
    if ctx is None or ctx.response_cookie is None:
        return None
    return _cookie_header(ctx.response_cookie, secure)


def _call(ctx: Context, method: str, this: MoRef, params: dict[str, Any]) -> Any:
    if ctx.session is None and method not in methods.ANONYMOUS:
        ctx.require_session()
    if not ctx.visible(this):
        raise faults.not_found(this)
    if method != "Fetch":
        owner = schema.METHODS[method][0]
        if this.type != owner and not schema.is_subtype(this.type, owner):
            raise faults.method_not_found(this, method)
    esx.refuse(ctx, method)  # a vCenter-only call on an ESXi endpoint
    accounts.check(ctx, method, this, params)  # NoPermission without the privilege
    found = methods.find(this.type, method)
    if found is None:
        raise faults.method_not_found(this, method)
    fn, accepted = found
    if method != "Fetch":
        for attr, xml, tname, flags, _since in schema.METHODS[method][6]:
            if attr not in params:
                if not flags & OPTIONAL:
                    raise faults.invalid_request(f"{method}: required parameter {xml} is missing")
            else:
                _check_value(params[attr], tname, xml)
    if accepted is not None:
        for name in params:
            if name not in accepted:
                raise faults.not_supported(
                    f"{method}: parameter {name!r} is not implemented by spherekit.sim"
                )
    return fn(ctx, this, **params)


def _encode(method: str, result: Any) -> bytes:
    body = getattr(result, "body", None)
    if callable(body):
        out = body(method)
        assert isinstance(out, bytes)
        return out
    return codec.encode_response(method, result)
