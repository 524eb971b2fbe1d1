"""The one HTTP seam of the client: ``Transport.send(Request) -> Response``.

- :class:`HttpTransport` is the real thing: an ``httpx.Client`` with a keep-alive connection
  pool (thread-safe), finite timeouts, TLS verified by default, optional SHA-256 certificate
  pinning checked during the handshake (before any request byte, e.g. a password, is sent).
- :class:`MockTransport` answers from a function, for unit tests.
- :class:`~spherekit.wire.wirelog.WireLog` (re-exported here) is the opt-in wire log,
  with passwords, cookies and tickets removed.

Errors are mapped once, into :mod:`spherekit.errors`; no httpx, httpcore or ssl exception
leaves a transport. An HTTP status is never an error here (SOAP faults arrive as HTTP 500
with a SOAP body): the caller decides. Every :class:`~spherekit.errors.TransportError`
carries ``maybe_sent``: ``False`` only when no connection was established (refused, unknown
host, certificate rejected, connect or pool timeout), so the server cannot have seen the
request; ``True`` for everything after that (read timeout, reset, server closed without
answering, oversized answer), so a state-changing call must not be blindly re-sent.

This module is the public face of the seam; the parts live beside it:

- :mod:`~spherekit.wire.messages`: :class:`Request`, :class:`Response`, :class:`Transport`,
  ``USER_AGENT``;
- :mod:`~spherekit.wire.tls`: thumbprints, pinning, the client's SSL context;
- :mod:`~spherekit.wire.errormap`: httpx/ssl/OS exceptions mapped into :mod:`spherekit.errors`;
- :mod:`~spherekit.wire.pool`: the connection pool (httpcore's, without its thread race);
- :mod:`~spherekit.wire.http_transport`: :class:`HttpTransport`;
- :mod:`~spherekit.wire.mock`: :class:`MockTransport`;
- :mod:`~spherekit.wire.wirelog`: :class:`WireLog`.
"""

from __future__ import annotations

from spherekit.wire.http_transport import HttpTransport
from spherekit.wire.messages import USER_AGENT, Request, Response, Transport
from spherekit.wire.mock import MockTransport
from spherekit.wire.tls import fetch_server_thumbprint, format_thumbprint, parse_thumbprint
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
