"""Streamed HTTP transfers on a session: datastore (``/folder``), NFC and guest file URLs.

The one place the transfer layer talks HTTP outside SOAP: datastore files, guest files and
the disks of an OVF import all go through :func:`put` and :func:`get`. Bodies are streamed in
:data:`CHUNK` sized pieces, never held in memory whole, hashed on the way by a
:class:`~spherekit.transfer.digest.Digest` (SHA-256, plus any algorithm the caller asks for,
in a worker thread beside the transfer), and ``on_progress(bytes_done, bytes_total)`` is
called as bytes move (``bytes_total`` is None when unknown; it may raise to stop the
transfer, e.g. a lease that ended). The session's own transport carries them, with its TLS
settings, pool and error mapping (:meth:`~spherekit.wire.transport.HttpTransport.stream`); a
transport without ``stream`` (the in-process simulator, a mock) gets the body in one piece.

URLs: a path (``/folder/...``) or an absolute URL. The ``*`` host vSphere puts in NFC and
guest file URLs means "the host you connected to" and is replaced by the session's host
(as govc does). The session cookie is sent only to the session's own origin: a guest file
or NFC URL on another host carries its own ticket, and the cookie never leaves for it.
Messages never show a URL's query string (it may hold a ticket).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import urlsplit

from spherekit.errors import SpherekitError, UsageError
from spherekit.transfer.digest import Digest
from spherekit.wire.transport import Request, Response

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "CHUNK",
    "HttpStatusError",
    "Progress",
    "Readable",
    "SourceError",
    "Transferred",
    "get",
    "open_source",
    "put",
    "resolve",
    "shown",
]

#: bytes read from a source (and so held in memory) at a time
CHUNK = 1024 * 1024
Progress = Callable[[int, int | None], None]


class Readable(Protocol):
    """What :func:`put` reads an upload from: a binary file, a member of an archive.
    When it also has ``seekable``, ``tell`` and ``seek``, a re-login can send it again."""

    def read(self, n: int = -1, /) -> bytes: ...


class HttpStatusError(SpherekitError):
    """A transfer URL answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class SourceError(SpherekitError):
    """Reading the local source of an upload failed (the server may hold a partial file)."""


@dataclass(frozen=True)
class Transferred:
    """What a transfer moved: bytes, their SHA-256 (hex), and the HTTP answer.

    ``digests`` holds every digest computed (lower-case hex by algorithm: ``sha256`` and
    those asked for with ``digests=``)."""

    size: int
    sha256: str
    status: int
    headers: Mapping[str, str] = field(repr=False)
    digests: Mapping[str, str] = field(default_factory=dict, repr=False)


def shown(url: str) -> str:
    """``url`` without its query string (which may carry a ticket), for messages."""
    return url.partition("?")[0]


def _origin(session: Session) -> str | None:
    base = getattr(session._transport, "base_url", None)
    if not isinstance(base, str):
        return None  # an in-process transport: every URL is the session's own
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def resolve(session: Session, url: str) -> tuple[str, bool]:
    """(what to send, whether it is the session's own origin) for ``url``.

    A path stays a path; an absolute URL on the session's origin becomes its path; ``*``
    as the host is the session's host (with the URL's port, if it names one).
    """
    if url.startswith("/"):
        return url, True
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{shown(url)!r} is not an http(s) URL or a path starting with '/'")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    origin = _origin(session)
    netloc = parts.netloc
    if parts.hostname == "*":
        if origin is None:
            return path, True
        own = urlsplit(origin)
        host = own.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{parts.port}" if parts.port else own.netloc
        url = f"{own.scheme}://{netloc}{path}"
    if origin is None:
        return path, True  # the in-process simulator answers every host
    if f"{urlsplit(url).scheme}://{netloc}" == origin:
        return path, True
    return url, False


def request_headers(session: Session, own: bool, extra: Mapping[str, str] | None) -> dict[str, str]:
    """``extra`` plus the session cookie when the URL is the session's own origin."""
    headers = dict(extra or {})
    cookie = session._cookie
    if own and cookie:
        headers["Cookie"] = cookie
    return headers


def _check(resp: Response, method: str, url: str) -> None:
    if 200 <= resp.status < 300:
        return
    text = resp.body[:300].decode("utf-8", "replace").strip()
    folder = urlsplit(url).path.startswith("/folder")
    hint = {
        401: "; the session is not logged in (or expired): connect again",
        404: "; check the datacenter, datastore and path"
        if folder
        else "; the URL's lease or ticket may have ended",
        413: "; the server refused the size",
    }.get(resp.status, "")
    raise HttpStatusError(
        f"{method} {shown(url)} answered HTTP {resp.status}{': ' + text if text else ''}{hint}",
        status=resp.status,
    )


def _rewinder(source: Readable) -> Callable[[], object] | None:
    """What puts a rewindable source back where it is now (to send it again), or None."""
    try:
        if not source.seekable():  # type: ignore[attr-defined]
            return None
        start: int = source.tell()  # type: ignore[attr-defined]
        seek: Callable[[int], object] = source.seek  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return lambda: seek(start)


def _relogged(session: Session, resp: Response, own: bool, generation: int) -> bool:
    """On a 401 from the session's origin (the session expired), log in again: True if
    the request should be repeated (once; a body that cannot be rewound is not)."""
    if resp.status != 401 or not own or session._password is None:
        return False
    session._relogin(generation)
    return True


