"""A transport that answers from a function, for unit tests (no sockets)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from spherekit import errors
from spherekit.errors import UsageError
from spherekit.wire.errormap import map_exception
from spherekit.wire.messages import Closing, Request, Response

__all__ = ["MockTransport"]


class MockTransport(Closing):
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
            raise map_exception(exc, request=request, read_timeout=timeout) from exc

    def close(self) -> None:
        self.closed = True
