"""A TCP proxy between a client and a server that can cut a connection at the worst moment.

:class:`DropProxy` listens on 127.0.0.1 (port 0), forwards every connection to an upstream
server and watches the HTTP requests going through it: it counts them by SOAP method and,
when told to with :meth:`DropProxy.drop_next`, forwards the next matching request, waits
until the server starts answering (so the request did reach and was processed by the
server) and then closes the connection instead of relaying the answer. The client sees a
connection closed without a response: exactly the case where it cannot know whether its
call took effect.

To see the requests, the proxy terminates TLS itself with a throw-away CA and a server
certificate for 127.0.0.1 (:func:`make_certs`, from tests/unit/tlsutil.py); the client
connects with ``thumbprint=proxy.thumbprint``, ``ca_file=proxy.certs.ca_file`` or
``insecure=True``. Towards the upstream it speaks TLS without verification (vcsim's built-in
certificate) or plain TCP. One thread serves each connection, one request at a time.

    with DropProxy(("127.0.0.1", sim.port), certs=make_certs(tmp_path)) as proxy:
        s = spherekit.connect(proxy.sdk_url, user=..., password=..., thumbprint=proxy.thumbprint)
        proxy.drop_next("RetrievePropertiesEx")
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
from collections import Counter
from types import TracebackType
from typing import Self

from tests.unit.tlsutil import TestCerts as ProxyCerts
from tests.unit.tlsutil import make_certs

__all__ = ["DropProxy", "ProxyCerts", "make_certs"]

_HEAD_END = b"\r\n\r\n"
_IO_TIMEOUT = 120.0  # longer than any long poll in the tests; a stuck link dies eventually
_CONTENT_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding:.*chunked", re.I | re.M)
# the first element inside the SOAP Body: the method name
_SOAP_METHOD = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)")


def _request_name(head: bytes, body: bytes) -> str:
    """The SOAP method of a request, or ``"GET /path"`` for anything that is not SOAP."""
    m = _SOAP_METHOD.search(body)
    if m:
        return m.group(1).decode()
    line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return " ".join(line[:2])


class _Closed(Exception):
    """The peer closed its side of the connection."""


class _Stream:
    """Buffered reads of HTTP/1.1 framing from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed
        self.buf += chunk

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def take_until(self, marker: bytes) -> bytes:
        """Everything up to and including ``marker``."""
        while marker not in self.buf:
            self._more()
        end = self.buf.index(marker) + len(marker)
        return self.take(end)

    def message(self, *, response: bool) -> tuple[bytes, bytes]:
        """One whole HTTP message: (head including the blank line, body as framed)."""
        head = self.take_until(_HEAD_END)
        if _CHUNKED.search(head):
            body = b""
            while True:
                line = self.take_until(b"\r\n")
                body += line
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:  # trailers, up to the blank line
                        trailer = self.take_until(b"\r\n")
                        body += trailer
                        if trailer == b"\r\n":
                            return head, body
                body += self.take(size + 2)
        m = _CONTENT_LENGTH.search(head)
        if m:
            return head, self.take(int(m.group(1)))
        status = head.split(b" ", 2)[1] if response else b""
        if not response or status in (b"204", b"304") or status.startswith(b"1"):
            return head, b""
        body = self.buf  # no framing: the body ends when the server closes
        self.buf = b""
        with contextlib.suppress(_Closed):
            while True:
                self._more()
                body, self.buf = body + self.buf, b""
        return head, body


