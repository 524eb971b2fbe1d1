"""Transport errors mapped once, into :mod:`spherekit.errors`: no httpx, httpcore or ssl
exception leaves the transports. ``maybe_sent`` is ``False`` only when no connection was
established (refused, unknown host, certificate rejected, connect or pool timeout), so the
server cannot have seen the request; ``True`` for everything after that."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator

import httpx

from spherekit import errors
from spherekit.errors import ConnectError, TLSError, TransportError, UsageError
from spherekit.wire.messages import Request
from spherekit.wire.tls import PinMismatchError

__all__ = ["map_exception"]


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


def map_exception(
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
            if isinstance(e, PinMismatchError):
                problem = (
                    f"the certificate of {where} does not match the pinned thumbprint: "
                    f"expected {e.expected}, the server presented {e.actual}"
                )
                return TLSError(
                    f"{problem}. If the server's certificate was replaced on purpose, pin the "
                    "new thumbprint; otherwise someone may be intercepting the connection",
                    method=method,
                    problem=problem,
                    presented=e.actual,
                    mismatch=True,
                )
            if isinstance(e, ssl.SSLCertVerificationError):
                actual = thumbprint_of_server() if thumbprint_of_server else None
                pin = f"thumbprint='{actual}'" if actual else "thumbprint='<its SHA-256>'"
                problem = (
                    f"the TLS certificate of {where} was not accepted "
                    f"({e.verify_message or e.reason or e})"
                )
                return TLSError(
                    f"{problem}. If you trust this server, pass {pin} to pin this "
                    "certificate, ca_file=... to trust its CA, or insecure=True (not "
                    "recommended: no protection against interception)",
                    method=method,
                    problem=problem,
                    presented=actual,
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
