"""The simulated guest's filesystem: a small POSIX tree kept in memory, one per VM.

Every VM whose guest booted (see :mod:`spherekit.sim.guest`) has one. It starts as a
minimal Linux layout (``/bin``, ``/usr/bin``, ``/etc``, ``/tmp``, ``/root``, ``/var/log``,
``/proc``, ...) in which the programs of the command model
(:mod:`spherekit.sim.guest_shell`) exist as executable files, and ``/etc/hostname`` holds the
guest's host name. Guest operations (:mod:`spherekit.sim.guest_ops`), file transfers
(:mod:`spherekit.sim.guest_files`), cloud-init ``write_files`` and the commands' output
redirection all read and write it. It lives as long as the VM and survives power cycles
(it is the VM's disk); it is not kept in the durable state file.

Paths are absolute, ``/``-separated and normalised (``..`` and ``.`` resolved, no
symlinks). Everything is owned by root (uid 0); ``/proc`` and ``/sys`` are read-only, as
for root on a real Linux guest, and writing there raises ``permission``. Errors are
:class:`GuestFsError` with a kind (``notfound``, ``exists``, ``notdir``, ``isdir``,
``notempty``, ``permission``) that the guest-operations handlers turn into vCenter's faults.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["PROGRAMS", "GuestFs", "GuestFsError", "Node"]

#: the executables of the command model, created in every guest
PROGRAMS = (
    "/bin/echo",
    "/bin/cat",
    "/bin/true",
    "/bin/false",
    "/bin/sleep",
    "/bin/ls",
    "/bin/mkdir",
    "/bin/rm",
    "/bin/touch",
    "/bin/pwd",
    "/bin/sh",
    "/bin/bash",
    "/bin/hostname",
    "/usr/bin/env",
)
_DIRS = (
    "/bin",
    "/usr",
    "/usr/bin",
    "/etc",
    "/tmp",
    "/root",
    "/home",
    "/var",
    "/var/log",
    "/var/tmp",
    "/proc",
    "/sys",
)
_READ_ONLY = ("/proc", "/sys")


class GuestFsError(Exception):
    """A failed filesystem operation: ``kind`` says why, ``path`` where."""

    def __init__(self, kind: str, path: str) -> None:
        super().__init__(f"{kind}: {path}")
        self.kind = kind
        self.path = path


@dataclass
class Node:
    """A file (``data``) or a directory (``data`` is None)."""

    data: bytearray | None
    mode: int
    mtime: datetime = field(default_factory=lambda: datetime.now(UTC))
    atime: datetime = field(default_factory=lambda: datetime.now(UTC))
    uid: int = 0
    gid: int = 0

    @property
    def is_dir(self) -> bool:
        return self.data is None

    @property
    def size(self) -> int:
        return 0 if self.data is None else len(self.data)


class GuestFs:
    """One guest's files by absolute path."""

    def __init__(self, hostname: str = "localhost") -> None:
        self.nodes: dict[str, Node] = {"/": Node(None, 0o755)}
        for d in _DIRS:
            self.nodes[d] = Node(None, 0o1777 if d.endswith("tmp") else 0o755)
        for p in PROGRAMS:
            self.nodes[p] = Node(bytearray(b"\x7fELF simulated\n"), 0o755)
        self.write("/etc/hostname", (hostname + "\n").encode())
        self.write("/etc/os-release", b'NAME="spherekit.sim guest"\nID=linux\n')

    # -- paths ----------------------------------------------------------------------------

    @staticmethod
    def norm(path: str, cwd: str = "/") -> str:
        """``path`` made absolute (relative to ``cwd``) and normalised."""
        joined = posixpath.join(cwd, path) if not path.startswith("/") else path
        out = posixpath.normpath(joined)
        return "/" + out.lstrip("/") if out != "/" else "/"

    def get(self, path: str) -> Node | None:
        return self.nodes.get(self.norm(path))

    def exists(self, path: str) -> bool:
        return self.norm(path) in self.nodes

    def is_dir(self, path: str) -> bool:
        node = self.get(path)
        return node is not None and node.is_dir

    def _parent_dir(self, path: str) -> str:
        parent = posixpath.dirname(path)
        node = self.nodes.get(parent)
        if node is None:
            raise GuestFsError("notfound", parent)
        if not node.is_dir:
            raise GuestFsError("notdir", parent)
        return parent

    @staticmethod
    def _writable(path: str) -> None:
        if any(path == p or path.startswith(p + "/") for p in _READ_ONLY):
            raise GuestFsError("permission", path)

    # -- files ----------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        p = self.norm(path)
        node = self.nodes.get(p)
        if node is None:
            raise GuestFsError("notfound", p)
        if node.data is None:
            raise GuestFsError("isdir", p)
        node.atime = datetime.now(UTC)
        return bytes(node.data)

    def write(
        self, path: str, data: bytes, *, append: bool = False, mode: int | None = None
    ) -> None:
        """Create or replace (or append to) a file; its directory must exist."""
        p = self.norm(path)
        self._writable(p)
        node = self.nodes.get(p)
        if node is not None and node.data is None:
            raise GuestFsError("isdir", p)
        self._parent_dir(p)
        now = datetime.now(UTC)
        if node is None:
            self.nodes[p] = Node(bytearray(data), mode if mode is not None else 0o644)
            return
        if append:
            node.data.extend(data)  # type: ignore[union-attr]
        else:
            node.data = bytearray(data)
        if mode is not None:
            node.mode = mode
        node.mtime = now

    def touch(self, path: str) -> None:
        p = self.norm(path)
        node = self.nodes.get(p)
        if node is None:
            self.write(p, b"")
        else:
            self._writable(p)
            node.mtime = datetime.now(UTC)

    def remove(self, path: str) -> None:
        """Delete a file (not a directory)."""
        p = self.norm(path)
        self._writable(p)
        node = self.nodes.get(p)
        if node is None:
            raise GuestFsError("notfound", p)
        if node.is_dir:
            raise GuestFsError("isdir", p)
        del self.nodes[p]

    # -- directories ----------------------------------------------------------------------

    def mkdir(self, path: str, *, parents: bool = False) -> None:
        p = self.norm(path)
        self._writable(p)
        node = self.nodes.get(p)
        if node is not None:
            if parents and node.is_dir:
                return
            raise GuestFsError("exists", p)
        if parents and p != "/":
            parent = posixpath.dirname(p)
            if parent not in self.nodes:
                self.mkdir(parent, parents=True)
        self._parent_dir(p)
        self.nodes[p] = Node(None, 0o755)

    def children(self, path: str) -> list[str]:
        """Names in directory ``path``, sorted."""
        p = self.norm(path)
        node = self.nodes.get(p)
        if node is None:
            raise GuestFsError("notfound", p)
        if not node.is_dir:
            raise GuestFsError("notdir", p)
        prefix = p.rstrip("/") + "/"
        return sorted(
            k[len(prefix) :]
            for k in self.nodes
            if k.startswith(prefix) and "/" not in k[len(prefix) :] and k != p
        )

    def rmdir(self, path: str, *, recursive: bool = False) -> None:
        p = self.norm(path)
        self._writable(p)
        node = self.nodes.get(p)
        if node is None:
            raise GuestFsError("notfound", p)
        if not node.is_dir:
            raise GuestFsError("notdir", p)
        if p == "/":
            raise GuestFsError("permission", p)
        below = [k for k in self.nodes if k.startswith(p + "/")]
        if below and not recursive:
            raise GuestFsError("notempty", p)
        for k in below:
            del self.nodes[k]
        del self.nodes[p]

    def move(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Rename a file or a directory (with everything below it)."""
        s, t = self.norm(src), self.norm(dst)
        self._writable(s)
        self._writable(t)
        node = self.nodes.get(s)
        if node is None:
            raise GuestFsError("notfound", s)
        if s == t:
            return
        target = self.nodes.get(t)
        if target is not None:
            if not overwrite or target.is_dir or node.is_dir:
                raise GuestFsError("exists", t)
            del self.nodes[t]
        if t.startswith(s + "/"):
            raise GuestFsError("permission", t)
        self._parent_dir(t)
        moved = {k: v for k, v in self.nodes.items() if k == s or k.startswith(s + "/")}
        for k in moved:
            del self.nodes[k]
        for k, v in moved.items():
            self.nodes[t + k[len(s) :]] = v
