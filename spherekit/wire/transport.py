"""The one HTTP seam of the client: ``Transport.send(Request) -> Response``.

- :class:`HttpTransport` is the real thing: an ``httpx.Client`` with a keep-alive connection
  pool (thread-safe), finite timeouts, TLS verified by default, optional SHA-256 certificate
  pinning checked during the handshake (before any request byte, e.g. a password, is sent).
- :class:`MockTransport` answers from a function, for unit tests.
- :class:`~spherekit.wire.wirelog.WireLog` (re-exported here) is the opt-in wire log,
  with passwords, cookies and tickets removed.

Errors are mapped here, once, into :mod:`spherekit.errors`; no httpx, httpcore or ssl
exception leaves this module. An HTTP status is never an error here (SOAP faults arrive as
HTTP 500 with a SOAP body): the caller decides. Every :class:`~spherekit.errors.TransportError`
carries ``maybe_sent``: ``False`` only when no connection was established (refused, unknown
host, certificate rejected, connect or pool timeout), so the server cannot have seen the
request; ``True`` for everything after that (read timeout, reset, server closed without
answering, oversized answer), so a state-changing call must not be blindly re-sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.cookiejar
import os
import re
import secrets
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import urlsplit

import httpcore
import httpx

from spherekit import errors
from spherekit.errors import ConnectError, ProtocolError, TLSError, TransportError, UsageError
from spherekit.wire.wirelog import DEFAULT_SECRET_FIELDS, WireLog

__all__ = [
    "DEFAULT_SECRET_FIELDS",
    "USER_AGENT",
    "HttpTransport",
    "MockTransport",
    "Request",
    "Response",
    "Transport",
    "WireLog",
    "fetch_server_thumbprint",
    "format_thumbprint",
    "parse_thumbprint",
]


def _version() -> str:
    try:
        return metadata.version("spherekit")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


USER_AGENT = f"spherekit/{_version()}"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request. ``path`` is relative to the base URL's origin (``/sdk``)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    soap_method: str | None = None  # for error messages and the wire log


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response, any status. ``headers`` look-ups are case-insensitive."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.headers, httpx.Headers):
            object.__setattr__(self, "headers", httpx.Headers(self.headers))


class Transport(Protocol):
    """Sends one request and returns its response; raises only spherekit errors."""

    def send(self, request: Request, *, timeout: float | None = None) -> Response: ...

    def close(self) -> None: ...


# --- thumbprints and TLS ---------------------------------------------------------------------


def parse_thumbprint(value: str) -> bytes:
    """Parse a SHA-256 thumbprint ("AB:CD:..." or plain hex, any case) into 32 bytes."""
    text = re.sub(r"[\s:]", "", value).lower()
    if not re.fullmatch(r"[0-9a-f]*", text) or not text:
        raise UsageError(f"thumbprint {value!r} is not hex; expected a SHA-256 thumbprint")
    if len(text) == 40:
        raise UsageError(
            "thumbprint is a SHA-1 thumbprint (20 bytes); SHA-256 is required (32 bytes, "
            "e.g. `openssl x509 -noout -fingerprint -sha256 -in cert.pem`, or connect once "
            "without it: the certificate error shows the server's SHA-256 thumbprint)"
        )
    if len(text) != 64:
        raise UsageError(
            f"thumbprint has {len(text) // 2} bytes; a SHA-256 thumbprint has 32 "
            "(64 hex digits, optionally separated by ':')"
        )
    return bytes.fromhex(text)


def format_thumbprint(digest: bytes) -> str:
    """Format a digest the way vSphere shows thumbprints: ``AB:CD:...``."""
    return ":".join(f"{b:02X}" for b in digest)


def _sha256_thumbprint(der: bytes) -> str:
    return format_thumbprint(hashlib.sha256(der).digest())


def fetch_server_thumbprint(host: str, port: int = 443, *, timeout: float = 10.0) -> str | None:
    """The SHA-256 thumbprint of the certificate a server presents, fetched without
    verifying it (to show the user what to pin), or ``None`` if it cannot be fetched."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return _sha256_thumbprint(der) if der else None


class _PinMismatchError(ssl.SSLError):
    def __init__(self, expected: bytes, actual: str) -> None:
        super().__init__("certificate thumbprint does not match the pin")
        self.expected = format_thumbprint(expected)
        self.actual = actual


