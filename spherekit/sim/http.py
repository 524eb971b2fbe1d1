"""The simulator's HTTP endpoints, independent of any server: request in, response out.

- ``POST /sdk``: SOAP (200 with the result, 500 with a fault, as vCenter answers);
- ``GET /sdk/vimServiceVersions.xml``: the served vim25 version and the older ones it
  accepts (clients such as pyVmomi's SmartConnect negotiate with it).

Both the ASGI server and the in-process transport call :func:`handle`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import parse_qsl, unquote

from spherekit.schema.registry import VERSIONS, version_index
from spherekit.sim import control, nfc
from spherekit.sim.backend import Backend
from spherekit.sim.dispatch import handle_soap
from spherekit.sim.faultrules import DropConnection
from spherekit.wire.codec import escape

__all__ = [
    "MAX_BODY",
    "HttpRequest",
    "HttpResponse",
    "handle",
    "route",
    "service_versions",
    "streams",
]

#: larger request bodies are refused with 413 before they are read in full
MAX_BODY = 32 * 1024 * 1024

_XML = "text/xml; charset=utf-8"
log = logging.getLogger("spherekit.sim")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request to an endpoint other than /sdk (datastore files, NFC, guest files, control)."""

    method: str
    #: the URL path, percent-decoded, without the query string
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    peer: str = ""
    secure: bool = True
    #: the body as a file to read from, for routes registered with ``stream=True`` when the
    #: server spooled a large upload to disk (``body`` is then empty)
    stream: BinaryIO | None = None


RouteHandler = Callable[[Backend, HttpRequest], HttpResponse]
_ROUTES: list[tuple[str, RouteHandler]] = []
_STREAMING: set[str] = set()


def route(prefix: str, *, stream: bool = False) -> Callable[[RouteHandler], RouteHandler]:
    """Register the handler of every path under ``prefix`` (e.g. ``/folder``). With
    ``stream``, bodies of any size are accepted: the server spools them to a file and hands
    the handler :attr:`HttpRequest.stream` instead of ``body``."""

    def register(fn: RouteHandler) -> RouteHandler:
        if stream:
            _STREAMING.add(prefix.rstrip("/"))
        _ROUTES.append((prefix.rstrip("/"), fn))
        _ROUTES.sort(key=lambda r: -len(r[0]))
        return fn

    return register


def streams(path: str) -> bool:
    """True if requests to ``path`` go to a route that takes streamed bodies."""
    decoded = unquote(path.partition("?")[0])
    return any(decoded == p or decoded.startswith(p + "/") for p in _STREAMING)


def service_versions(api_version: str) -> bytes:
    """vimServiceVersions.xml for a server speaking ``api_version``."""
    newest = version_index(api_version)
    prior = [v for v in VERSIONS[:newest] if v[0].isdigit() and v != api_version]
    lines = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        '<namespaces version="1.0">',
        "  <namespace>",
        "    <name>urn:vim25</name>",
        f"    <version>{escape(api_version)}</version>",
        "    <priorVersions>",
        *(f"      <version>{escape(v)}</version>" for v in reversed(prior)),
        "    </priorVersions>",
        "  </namespace>",
        "</namespaces>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, (message + "\n").encode(), [("content-type", "text/plain; charset=utf-8")]
    )


def handle(
    backend: Backend,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    peer: str = "",
    secure: bool = True,
    stream: BinaryIO | None = None,
) -> HttpResponse:
    """Answer one HTTP request. ``headers`` keys are lower case; ``stream`` is a spooled
    body for a streaming route (see :func:`route`)."""
    route = path.split("?", 1)[0].rstrip("/")
    if route == "/sdk":
        if method != "POST":
            return _text(405, "POST SOAP requests to /sdk")
        if len(body) > MAX_BODY:
            return _text(413, f"request bodies are limited to {MAX_BODY} bytes")
        result = handle_soap(
            backend,
            body,
            headers.get("cookie"),
            peer=peer,
            agent=headers.get("user-agent", ""),
            secure=secure,
        )
        backend.flush()  # durable before the answer leaves (a no-op without --state)
        out = [("content-type", _XML)]
        if result.set_cookie is not None:
            out.append(("set-cookie", result.set_cookie))
        return HttpResponse(result.status, result.body, out)
    if route == "/sdk/vimServiceVersions.xml":
        if method not in ("GET", "HEAD"):
            return _text(405, "GET /sdk/vimServiceVersions.xml")
        body_out = service_versions(backend.settings.api_version)
        return HttpResponse(200, b"" if method == "HEAD" else body_out, [("content-type", _XML)])
    raw_path, _, raw_query = path.partition("?")
    decoded = unquote(raw_path)
    for prefix, fn in _ROUTES:
        if decoded == prefix or decoded.startswith(prefix + "/"):
            request = HttpRequest(
                method,
                decoded,
                dict(parse_qsl(raw_query, keep_blank_values=True)),
                headers,
                body,
                peer,
                secure,
                stream,
            )
            try:
                response = fn(backend, request)
            except DropConnection:
                raise
            except Exception:  # never a traceback on the wire: it goes to the log
                log.exception("%s %s failed", method, decoded)
                response = _text(500, "the simulator failed on this request (see its log)")
            backend.flush()
            return response
    return _text(404, f"no such endpoint: {route or '/'} (the SOAP endpoint is /sdk)")


# the control plane answers under its reserved path
route(control.PREFIX)(control.handle_http)
# the NFC lease URLs: disk uploads (ImportVApp) and downloads (ExportVm)
route(nfc.PREFIX, stream=True)(nfc.serve)
# datastore files: /folder (registers itself; imported last, it imports this module)
import spherekit.sim.datastore_files  # noqa: E402
import spherekit.sim.guest_files  # noqa: E402, F401
