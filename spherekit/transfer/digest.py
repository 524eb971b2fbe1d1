"""Digests of the bytes a transfer moves, computed beside the transfer instead of in its way.

Every transfer hashes what it moves: uploads and downloads report the SHA-256 of their bytes
(:class:`~spherekit.transfer.http.Transferred`), and an OVF import checks each disk against
the digest its manifest names while the disk streams. Hashed in the thread that moves the
bytes, every chunk waits for its hash before it is encrypted and sent (SHA-256 runs at
about 1.2 GB/s on one core of a current server, no faster than a fast link). ``hashlib``
releases the GIL while it hashes a buffer of more than 2 KiB, so :class:`Digest` hashes in
a worker thread that follows the transfer a chunk or two behind: the hash of one chunk runs
on another core while the next is read and sent.

- The worker starts with the first chunk of :data:`THREADED` bytes or more; a transfer of
  small chunks (a cloud-init file, a SOAP-sized upload) is hashed in place, no thread.
- It is never more than :data:`BEHIND` bytes behind: then :meth:`Digest.update` waits for
  it. Memory stays bounded whatever the speeds (with 1 MiB chunks: the chunk in the socket,
  one the worker has still to hash, the next being read), and a transfer is never faster
  than its hash for long.
- :meth:`Digest.hexdigest` and :meth:`Digest.hexdigests` wait until every chunk given is
  hashed; :meth:`Digest.close` stops the worker without waiting (a failed transfer).

Chunks are shared with the worker, not copied: give ``bytes`` (other buffers are copied
once, as they may change after :meth:`~Digest.update` returns).
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Self

__all__ = ["BEHIND", "THREADED", "Digest"]

#: a chunk this large (or larger) starts the worker thread
THREADED = 64 * 1024
#: bytes the worker may have left to hash before :meth:`Digest.update` waits for it (two
#: 1 MiB chunks: on a busy two-core machine the sender of a 200 MB upload waited 12-18 % of
#: the time for a worker one chunk behind, 5-11 % with this one chunk of slack)
BEHIND = 2 * 1024 * 1024


class Digest:
    """SHA-256 and any other ``hashlib`` algorithms (``"sha1"``, ``"sha512"``) of a stream
    of chunks, in order, hashed in a worker thread. Use as a context manager (or call
    :meth:`close`) so that a transfer that fails stops the worker."""

    def __init__(self, algorithms: Iterable[str] = ()) -> None:
        names = dict.fromkeys(("sha256", *(a.lower() for a in algorithms)))
        self._hashes = {name: hashlib.new(name) for name in names}
        #: bytes given so far
        self.size = 0
        self._cv = threading.Condition(threading.Lock())
        self._pending: deque[bytes] = deque()
        self._behind = 0  # bytes given to the worker and not hashed yet
        self._thread: threading.Thread | None = None
        self._ending = False  # no more chunks: the worker ends once it has hashed them
        self._closed = False
        self._finished = False

    @property
    def algorithms(self) -> list[str]:
        return list(self._hashes)

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk``: hashed now if it is small and no worker runs, else handed to the
        worker (waiting first while it is :data:`BEHIND` bytes behind)."""
        if self._finished or self._closed:
            raise ValueError("this digest is finished; start a new one")
        data = chunk if type(chunk) is bytes else bytes(chunk)
        self.size += len(data)
        if self._thread is None:
            if len(data) < THREADED:
                self._hash(data)
                return
            self._thread = threading.Thread(target=self._run, name="spherekit-digest", daemon=True)
            self._thread.start()
        with self._cv:
            while self._behind and self._behind + len(data) > BEHIND:
                self._cv.wait()
            self._pending.append(data)
            self._behind += len(data)
            self._cv.notify_all()

    def _hash(self, data: bytes) -> None:
        for h in self._hashes.values():
            h.update(data)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._ending:
                    self._cv.wait()
                if not self._pending:
                    return
                data = self._pending[0]
            if not self._closed:  # closed: drop what is left
                self._hash(data)  # hashlib lets other threads run meanwhile
            with self._cv:
                self._pending.popleft()
                self._behind -= len(data)
                self._cv.notify_all()
            del data  # not kept while waiting for the next one (memory stays bounded)

    def _join(self) -> None:
        if self._thread is not None:
            with self._cv:
                self._ending = True
                self._cv.notify_all()
            self._thread.join()
            self._thread = None

    def hexdigests(self) -> dict[str, str]:
        """Every digest (lower-case hex, by algorithm name), once every chunk is hashed."""
        if self._closed:
            raise ValueError("this digest was closed before it finished")
        if not self._finished:
            self._join()
            self._finished = True
        return {name: h.hexdigest() for name, h in self._hashes.items()}

    def hexdigest(self, algorithm: str = "sha256") -> str:
        """One digest (see :meth:`hexdigests`); ``algorithm`` must be one asked for."""
        return self.hexdigests()[algorithm.lower()]

    def close(self) -> None:
        """Stop the worker, dropping what it has not hashed (idempotent; the digests of a
        finished digest stay readable)."""
        if self._finished or self._closed:
            return
        self._closed = True
        self._join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
