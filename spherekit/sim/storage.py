"""Datastore files: the bytes are really stored, one directory per datastore.

vSphere names a file by datastore path: ``[LocalDS_0] vm1/vm1.vmx``. :class:`Storage` maps
those onto a directory tree under its root (a temporary directory unless the simulator is
given a state directory), refusing any path that would leave the datastore's directory.
Everything that creates, moves or deletes VM files, the ``/folder`` endpoint, FileManager,
VirtualDiskManager, NFC leases and the datastore browser uses it.

Datastores are named by their name (``LocalDS_0``); two datastores of the same name in
different datacenters share one directory.

**Space accounting.** Storage keeps, per datastore, the bytes its files commit and the bytes
thin disks may still grow by (``summary.freeSpace`` and ``summary.uncommitted`` of the
Datastore come from :meth:`Storage.usage`). A file commits its size, except the extent of a
thin disk (``X-flat.vmdk`` whose descriptor ``X.vmdk`` says ``ddb.thinProvisioned = "1"``):
it commits the blocks really written and leaves the rest uncommitted. Disk extents are sparse
files (:class:`Sparse`), so a 1 TiB thick disk costs nothing on the machine running the
simulator. Every mutation made through Storage adjusts the account and notifies
:attr:`Storage.listeners`; :meth:`Storage.rescan` recounts from the disk.

**Lazy folders.** A folder can be *deferred* (:meth:`Storage.defer`): its files are written
only when something first touches that folder, so an inventory of 10,000 VMs starts without
writing 60,000 files (listing the datastore's root creates the folders, still empty, so they
show). Until then the folder is counted at the usage its producer estimates. Writing a
folder costs a few milliseconds on a slow disk: a recursive search of a datastore with
10,000 VMs writes all of them (tens of seconds) the first time.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, NamedTuple

__all__ = ["FileData", "Producer", "Sparse", "Storage", "Usage", "parse_ds_path"]

_DS_PATH = re.compile(r"^\[(?P<ds>[^\]]+)\]\s*(?P<path>.*)$")
_THIN = re.compile(rb'^\s*ddb\.thinProvisioned\s*=\s*"1"', re.MULTILINE)
_CHUNK = 1 << 20


def parse_ds_path(ds_path: str) -> tuple[str, str]:
    """``"[LocalDS_0] a/b.vmx"`` -> ``("LocalDS_0", "a/b.vmx")``; ValueError if malformed."""
    m = _DS_PATH.match(ds_path.strip())
    if m is None:
        raise ValueError(f"not a datastore path: {ds_path!r} (expected '[datastore] path')")
    return m["ds"], m["path"].strip().lstrip("/")


class Usage(NamedTuple):
    """Bytes committed on a datastore, and bytes thin disks may still grow by."""

    committed: int = 0
    uncommitted: int = 0

    def __add__(self, other: object) -> Usage:
        assert isinstance(other, Usage)
        return Usage(self.committed + other.committed, self.uncommitted + other.uncommitted)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.committed - other.committed, self.uncommitted - other.uncommitted)


@dataclass(frozen=True, slots=True)
class Sparse:
    """A file of ``size`` bytes with no data written (a disk extent): a hole on disk."""

    size: int


FileData = bytes | Sparse
#: makes a deferred folder's files from its argument: {name relative to the folder: content}
Producer = Callable[[Any], dict[str, FileData]]


def _is_thin_extent(p: Path) -> bool:
    if not p.name.endswith("-flat.vmdk"):
        return False
    descriptor = p.with_name(p.name[: -len("-flat.vmdk")] + ".vmdk")
    try:
        with descriptor.open("rb") as f:
            head = f.read(64 * 1024)
    except OSError:
        return False
    return _THIN.search(head) is not None


def file_usage(p: Path) -> Usage:
    """What one file commits (see the module's notes); a folder, or a write in progress,
    commits nothing."""
    if p.name.endswith(".sim-partial"):
        return Usage()
    try:
        st = p.stat()
    except OSError:
        return Usage()
    if not p.is_file():
        return Usage()
    if _is_thin_extent(p):
        used = min(st.st_size, st.st_blocks * 512)
        return Usage(used, st.st_size - used)
    return Usage(st.st_size, 0)


def _files(p: Path, recursive: bool) -> Iterator[Path]:
    if p.is_file():
        yield p
    elif p.is_dir():
        for child in p.rglob("*") if recursive else p.iterdir():
            if child.is_file():
                yield child


def copy_sparse(src: Path, dst: Path) -> None:
    """Copy a file, keeping its holes holes (disk extents stay sparse)."""
    size = src.stat().st_size
    with src.open("rb") as fi, dst.open("wb") as fo:
        fo.truncate(size)
        fd, pos = fi.fileno(), 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: nothing but a hole up to the end
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            fi.seek(start)
            fo.seek(start)
            left = end - start
            while left > 0:
                chunk = fi.read(min(_CHUNK, left))
                if not chunk:
                    break
                fo.write(chunk)
                left -= len(chunk)
            pos = end


class Storage:
    """Files of all datastores of one backend. Thread-safe.

    Lock order: a caller may hold the registry lock when calling in; Storage never takes
    the registry lock while holding its own (listeners run after it is released).
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="spherekit-sim-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        #: called with a datastore name after its files changed (outside Storage's lock)
        self.listeners: list[Callable[[str], None]] = []
        self._usage: dict[str, Usage] = {}
        #: datastore -> folder -> (producer, its argument, estimated usage)
        self._deferred: dict[str, dict[str, tuple[Producer, Any, Usage]]] = {}
        #: datastore -> [committed, uncommitted] of its deferred folders
        self._deferred_usage: dict[str, list[int]] = {}

    # -- paths ------------------------------------------------------------------------------

    def _local(self, ds: str, rel: str) -> Path:
        parts = PurePosixPath(rel.replace("\\", "/")).parts
        if any(p == ".." for p in parts) or "/" in ds or ds in ("", ".", ".."):
            raise ValueError(f"invalid datastore path [{ds}] {rel}")
        return (self.root / ds).joinpath(*[p for p in parts if p not in ("/", "")])

    def path(self, ds: str, rel: str) -> Path:
        """The local path of ``rel`` on datastore ``ds`` (writing its folder first if it was
        deferred); ValueError if it escapes the datastore."""
        p = self._local(ds, rel)
        if self._deferred:
            self._materialize(ds, rel)
        return p

    def resolve(self, ds_path: str) -> Path:
        return self.path(*parse_ds_path(ds_path))

    # -- reads ------------------------------------------------------------------------------

    def read(self, ds: str, rel: str) -> bytes:
        return self.path(ds, rel).read_bytes()

    def exists(self, ds: str, rel: str) -> bool:
        return self.path(ds, rel).exists()

    def is_dir(self, ds: str, rel: str) -> bool:
        return self.path(ds, rel).is_dir()

    def listdir(self, ds: str, rel: str) -> list[Path]:
        """The entries of a folder, sorted by name (FileNotFoundError / NotADirectoryError)."""
        return sorted(self.path(ds, rel).iterdir(), key=lambda p: p.name)

    # -- writes -----------------------------------------------------------------------------

    def write(self, ds: str, rel: str, data: FileData) -> bool:
        """Create or replace a file (parent folders are created); True if it is new."""
        p = self.path(ds, rel)
        with self._changing((ds, p)):
            created = not p.exists()
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".sim-partial")
            if isinstance(data, Sparse):
                with tmp.open("wb") as f:
                    f.truncate(data.size)
            else:
                tmp.write_bytes(data)
            tmp.replace(p)
        return created

    def write_stream(self, ds: str, rel: str, src: BinaryIO) -> bool:
        """Like :meth:`write`, copying from a file object in chunks (large uploads)."""
        p = self.path(ds, rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f"{p.name}.{threading.get_ident()}.sim-partial")
        try:
            with tmp.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
            with self._changing((ds, p)):
                created = not p.exists()
                tmp.replace(p)
        finally:
            tmp.unlink(missing_ok=True)
        return created

    def resize(self, ds: str, rel: str, size: int) -> None:
        """Grow or cut a file to ``size`` bytes (growth is a hole)."""
        p = self.path(ds, rel)
        with self._changing((ds, p)), p.open("r+b") as f:
            f.truncate(size)

    def mkdir(self, ds: str, rel: str, *, parents: bool = True) -> None:
        p = self.path(ds, rel)
        p.mkdir(parents=parents, exist_ok=parents)

    def delete(self, ds: str, rel: str) -> None:
        p = self.path(ds, rel)
        with self._changing((ds, p)):
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()

    def copy(self, src: tuple[str, str], dst: tuple[str, str]) -> None:
        """Copy a file or a folder tree (replacing the destination); holes stay holes."""
        s, d = self.path(*src), self.path(*dst)
        with self._changing((dst[0], d)):
            if d.is_dir():
                shutil.rmtree(d)
            if s.is_dir():
                shutil.copytree(s, d, copy_function=lambda a, b: copy_sparse(Path(a), Path(b)))
            else:
                d.parent.mkdir(parents=True, exist_ok=True)
                copy_sparse(s, d)

    def move(self, src: tuple[str, str], dst: tuple[str, str]) -> None:
        """Move a file or folder (replacing the destination)."""
        s, d = self.path(*src), self.path(*dst)
        with self._changing((src[0], s), (dst[0], d)):
            if d.is_dir():
                shutil.rmtree(d)
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(s, d)

    # -- accounting ---------------------------------------------------------------------------

    def usage(self, ds: str) -> Usage:
        """What the files of ``ds`` commit (deferred folders at their estimate)."""
        with self.lock:
            if ds not in self._usage:
                self._usage[ds] = self._scan(ds)
            committed, uncommitted = self._deferred_usage.get(ds, (0, 0))
            return self._usage[ds] + Usage(committed, uncommitted)

    def rescan(self, ds: str) -> Usage:
        """Recount ``ds`` from the disk (files changed behind Storage's back are seen)."""
        with self.lock:
            self._usage.pop(ds, None)
        return self.usage(ds)

    def _scan(self, ds: str) -> Usage:
        return sum((file_usage(f) for f in _files(self._local(ds, ""), True)), Usage())

    @staticmethod
    def _scope(paths: list[Path]) -> set[Path]:
        """The files whose usage a change at ``paths`` can affect: a folder's tree, and the
        files beside each path (a disk descriptor decides its extent's usage)."""
        out: set[Path] = set()
        for p in paths:
            out |= set(_files(p, True)) | set(_files(p.parent, False))
        return out

    @contextmanager
    def _changing(self, *changes: tuple[str, Path]) -> Iterator[None]:
        """Adjust the account of each datastore by what the body changes at the paths."""
        by_ds: dict[str, list[Path]] = {}
        for ds, p in changes:
            by_ds.setdefault(ds, []).append(p)
        with self.lock:
            known = {ds: paths for ds, paths in by_ds.items() if ds in self._usage}
            before = {
                ds: sum(map(file_usage, self._scope(ps)), Usage()) for ds, ps in known.items()
            }
            try:
                yield
            finally:
                for ds, paths in known.items():
                    after = sum(map(file_usage, self._scope(paths)), Usage())
                    self._usage[ds] = self._usage[ds] + (after - before[ds])
        for ds in by_ds:
            self._notify(ds)

    def _notify(self, ds: str) -> None:
        for listener in list(self.listeners):
            listener(ds)

    # -- deferred folders ---------------------------------------------------------------------

    def folders(self, ds: str) -> set[str]:
        """The names of the folders at the root of ``ds`` that exist on disk."""
        try:
            return {e.name for e in os.scandir(self._local(ds, "")) if e.is_dir()}
        except FileNotFoundError:
            return set()

    def defer(
        self,
        ds: str,
        folder: str,
        producer: Producer,
        arg: Any,
        usage: Usage,
        *,
        check: bool = True,
    ) -> None:
        """Write ``folder`` (a folder at the datastore's root) from ``producer(arg)`` only
        when it is first touched; count it at ``usage`` until then. A folder that exists
        already is left alone (``check=False``: the caller knows it does not). Cheap: one
        tuple per folder (the initial inventory defers 10,000)."""
        with self.lock:
            if check and self._local(ds, folder).exists():
                return
            pending = self._deferred.get(ds)
            if pending is None:
                pending = self._deferred[ds] = {}
                self._deferred_usage[ds] = [0, 0]
            self._drop(ds, folder)
            pending[folder] = (producer, arg, usage)
            total = self._deferred_usage[ds]
            total[0] += usage.committed
            total[1] += usage.uncommitted

    def _drop(self, ds: str, folder: str) -> tuple[Producer, Any, Usage] | None:
        item = self._deferred.get(ds, {}).pop(folder, None)
        if item is not None:
            total = self._deferred_usage[ds]
            total[0] -= item[2].committed
            total[1] -= item[2].uncommitted
        return item

    def forget(self, ds: str, folder: str) -> None:
        """Drop a deferred folder without writing it (its VM went away)."""
        with self.lock:
            self._drop(ds, folder.strip("/"))
        self._notify(ds)

    def _materialize(self, ds: str, rel: str) -> None:
        with self.lock:
            pending = self._deferred.get(ds)
            if not pending:
                return
            top = PurePosixPath(rel.replace("\\", "/")).parts
            names = [t for t in top if t not in ("/", "")][:1]
            if not names:  # the root: every folder shows (empty until it is touched)
                for folder in pending:
                    self._local(ds, folder).mkdir(parents=True, exist_ok=True)
                return
            for folder in names:
                item = self._drop(ds, folder)
                if item is None:
                    continue
                base = self._local(ds, folder)
                base.mkdir(parents=True, exist_ok=True)
                written = Usage()
                for name, data in item[0](item[1]).items():
                    f = base / name
                    if isinstance(data, Sparse):
                        with f.open("wb") as out:
                            out.truncate(data.size)
                    else:
                        f.write_bytes(data)
                for f in _files(base, False):
                    written = written + file_usage(f)
                if ds in self._usage:
                    self._usage[ds] = self._usage[ds] + written

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
