"""Build vim25 SOAP responses and read SOAP requests in unit tests.

Responses are written with the codec's server direction (``encode_response``,
``encode_fault``: the code the simulator answers with), wrapped the way vCenter wraps
them: ``<MethodResponse xmlns="urn:vim25"><returnval>...</returnval></MethodResponse>``
and ``<soapenv:Fault>`` with the fault object in ``<detail>``. Requests are read back with
``decode_request``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import MethodFault
from spherekit.wire import codec
from spherekit.wire.transport import Request, Response

XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def envelope(inner: str) -> bytes:
    """A SOAP envelope (with the xsd/xsi prefixes declared) around ``inner``."""
    return (codec.ENVELOPE_START + inner + codec.ENVELOPE_END).encode("utf-8")


def encode(tag: str, tname: str, value: Any, *, flags: int = 0) -> str:
    """``value`` as the XML of one element (or, with ARRAY in flags, its repetitions)."""
    enc = codec.Encoder()
    enc.field(tag, tname, flags, value, tag)
    return enc.text()


def wrap_value(tag: str, tname: str, value: Any) -> etree._Element:
    """Encode ``value`` in a response envelope, parse it back, and return its element."""
    body = envelope(f'<R xmlns="urn:vim25">{encode(tag, tname, value)}</R>')
    payload = codec.response_payload("test", body)
    return payload[0]


def roundtrip(tname: str, value: Any) -> Any:
    """``value`` encoded as ``tname``, sent through the parser, and decoded again."""
    return codec.decode(wrap_value("val", tname, value), tname)


def result_body(method: str, value: Any = None) -> bytes:
    """The response returning ``value`` from ``method`` (the simulator's encoder)."""
    return codec.encode_response(method, value)


def fault_body(faultstring: str, fault: MethodFault | None = None) -> bytes:
    """A ``<soapenv:Fault>`` as vCenter sends it, with ``fault`` (if any) in its detail."""
    if fault is not None:
        return codec.encode_fault(fault, faultstring)
    return envelope(
        "<soapenv:Fault><faultcode>ServerFaultCode</faultcode>"
        f"<faultstring>{codec.escape(faultstring)}</faultstring></soapenv:Fault>"
    )


def ok(method: str, value: Any = None, headers: dict[str, str] | None = None) -> Response:
    return Response(200, {**XML_HEADERS, **(headers or {})}, result_body(method, value))


def fault(faultstring: str, fault: MethodFault | None = None) -> Response:
    return Response(500, XML_HEADERS, fault_body(faultstring, fault))


@dataclass
class Call:
    """One SOAP request as the server sees it, its parameters decoded by their types."""

    method: str
    this: MoRef
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


def parse_call(request: Request) -> Call:
    method, this, params = codec.decode_request(request.body)
    return Call(method, this, params, dict(request.headers), request.body)
