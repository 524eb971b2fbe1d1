"""Remote OVF packages (``http(s)://``), read as the bytes arrive; see :mod:`.ova`.

A remote OVA is read twice: once up to the descriptor and manifest (they come first, as the
OVA format requires; the download stops there), once for the disks, in archive order. A
remote OVF's files are its siblings' URLs. Nothing is written to a temporary file.
"""

from __future__ import annotations

import posixpath
import queue
import tarfile
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from spherekit.errors import SpherekitError
from spherekit.transfer.ova import (
    Package,
    PackageError,
    Reader,
    _clean,
    _safe_href,
    _TarPackage,
)
from spherekit.wire.transport import Request, Transport

__all__ = ["RemoteOva", "RemoteOvf"]


def _path(url: str) -> str:
    """The path (and query) of ``url``: what the source's transport (for its origin) gets."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _Cancelled(SpherekitError):
    """The reader stopped early; the download ends."""


class _Pipe:
    """A file-like reader of an HTTP GET body, fetched by a background thread.

    ``read`` pulls what the transport pushes; ``close`` ends the download early.
    """

    def __init__(self, transport: Transport, url: str) -> None:
        self._q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
        self._buf = b""
        self._eof = False
        self._closed = threading.Event()
        self.url = url
        self._thread = threading.Thread(
            target=self._run, args=(transport, url), name="spherekit-ova-get", daemon=True
        )
        self._thread.start()

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._closed.is_set():
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Cancelled("reader closed")

    def _run(self, transport: Transport, url: str) -> None:
        try:
            req = Request("GET", _path(url), {"Accept": "*/*"})
            stream = getattr(transport, "stream", None)
            if stream is not None:
                resp = stream(req, sink=self._put)
            else:
                resp = transport.send(req)
                if 200 <= resp.status < 300:
                    self._put(resp.body)
            if not 200 <= resp.status < 300:
                msg = resp.body[:200].decode("utf-8", "replace").strip()
                raise PackageError(f"GET {url} answered HTTP {resp.status} {msg}".rstrip())
            self._put(None)
        except _Cancelled:
            return
        except BaseException as e:  # handed to the reader
            try:
                self._put(e)
            except _Cancelled:
                return

    def read(self, n: int = -1) -> bytes:
        while not self._eof and (n < 0 or len(self._buf) < n):
            item = self._q.get()
            if item is None:
                self._eof = True
            elif isinstance(item, BaseException):
                raise item
            else:
                self._buf += item
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)


class RemoteOva(_TarPackage):
    def __init__(self, url: str, transport: Transport) -> None:
        self.source = url
        self._transport = transport
        pipe = _Pipe(transport, url)
        try:
            with tarfile.open(fileobj=pipe, mode="r|") as tar:  # type: ignore[call-overload]
                self._scan_head(tar)
        except tarfile.TarError as e:
            raise PackageError(f"{url} is not an OVA (a tar archive): {e}") from None
        finally:
            pipe.close()

    def files(self, names: Iterable[str]) -> Iterator[tuple[str, Reader, int | None]]:
        wanted = set(names)
        pipe = _Pipe(self._transport, self.source)
        try:
            with tarfile.open(fileobj=pipe, mode="r|") as tar:  # type: ignore[call-overload]
                for m in tar:
                    name = _clean(m.name)
                    if m.isfile() and name in wanted:
                        f = tar.extractfile(m)
                        assert f is not None
                        yield name, f, m.size
                        wanted.discard(name)
                        if not wanted:
                            break
        except tarfile.TarError as e:
            raise PackageError(f"{self.source}: the archive is corrupt ({e})") from None
        finally:
            pipe.close()
        if wanted:
            raise PackageError(f"{self.source} lacks {', '.join(sorted(wanted))}")


class RemoteOvf(Package):
    def __init__(self, url: str, transport: Transport) -> None:
        self.source = url
        self._transport = transport
        self.descriptor_name = posixpath.basename(urlsplit(url).path)
        self.descriptor = self._get(url, required=True) or b""
        mf_url = url[: -len(".ovf")] + ".mf"
        self._load_manifest(self._get(mf_url, required=False), mf_url)

    def _get(self, url: str, *, required: bool) -> bytes | None:
        resp = self._transport.send(Request("GET", _path(url), {"Accept": "*/*"}))
        if resp.status == 404 and not required:
            return None
        if not 200 <= resp.status < 300:
            raise PackageError(f"GET {url} answered HTTP {resp.status}")
        return resp.body

    def files(self, names: Iterable[str]) -> Iterator[tuple[str, Reader, int | None]]:
        for name in names:
            pipe = _Pipe(self._transport, urljoin(self.source, _safe_href(name, self.source)))
            try:
                yield name, pipe, None
            finally:
                pipe.close()
