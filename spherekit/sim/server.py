"""The served simulator: an ASGI app on uvicorn, in a background thread.

Handlers are synchronous (they hold the registry lock, and ``WaitForUpdatesEx`` blocks on
a condition variable), so each request runs on a worker thread; the event loop only moves
bytes. Request bodies are bounded (413 beyond :data:`~spherekit.sim.http.MAX_BODY`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import uvicorn

from spherekit.sim import http
from spherekit.sim.backend import Backend
from spherekit.sim.faultrules import DropConnection
from spherekit.sim.tls import Certificate

__all__ = ["SimApp", "SimServer"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: requests served at once (each blocked WaitForUpdates holds one)
WORKERS = 64
#: streamed request bodies (datastore uploads) up to this size stay in memory
SPOOL = 1024 * 1024


class SimApp:
    """The ASGI application of one backend."""

    def __init__(self, backend: Backend, *, secure: bool) -> None:
        self.backend = backend
        self.secure = secure
        self.executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="spherekit-sim-http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        # a streaming route (datastore file uploads) takes any size, spooled to disk
        spool = tempfile.SpooledTemporaryFile(SPOOL) if http.streams(scope["path"]) else None  # noqa: SIM115
        if length.isdigit() and int(length) > http.MAX_BODY and spool is None:
            await self._reply(send, http.HttpResponse(413, b"request body too large\n"))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if spool is not None:
                    spool.close()  # an aborted upload leaves nothing open
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > http.MAX_BODY and spool is None:
                await self._reply(send, http.HttpResponse(413, b"request body too large\n"))
                return
            if spool is not None:
                spool.write(chunk)
            else:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")  # routes read their query
        call = partial(
            http.handle,
            self.backend,
            scope["method"],
            scope["path"] + ("?" + query if query else ""),
            headers,
            b"".join(chunks),
            peer=client[0] if client else "",
            secure=self.secure,
            stream=spool,  # type: ignore[arg-type]  # a SpooledTemporaryFile is a BinaryIO
        )
        if spool is not None:
            spool.seek(0)
        try:
            response = await asyncio.get_running_loop().run_in_executor(self.executor, call)
        except DropConnection:
            _drop(send)
            return
        finally:
            if spool is not None:
                spool.close()
        await self._reply(send, response)

    @staticmethod
    async def _reply(send: Send, response: http.HttpResponse) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if not any(k == b"content-length" for k, _v in headers):  # HEAD sets its own
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


def _drop(send: Send) -> None:
    """Close the connection without answering (a fault rule's ``drop``). ASGI has no word
    for it, so this reaches uvicorn's request cycle behind ``send``: its transport, and its
    ``disconnected`` flag (else uvicorn would write a 500 to the closed connection)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: not served by uvicorn")
    cycle.disconnected = True  # type: ignore[union-attr]
    transport.close()


def _ssl_factory(cert: Certificate) -> Callable[..., ssl.SSLContext]:
    def factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        folder = tempfile.mkdtemp(prefix="spherekit-sim-")
        try:
            cert_file, key_file = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            with open(cert_file, "wb") as f:
                f.write(cert.cert_pem + cert.ca_pem)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(cert.key_pem)
            ctx.load_cert_chain(cert_file, key_file)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return ctx

    return factory


class _Server(uvicorn.Server):
    """uvicorn's server, stopping promptly.

    It notices ``should_exit`` within 10 ms (not 100 ms), and connections still open after
    a short grace period are aborted: a TLS client that never closes its end (a leaked
    socket) would otherwise hold shutdown for the whole graceful timeout and leave its
    transport unclosed.
    """

    grace = 1.0

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.sleep(0)
        for server in self.servers:
            await server.wait_closed()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            for _ in range(10):
                await asyncio.sleep(0.01)
                if self.should_exit:
                    return
            counter = (counter + 1) % 864000


#: seconds an idle keep-alive connection stays open (uvicorn's default of 5 s breaks pyVmomi)
KEEP_ALIVE = 900


class SimServer:
    """uvicorn serving a backend on a background thread."""

    def __init__(self, backend: Backend, host: str, port: int, cert: Certificate | None) -> None:
        self.app = SimApp(backend, secure=cert is not None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted sockets only then,
        # and without it every response waits ~40 ms for a delayed ACK (Nagle)
        self._sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
            # clients pool connections for long (pyVmomi: 900 s) and do not retry a call
            # whose idle connection the server closed; keep idle connections as long
            timeout_keep_alive=KEEP_ALIVE,
            ssl_context_factory=_ssl_factory(cert) if cert is not None else None,
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> None:
        """Serve; return once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="spherekit-sim",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the simulator's HTTP server failed to start (see its log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the simulator's HTTP server did not start in {timeout} s")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._sock.close()
        self.app.executor.shutdown(wait=False, cancel_futures=True)