class _PinnedSSLContext(ssl.SSLContext):
    """Accepts exactly the certificate whose SHA-256 digest is ``pin``.

    httpcore's sync backend upgrades a connection with ``ctx.wrap_socket(sock,
    server_hostname=...)``; the check runs right after the handshake, before the caller
    gets the socket, so no request byte is written to an unpinned peer.
    """

    pin: bytes = b""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        tls = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        try:
            if not do_handshake_on_connect:
                tls.do_handshake()
            der = tls.getpeercert(binary_form=True)
            digest = hashlib.sha256(der).digest() if der else b""
            if not self.pin or digest != self.pin:
                raise _PinMismatchError(self.pin, format_thumbprint(digest) if der else "none")
        except BaseException:
            tls.close()
            raise
        return tls

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        # TLS inside TLS (an https proxy) would bypass the check above: refuse it.
        raise ssl.SSLError("certificate pinning is not supported through a TLS tunnel")


def _ssl_context(insecure: bool, ca_file: str | None, thumbprint: str | None) -> ssl.SSLContext:
    if insecure and (ca_file is not None or thumbprint is not None):
        raise UsageError(
            "insecure=True turns certificate checks off; do not combine it with "
            "thumbprint= or ca_file= (drop insecure=True to keep the check)"
        )
    if ca_file is not None and thumbprint is not None:
        raise UsageError(
            "pass either thumbprint= (pin this server's certificate) or ca_file= "
            "(trust certificates issued by a CA), not both"
        )
    if thumbprint is not None:
        pinned = _PinnedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
        pinned.minimum_version = ssl.TLSVersion.TLSv1_2
        pinned.check_hostname = False  # the pin replaces hostname and CA checks
        pinned.verify_mode = ssl.CERT_NONE
        pinned.pin = parse_thumbprint(thumbprint)
        return pinned
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_file is not None:
        try:
            if os.path.isdir(ca_file):
                return ssl.create_default_context(capath=ca_file)
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise UsageError(
                f"cannot load CA certificates from ca_file={ca_file!r}: {exc}; "
                "pass a PEM file holding the CA that issued the server's certificate"
            ) from None
    return ssl.create_default_context()