class _Link:
    """One client connection and its upstream connection, served by one thread.

    One request at a time (the client does not pipeline): read it, forward it, read the
    whole answer, relay it. Never two threads on one TLS socket: OpenSSL connections are
    not safe for a concurrent read and write.
    """

    def __init__(self, proxy: DropProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = threading.Event()
        self._close_lock = threading.Lock()

    def close(self) -> None:
        """Reset both connections (also from another thread, to stop a blocked link)."""
        with self._close_lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                # reset rather than FIN: no clean end of stream, as when a link breaks
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                # wakes a thread blocked reading it and sends nothing (on the raw socket:
                # ssl.SSLSocket.shutdown would drop the TLS state under that thread)
                socket.socket.shutdown(sock, socket.SHUT_RD)
            with contextlib.suppress(OSError):
                sock.close()

    def run(self) -> None:
        try:
            self.client.settimeout(_IO_TIMEOUT)
            if self.proxy._server_ctx is not None:
                self.client = self.proxy._server_ctx.wrap_socket(self.client, server_side=True)
            self.upstream = socket.create_connection(self.proxy.upstream, timeout=_IO_TIMEOUT)
            if self.proxy._upstream_ctx is not None:
                self.upstream = self.proxy._upstream_ctx.wrap_socket(
                    self.upstream, server_hostname="127.0.0.1"
                )
            self._serve(_Stream(self.client), _Stream(self.upstream))
        except (_Closed, OSError, ValueError):
            pass  # a peer hung up, a handshake failed, stop() reset the link
        finally:
            self.close()

    def _serve(self, client: _Stream, upstream: _Stream) -> None:
        while not self.closed.is_set():
            head, body = client.message(response=False)
            drop = self.proxy._record(_request_name(head, body))
            upstream.sock.sendall(head + body)
            if drop:
                # the server got the request and starts answering: cut the link right here
                upstream.take(1)
                return
            answer_head, answer_body = upstream.message(response=True)
            client.sock.sendall(answer_head + answer_body)


class DropProxy:
    """A threaded TCP proxy on 127.0.0.1 (port 0) in front of ``upstream`` (host, port).

    ``certs`` makes it serve TLS to the client (needed to see requests when the client
    speaks HTTPS); ``upstream_tls`` makes it speak TLS, unverified, to the upstream.
    ``requests`` lists what went through, in order (SOAP method names, or ``"GET /path"``).
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        certs: ProxyCerts | None = None,
        upstream_tls: bool = True,
    ) -> None:
        self.upstream = upstream
        self.certs = certs
        self._server_ctx: ssl.SSLContext | None = None
        if certs is not None:
            self._server_ctx = certs.server_context()
        self._upstream_ctx: ssl.SSLContext | None = None
        if upstream_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # vcsim's built-in, self-signed certificate
            self._upstream_ctx = ctx
        self.requests: list[str] = []
        self.dropped: list[str] = []
        self._drop: list[str | None] = []  # armed drops, in order
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, name="drop-proxy", daemon=True)
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return  # the listener was closed: stop()
            link = _Link(self, client)
            thread = threading.Thread(target=link.run, name="drop-proxy-link", daemon=True)
            with self._lock:
                self._links.append(link)
                self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Close the listener and every connection; wait for the threads. Idempotent."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        if self._acceptor is not None:
            self._acceptor.join(5)
            self._acceptor = None
        with self._lock:
            links, threads = list(self._links), list(self._threads)
        for link in links:
            link.close()
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> Self:
        return self.start() if self._listener is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where --

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def sdk_url(self) -> str:
        scheme = "https" if self.certs is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/sdk"

    @property
    def thumbprint(self) -> str:
        if self.certs is None:
            raise RuntimeError("the proxy serves plain TCP; it has no certificate")
        return self.certs.thumbprint

    # -- the controls --

    def drop_next(self, method: str | None = None) -> None:
        """Drop the answer to the next request for ``method`` (any request if None).

        The request is forwarded; the connection is closed as soon as the server's answer
        starts to arrive, before a byte of it reaches the client.
        """
        with self._lock:
            self._drop.append(method)

    def count(self, method: str) -> int:
        """How many requests for ``method`` went through (dropped ones included)."""
        with self._lock:
            return Counter(self.requests)[method]

    def _record(self, name: str) -> bool:
        """Record a request; True if it is the one to drop (and disarm that drop)."""
        with self._lock:
            self.requests.append(name)
            for i, want in enumerate(self._drop):
                if want is None or want == name:
                    del self._drop[i]
                    self.dropped.append(name)
                    return True
            return False
