"""The real transport: :class:`HttpTransport`, over a pooled, thread-safe ``httpx.Client``
(see :mod:`spherekit.wire.transport` for the contract every transport keeps)."""

from __future__ import annotations

import dataclasses
import http.cookiejar
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from spherekit import errors
from spherekit.errors import ProtocolError, UsageError
from spherekit.wire.errormap import map_exception
from spherekit.wire.messages import USER_AGENT, Closing, Request, Response, header
from spherekit.wire.pool import PoolTransport
from spherekit.wire.tls import fetch_server_thumbprint, ssl_context
from spherekit.wire.wirelog import WireLog

__all__ = ["HttpTransport"]


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


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Stores and sends nothing: the session layer owns the session cookie explicitly."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


class HttpTransport(Closing):
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
            transport=PoolTransport(ssl_context(insecure, ca_file, thumbprint), limits),
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
        if header(headers, "user-agent") is None:
            headers["User-Agent"] = USER_AGENT
        op_id = header(headers, "operationID")
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
            raise map_exception(
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
        op_id = header(headers, "operationID") or self._next_operation_id()
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
            raise map_exception(
                exc, request=request, where=urlsplit(url).netloc, op_id=op_id,
                read_timeout=read, connect_timeout=self._connect_timeout,
                pool_size=self._pool_size,
            ) from exc  # fmt: skip
        return Response(hresp.status_code, hresp.headers, data)

    def close(self) -> None:
        """Close pooled connections. Idempotent."""
        self._closed = True
        self._client.close()
