"""A spherekit transport that calls the simulator directly: no sockets, no TLS.

It implements the ``send(request, *, timeout=None) -> Response`` / ``close()`` protocol of
:mod:`spherekit.wire.transport`, so a Session runs against the simulator exactly as it runs
against a server, through the same HTTP routing, SOAP dispatch and codec.
"""

from __future__ import annotations

from spherekit.errors import TransportError, UsageError
from spherekit.sim import http
from spherekit.sim.backend import Backend
from spherekit.sim.faultrules import DropConnection
from spherekit.wire.messages import Closing
from spherekit.wire.transport import Request, Response

__all__ = ["InProcessTransport"]


class InProcessTransport(Closing):
    """Answers requests from a :class:`~spherekit.sim.backend.Backend` in the calling thread."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.closed = False

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        if self.closed:
            raise UsageError("this transport is closed; create a new one")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            answer = http.handle(
                self._backend,
                request.method,
                request.path,
                headers,
                request.body,
                peer="127.0.0.1",
                secure=False,
            )
        except DropConnection as exc:
            # what HttpTransport raises when a server closes the connection unanswered
            raise TransportError(
                f"the simulator closed the connection without a complete answer to "
                f"{request.path} ({exc}); the request may have reached the server",
                maybe_sent=True,
            ) from None
        return Response(answer.status, dict(answer.headers), answer.body)

    def close(self) -> None:
        self.closed = True
