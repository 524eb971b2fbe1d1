"""The HTTP transport's connection pool: httpcore's, with a thread race fixed."""

from __future__ import annotations

import ssl

import httpcore
import httpx

__all__ = ["ConnectionPool", "PoolTransport"]


class ConnectionPool(httpcore.ConnectionPool):
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


class PoolTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`ConnectionPool` (HTTP/1.1, no proxy, no retries)."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
        )