class _Meter:
    """Counts and hashes the bytes that pass (see :mod:`~spherekit.transfer.digest`), and
    reports progress."""

    def __init__(
        self, total: int | None, on_progress: Progress | None, algorithms: Iterable[str] = ()
    ) -> None:
        self.digest = Digest(algorithms)
        self.done = 0
        self.total = total
        self.on_progress = on_progress
        if on_progress is not None:
            on_progress(0, total)

    def feed(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.done += len(chunk)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def chunks(self, source: Readable) -> Iterator[bytes]:
        while True:
            try:
                block = source.read(CHUNK)
            except OSError as e:  # the local side failed, not the connection
                raise SourceError(f"reading the upload source failed: {e.strerror or e}") from e
            if not block:
                return
            self.feed(block)
            yield block

    def result(self, resp: Response) -> Transferred:
        digests = self.digest.hexdigests()
        return Transferred(self.done, digests["sha256"], resp.status, resp.headers, digests)


def send_streamed(
    session: Session, request: Request, body: Iterator[bytes], timeout: float | None
) -> Response:
    """Send ``request`` with ``body`` streamed, through the session's transport."""
    transport = session._transport
    stream = getattr(transport, "stream", None)
    if stream is not None:
        resp: Response = stream(request, body=body, timeout=timeout)
        return resp
    # a transport that takes whole bodies only (the in-process simulator)
    whole = Request(request.method, request.path, request.headers, b"".join(body))
    return transport.send(whole, timeout=timeout)


def put(
    session: Session,
    url: str,
    source: Readable,
    *,
    size: int | None = None,
    on_progress: Progress | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    digests: Iterable[str] = (),
) -> Transferred:
    """PUT the bytes read from ``source`` (to its end) to ``url``, streamed.

    ``size`` (the bytes ``source`` will give) becomes ``Content-Length``; without it the
    body goes out chunked. ``digests`` names hash algorithms to compute besides SHA-256
    (e.g. ``["sha1"]`` for a manifest that lists SHA-1). Raises :class:`HttpStatusError`
    for an error answer, :class:`SourceError` when reading ``source`` fails.
    """
    target, own = resolve(session, url)
    rewind = _rewinder(source)
    algorithms = list(digests)
    for attempt in (1, 2):
        generation = session._login_generation
        hdrs = request_headers(session, own, headers)
        hdrs.setdefault("Content-Type", "application/octet-stream")
        if size is not None:
            hdrs["Content-Length"] = str(size)
        meter = _Meter(size, on_progress, algorithms)
        with meter.digest:
            body = meter.chunks(source)
            resp = send_streamed(session, Request("PUT", target, hdrs), body, timeout)
            if attempt == 1 and rewind is not None and _relogged(session, resp, own, generation):
                rewind()
                continue
            _check(resp, "PUT", url)
            return meter.result(resp)
    raise AssertionError("unreachable: the second attempt returns or raises")


def get(
    session: Session,
    url: str,
    sink: Callable[[bytes], object],
    *,
    size: int | None = None,
    on_progress: Progress | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Transferred:
    """GET ``url``, handing its body to ``sink`` chunk by chunk (e.g. ``file.write``).

    ``size`` is the expected length, for progress. Raises :class:`HttpStatusError` for an
    error answer (nothing is given to ``sink`` then).
    """
    target, own = resolve(session, url)
    meter = _Meter(size, on_progress)

    def take(chunk: bytes) -> None:
        sink(chunk)
        meter.feed(chunk)

    transport = session._transport
    stream = getattr(transport, "stream", None)
    with meter.digest:
        if stream is not None:
            for attempt in (1, 2):
                generation = session._login_generation
                hdrs = request_headers(session, own, headers)
                resp: Response = stream(Request("GET", target, hdrs), sink=take, timeout=timeout)
                if attempt == 2 or not _relogged(session, resp, own, generation):
                    break
            _check(resp, "GET", url)
        else:
            hdrs = request_headers(session, own, headers)
            resp = transport.send(Request("GET", target, hdrs), timeout=timeout)
            _check(resp, "GET", url)
            view = memoryview(resp.body)
            for i in range(0, len(view), CHUNK):
                take(bytes(view[i : i + CHUNK]))
        return meter.result(resp)


@contextmanager
def open_source(
    source: str | os.PathLike[str] | IO[bytes], size: int | None = None
) -> Iterator[tuple[BinaryIO, int | None]]:
    """(a binary stream, its size or None) for an upload source: a local path (opened and
    closed here; :class:`UsageError` if it is not a readable file) or a file object (read
    from its current position to its end; left open)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{path} is not a file (upload takes a local file)")
        try:
            f = path.open("rb")
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
        with f:
            actual = os.fstat(f.fileno()).st_size
            if size is not None and size != actual:
                raise UsageError(f"size={size} but {path} has {actual} bytes")
            yield f, actual
        return
    if not callable(getattr(source, "read", None)):
        raise UsageError(f"an upload source is a path or a binary file object, not {source!r}")
    stream: BinaryIO = source  # type: ignore[assignment]
    if isinstance(source, io.TextIOBase):
        raise UsageError("open the source in binary mode ('rb'), not text mode")
    if size is None and stream.seekable():
        here = stream.tell()
        size = stream.seek(0, io.SEEK_END) - here
        stream.seek(here)
    yield stream, size
