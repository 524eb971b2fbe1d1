"""Datastore files: the bytes are really stored, one directory per datastore.

vSphere names a file by datastore path: ``[LocalDS_0] vm1/vm1.vmx``. :class:`Storage` maps
those onto a directory tree under its root (a temporary directory unless the simulator is
given a state directory), refusing any path that would leave the datastore's directory.
Everything that creates, moves or deletes VM files, the ``/folder`` endpoint, FileManager,
VirtualDiskManager, NFC leases and the datastore browser uses it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

__all__ = ["Storage", "parse_ds_path"]

_DS_PATH = re.compile(r"^\[(?P<ds>[^\]]+)\]\s*(?P<path>.*)$")


def parse_ds_path(ds_path: str) -> tuple[str, str]:
    """``"[LocalDS_0] a/b.vmx"`` -> ``("LocalDS_0", "a/b.vmx")``; ValueError if malformed."""
    m = _DS_PATH.match(ds_path.strip())
    if m is None:
        raise ValueError(f"not a datastore path: {ds_path!r} (expected '[datastore] path')")
    return m["ds"], m["path"].strip().lstrip("/")


class Storage:
    """Files of all datastores of one backend."""

    def __init__(self, root: Path | None = None) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="spherekit-sim-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, ds: str, rel: str) -> Path:
        """The local path of ``rel`` on datastore ``ds``; ValueError if it escapes it."""
        parts = PurePosixPath(rel.replace("\\", "/")).parts
        if any(p == ".." for p in parts) or "/" in ds or ds in ("", ".", ".."):
            raise ValueError(f"invalid datastore path [{ds}] {rel}")
        base = self.root / ds
        return base.joinpath(*[p for p in parts if p not in ("/", "")])

    def resolve(self, ds_path: str) -> Path:
        return self.path(*parse_ds_path(ds_path))

    def write(self, ds: str, rel: str, data: bytes) -> None:
        p = self.path(ds, rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".sim-partial")
        tmp.write_bytes(data)
        tmp.replace(p)

    def read(self, ds: str, rel: str) -> bytes:
        return self.path(ds, rel).read_bytes()

    def exists(self, ds: str, rel: str) -> bool:
        return self.path(ds, rel).exists()

    def mkdir(self, ds: str, rel: str) -> None:
        self.path(ds, rel).mkdir(parents=True, exist_ok=True)

    def delete(self, ds: str, rel: str) -> None:
        p = self.path(ds, rel)
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