# --- base URL ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    origin: str  # scheme://host[:port]
    path: str

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parse_base_url(base_url: str) -> _Origin:
    text = base_url.strip() if isinstance(base_url, str) else ""
    if not text:
        raise UsageError("base URL is empty; use https://<host>/sdk")
    no_credentials = UsageError(  # never echo what may be a password
        "the base URL must not contain credentials (user:password@); "
        "use https://<host>/sdk and pass the credentials to login"
    )
    if "://" not in text:
        if "@" in text:
            raise no_credentials
        fix = f"https://{text}" if "/" in text else f"https://{text}/sdk"
        raise UsageError(f"base URL {text!r} has no scheme; use {fix}")
    parts = urlsplit(text)
    if "@" in parts.netloc:
        raise no_credentials
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UsageError(
            f"base URL {text!r}: scheme {parts.scheme!r} is not supported; "
            f"use https://{parts.netloc or '<host>'}/sdk"
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise UsageError(
            f"base URL {text!r} is malformed ({exc}); use https://<host>[:<port>]/sdk"
        ) from None
    if not host:
        raise UsageError(f"base URL {text!r} has no host; use https://<host>/sdk")
    origin = f"{scheme}://{parts.netloc}"
    try:
        httpx.URL(origin)
    except httpx.InvalidURL as exc:
        raise UsageError(
            f"base URL {text!r} is malformed ({exc}); use https://<host>/sdk"
        ) from None
    default_port = 443 if scheme == "https" else 80
    return _Origin(scheme, host, port or default_port, origin, parts.path or "/sdk")


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise UsageError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


# --- error mapping -----------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _reason(exc: BaseException) -> str:
    root: BaseException = exc
    for e in _chain(exc):
        root = e
    if isinstance(root, socket.gaierror):
        return f"host name not found ({root.strerror or root})"
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return str(root) or type(root).__name__


def _map_exception(
    exc: BaseException,
    *,
    request: Request,
    where: str = "the server",
    op_id: str | None = None,
    read_timeout: float | None = None,
    connect_timeout: float | None = None,
    pool_size: int | None = None,
    thumbprint_of_server: Callable[[], str | None] | None = None,
) -> errors.SpherekitError:
    """Map an httpx/ssl/OS exception into the spherekit error tree (see module docstring)."""
    if isinstance(exc, errors.SpherekitError):
        return exc
    method = request.soap_method
    what = method or f"{request.method} {request.path}"
    op = f" (operationID {op_id})" if op_id else ""
    # before a connection exists: nothing was sent
    if isinstance(exc, httpx.PoolTimeout):
        return errors.TimeoutError(
            f"no free connection to {where} for {what} within {read_timeout} s: all "
            f"{pool_size} pooled connections are busy; raise pool_size or make fewer "
            "concurrent calls",
            method=method,
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return errors.TimeoutError(
            f"cannot connect to {where}: no answer within {connect_timeout} s; check the URL, "
            "firewalls and that the server is running",
            method=method,
        )
    if isinstance(exc, httpx.ConnectError):
        for e in _chain(exc):
            if isinstance(e, _PinMismatchError):
                return TLSError(
                    f"the certificate of {where} does not match the pinned thumbprint: "
                    f"expected {e.expected}, the server presented {e.actual}. If the server's "
                    "certificate was replaced on purpose, pin the new thumbprint; otherwise "
                    "someone may be intercepting the connection",
                    method=method,
                )
            if isinstance(e, ssl.SSLCertVerificationError):
                actual = thumbprint_of_server() if thumbprint_of_server else None
                pin = f"thumbprint='{actual}'" if actual else "thumbprint='<its SHA-256>'"
                return TLSError(
                    f"the TLS certificate of {where} was not accepted "
                    f"({e.verify_message or e.reason or e}). If you trust this server, pass "
                    f"{pin} to pin this certificate, ca_file=... to trust its CA, or "
                    "insecure=True (not recommended: no protection against interception)",
                    method=method,
                )
            if isinstance(e, ssl.SSLError):
                return TLSError(
                    f"TLS handshake with {where} failed ({e.reason or e}); check that the "
                    "server speaks HTTPS on this port (use an http:// URL if it does not)",
                    method=method,
                )
        return ConnectError(
            f"cannot connect to {where}: {_reason(exc)}; check the URL and that the server "
            "is running",
            method=method,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.InvalidURL):
        return UsageError(f"cannot send {what} to {where}: {exc}")
    # from here on the request was, or may have been, written
    if isinstance(exc, httpx.ReadTimeout):
        return errors.TimeoutError(
            f"no answer from {where} to {what} within {read_timeout} s{op}; the request may "
            "have reached the server (pass a larger timeout for long calls)",
            method=method,
            maybe_sent=True,
        )
    if isinstance(exc, httpx.TimeoutException):
        return errors.TimeoutError(
            f"sending {what} to {where} timed out{op}; the request may have reached the server",
            method=method,
            maybe_sent=True,
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        return TransportError(
            f"{where} closed the connection without a complete answer to {what}{op}: "
            f"{str(exc).rstrip('.')}; "
            "the request may have reached the server",
            method=method,
            maybe_sent=True,
        )
    return TransportError(
        f"connection to {where} failed during {what}{op}: {_reason(exc)}; "
        "the request may have reached the server",
        method=method,
        maybe_sent=True,
    )


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Stores and sends nothing: the session layer owns the session cookie explicitly."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None


# --- the connection pool -----------------------------------------------------------------------


class _ConnectionPool(httpcore.ConnectionPool):
    """httpcore's pool without its thread race (encode/httpcore#1110, open in 1.0.9).

    A connection handed to a request that has not started on it yet still reports IDLE, so
    a concurrent pass of ``_assign_requests_to_connections`` may judge it expired (its
    socket turns readable once the answer arrives) or surplus and close it under the
    request: the request then fails with EBADF or hangs until its read timeout. Here a
    connection claimed by a pending request is never closed nor given to a second request.
    Idle connections are also counted correctly against the keep-alive limit.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        closing: list[httpcore.ConnectionInterface] = []
        claimed = {id(r.connection) for r in self._requests if r.connection is not None}

        def free(c: httpcore.ConnectionInterface) -> bool:
            return id(c) not in claimed

        idle = sum(1 for c in self._connections if free(c) and c.is_idle())
        for c in list(self._connections):
            if c.is_closed():
                self._connections.remove(c)
            elif not free(c):
                continue
            elif c.has_expired() or (c.is_idle() and idle > self._max_keepalive_connections):
                idle -= c.is_idle()
                self._connections.remove(c)
                closing.append(c)
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            reusable = [
                c
                for c in self._connections
                if free(c) and c.can_handle_request(origin) and c.is_available()
            ]
            if reusable:
                connection = reusable[0]
            else:
                if len(self._connections) >= self._max_connections:
                    idle_ones = [c for c in self._connections if free(c) and c.is_idle()]
                    if not idle_ones:
                        continue  # stays queued until a connection is released
                    self._connections.remove(idle_ones[0])
                    closing.append(idle_ones[0])
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            claimed.add(id(connection))
        return closing


class _PoolTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`_ConnectionPool` (HTTP/1.1, no proxy, no retries)."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = _ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
        )


# --- the real transport ------------------------------------------------------------------------


class HttpTransport:
    """HTTP(S) transport over a pooled, thread-safe ``httpx.Client``.

    TLS: verified against the system CAs by default; ``ca_file`` (a PEM file or a directory)
    replaces them; ``thumbprint`` pins the server's certificate by SHA-256 instead of CA and
    hostname checks; ``insecure=True`` turns checking off. ``timeout=`` on :meth:`send`
    overrides ``read_timeout`` for one call (long polls). Answers larger than ``max_body``
    bytes raise :class:`~spherekit.errors.ProtocolError`. Proxy and ``.netrc`` settings from
    the environment are ignored, and no cookies are stored or sent implicitly.
    """

    def __init__(
        self,
        base_url: str,
        *,
        insecure: bool = False,
        ca_file: str | None = None,
        thumbprint: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        pool_size: int = 10,
        max_body: int = 512 * 1024 * 1024,
        wire_log: WireLog | None = None,
    ) -> None:
        self._origin = _parse_base_url(base_url)
        if self._origin.scheme == "http" and (ca_file is not None or thumbprint is not None):
            raise UsageError(
                "thumbprint= and ca_file= need an https:// URL; with http:// nothing is checked"
            )
        self._connect_timeout = _positive("connect_timeout", connect_timeout)
        self._read_timeout = _positive("read_timeout", read_timeout)
        if pool_size < 1:
            raise UsageError(f"pool_size must be at least 1, not {pool_size!r}")
        if max_body < 1:
            raise UsageError(f"max_body must be a positive number of bytes, not {max_body!r}")
        self._pool_size = pool_size
        self._max_body = max_body
        self._wire_log = wire_log
        self._op_base = secrets.randbits(32)
        self._op_count = 0
        self._op_lock = threading.Lock()
        self._closed = False
        limits = httpx.Limits(
            max_connections=pool_size, max_keepalive_connections=pool_size, keepalive_expiry=5.0
        )
        self._client = httpx.Client(
            transport=_PoolTransport(_ssl_context(insecure, ca_file, thumbprint), limits),
            timeout=httpx.Timeout(self._read_timeout, connect=self._connect_timeout),
            headers={"User-Agent": USER_AGENT},
            cookies=http.cookiejar.CookieJar(_NoCookies()),
            follow_redirects=False,
            trust_env=False,
        )

    @property
    def base_url(self) -> str:
        """The origin and path, e.g. ``https://vc.example.com/sdk``."""
        return self._origin.origin + self._origin.path

    @property
    def base_path(self) -> str:
        """The path of the base URL (``/sdk`` when the URL has none)."""
        return self._origin.path

    def _next_operation_id(self) -> str:
        with self._op_lock:
            self._op_count += 1
            n = self._op_count
        return f"{(self._op_base + n) & 0xFFFFFFFF:08x}"

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        """Send one request; any HTTP status is returned, only transport failures raise."""
        if self._closed:
            raise UsageError("this transport is closed; create a new one")
        if not request.path.startswith("/"):
            raise UsageError(f"request path {request.path!r} must start with '/' (e.g. '/sdk')")
        read = self._read_timeout if timeout is None else _positive("timeout", timeout)
        headers = dict(request.headers)
        if _header(headers, "user-agent") is None:
            headers["User-Agent"] = USER_AGENT
        op_id = _header(headers, "operationID")
        if op_id is None:
            op_id = headers["operationID"] = self._next_operation_id()
        sent = dataclasses.replace(request, headers=headers)
        try:
            hreq = self._client.build_request(
                request.method,
                self._origin.origin + request.path,
                headers=headers,
                content=request.body if request.body or request.method != "GET" else None,
                timeout=httpx.Timeout(read, connect=self._connect_timeout, pool=read),
            )
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise UsageError(f"cannot build the HTTP request for {request.path!r}: {exc}") from None
        log = self._wire_log
        if log is not None:
            log.log_request(sent)
        start = time.perf_counter()
        try:
            response = self._exchange(hreq, sent, op_id, read)
        except errors.SpherekitError as exc:
            if log is not None:
                log.log_error(sent, exc, duration=time.perf_counter() - start)
            raise
        if log is not None:
            log.log_response(sent, response, duration=time.perf_counter() - start)
        return response

    def _exchange(self, hreq: httpx.Request, request: Request, op_id: str, read: float) -> Response:
        try:
            hresp = self._client.send(hreq, stream=True)
            try:
                body = self._read_body(hresp, request, op_id)
            finally:
                hresp.close()
        except errors.SpherekitError:
            raise
        except RuntimeError:
            if self._closed:  # closed by another thread while this call was starting
                raise UsageError("this transport was closed during the call") from None
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:  # ssl errors are OSErrors
            o = self._origin
            raise _map_exception(
                exc,
                request=request,
                where=o.where,
                op_id=op_id,
                read_timeout=read,
                connect_timeout=self._connect_timeout,
                pool_size=self._pool_size,
                thumbprint_of_server=lambda: fetch_server_thumbprint(
                    o.host, o.port, timeout=self._connect_timeout
                ),
            ) from exc
        return Response(hresp.status_code, hresp.headers, body)

    def _read_body(self, hresp: httpx.Response, request: Request, op_id: str) -> bytes:
        limit = self._max_body
        length = hresp.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit and "content-encoding" not in hresp.headers:
            raise self._too_big(request, op_id, int(length))
        buf = bytearray()
        for chunk in hresp.iter_bytes():
            buf += chunk
            if len(buf) > limit:
                raise self._too_big(request, op_id, None)
        return bytes(buf)

    def _too_big(self, request: Request, op_id: str, size: int | None) -> ProtocolError:
        what = request.soap_method or f"{request.method} {request.path}"
        got = f"{size} bytes" if size is not None else "more"
        return ProtocolError(
            f"the answer to {what} (operationID {op_id}) is larger than max_body="
            f"{self._max_body} bytes ({got}); fetch less per call (e.g. smaller "
            "RetrievePropertiesEx pages) or raise max_body",
            method=request.soap_method,
            maybe_sent=True,
        )

    def stream(
        self,
        request: Request,
        *,
        body: Iterable[bytes] | None = None,
        sink: Callable[[bytes], None] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """:meth:`send` for big transfers (datastore, NFC and guest files), never buffered.

        The request body is sent from ``body`` chunk by chunk as it is produced (give a
        ``Content-Length`` header, or it goes out chunked); a 2xx answer's body is handed to
        ``sink`` chunk by chunk (the returned body is then empty), any other answer is
        buffered (it carries the error message). ``request.path`` may also be an absolute
        ``http(s)://`` URL on another host (a guest file URL on an ESXi host); the
        transport's TLS settings apply to it too. Errors are mapped as by :meth:`send`.
        """
        if self._closed:
            raise UsageError("this transport is closed; create a new one")
        absolute = request.path.startswith(("https://", "http://"))
        if not absolute and not request.path.startswith("/"):
            raise UsageError(f"request path {request.path!r} must start with '/' or a scheme")
        read = self._read_timeout if timeout is None else _positive("timeout", timeout)
        headers = dict(request.headers)
        op_id = _header(headers, "operationID") or self._next_operation_id()
        headers["operationID"] = op_id
        url = request.path if absolute else self._origin.origin + request.path
        try:
            hreq = self._client.build_request(
                request.method, url, headers=headers,
                content=body if body is not None else (request.body or None),
                timeout=httpx.Timeout(read, connect=self._connect_timeout, pool=read),
            )  # fmt: skip
            hresp = self._client.send(hreq, stream=True)
            try:
                if sink is not None and 200 <= hresp.status_code < 300:
                    for chunk in hresp.iter_bytes():
                        sink(chunk)
                    data = b""
                else:
                    data = self._read_body(hresp, request, op_id)
            finally:
                hresp.close()
        except errors.SpherekitError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise _map_exception(
                exc, request=request, where=urlsplit(url).netloc, op_id=op_id,
                read_timeout=read, connect_timeout=self._connect_timeout,
                pool_size=self._pool_size,
            ) from exc  # fmt: skip
        return Response(hresp.status_code, hresp.headers, data)

    def close(self) -> None:
        """Close pooled connections. Idempotent."""
        self._closed = True
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- the mock transport ------------------------------------------------------------------------


class MockTransport:
    """Answers every request with ``handler(request)``; records requests and timeouts.

    The handler may raise spherekit errors (passed through as they are) or httpx/OS errors
    (mapped exactly as :class:`HttpTransport` maps them, e.g. ``httpx.ReadTimeout`` becomes
    :class:`~spherekit.errors.TimeoutError` with ``maybe_sent=True``).
    """

    def __init__(self, handler: Callable[[Request], Response]) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.timeouts: list[float | None] = []
        self.closed = False
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        if self.closed:
            raise UsageError("this transport is closed; create a new one")
        with self._lock:
            self.requests.append(request)
            self.timeouts.append(timeout)
        try:
            return self.handler(request)
        except errors.SpherekitError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise _map_exception(exc, request=request, read_timeout=timeout) from exc

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
