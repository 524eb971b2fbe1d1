"""Disk uploads to NFC device URLs, with the manifest check overlapped with the sending.

:func:`spherekit.transfer.http.put` reads, hashes and sends in one thread, so every byte
waits for its SHA-256 before it goes out. An OVA import has to hash every disk anyway (to
check the manifest), and on a fast link that serial hash costs a third of the time. Here a
reader thread reads the package and feeds the hash (``hashlib`` releases the GIL on large
buffers) while the calling thread sends the previous chunks: the hash runs alongside the
network. URLs, the ``*`` host and the cookie are resolved as :mod:`~spherekit.transfer.http`
does (:func:`~spherekit.transfer.http.resolve`); an error answer raises its
:class:`~spherekit.transfer.http.HttpStatusError`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from spherekit.errors import SpherekitError
from spherekit.transfer import http
from spherekit.transfer.ova import CHUNK, Hashing, PackageError, Reader
from spherekit.wire.transport import Request

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["upload"]

_DEPTH = 4  # chunks read ahead of the sender


class _Stopped(SpherekitError):
    """The sender stopped taking chunks (it failed); the reader ends."""


class _ReadAhead:
    """Reads and hashes ``reader`` in a thread; iterating gives the chunks in order."""

    def __init__(self, reader: Reader, hashing: Hashing) -> None:
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(reader, hashing), name="spherekit-nfc-read", daemon=True
        )
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped("the upload stopped")
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self, reader: Reader, hashing: Hashing) -> None:
        try:
            while chunk := reader.read(CHUNK):
                hashing.update(chunk)
                self._put(chunk)
            self._put(None)
        except _Stopped:
            return
        except OSError as e:  # a local read error is the package's, not the network's
            self._offer(PackageError(f"reading the package failed: {e.strerror or e}"))
        except BaseException as e:
            self._offer(e)

    def _offer(self, e: BaseException) -> None:
        try:
            self._put(e)
        except _Stopped:
            return

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self._q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def upload(
    session: Session,
    url: str,
    reader: Reader,
    hashing: Hashing,
    *,
    size: int | None,
    on_bytes: Callable[[int], None],
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int:
    """PUT everything ``reader`` gives to ``url``; return the byte count.

    ``hashing`` sees every chunk (in the reader thread); ``on_bytes(total sent so far)`` is
    called as chunks go out and may raise to stop the upload (e.g. a lease that ended).
    """
    target, own = http.resolve(session, url)
    hdrs = http.request_headers(session, own, headers)
    hdrs.setdefault("Content-Type", "application/octet-stream")
    if size is not None:
        hdrs["Content-Length"] = str(size)
    ahead = _ReadAhead(reader, hashing)
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for chunk in ahead.chunks():
            sent += len(chunk)
            on_bytes(sent)
            yield chunk

    try:
        resp = http.send_streamed(session, Request("PUT", target, hdrs), body(), timeout)
    finally:
        ahead.close()
    if not 200 <= resp.status < 300:
        text = resp.body[:300].decode("utf-8", "replace").strip()
        raise http.HttpStatusError(
            f"PUT {http.shown(url)} answered HTTP {resp.status}{': ' + text if text else ''}",
            status=resp.status,
        )
    return sent
