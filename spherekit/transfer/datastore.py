"""A datastore as a blob store: ls, stat, mkdir, rm, upload, download.

A datastore is named by its datacenter and its name; paths are inside the datastore
(``images/ubuntu.iso``; ``""`` is its root). Listing and stat use the datastore's
HostDatastoreBrowser (``SearchDatastore_Task``); mkdir, rm and the final rename use the
FileManager; bytes move over ``/folder`` URLs, streamed, never held in memory.

An upload is written to ``<path>.tmp``, checked (the server's size must match the bytes
sent, whose SHA-256 is computed on the way up; with ``verify="full"`` the bytes are read
back and hashed too), then renamed with ``MoveDatastoreFile_Task``. Every write is journaled
through an :class:`~spherekit.compute.ops.Operation`, the PUT included; on any failure the
``.tmp`` is removed and the journal shows it. Mistakes (unknown datacenter or datastore, a
missing local file, an existing target without ``overwrite``) raise
:class:`~spherekit.errors.UsageError` before anything is written.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal
from urllib.parse import quote, urlencode

from spherekit import faults
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import SpherekitError, UsageError
from spherekit.find import NotFound
from spherekit.property import fetch
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import FileQueryFlags, HostDatastoreBrowserSearchSpec
from spherekit.task import wait_for_task
from spherekit.transfer import http

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "Datastore",
    "DatastoreFile",
    "Downloaded",
    "IntegrityError",
    "PathNotFound",
    "Uploaded",
    "download",
    "locate",
    "ls",
    "mkdir",
    "rm",
    "stat",
    "upload",
]

Verify = Literal["size", "full"]


class PathNotFound(NotFound, UsageError):
    """No file or folder at that datastore path."""


class IntegrityError(SpherekitError):
    """What the server stored is not what was sent (size or SHA-256 differ)."""


@dataclass(frozen=True)
class Datastore:
    """A datastore located by name: its datacenter (and the datacenter's inventory path,
    which ``/folder`` URLs name), its moref and its browser."""

    datacenter: MoRef
    dc_path: str
    ref: MoRef
    name: str
    browser: MoRef

    def ds_path(self, path: str) -> str:
        return f"[{self.name}] {path}"

    def url(self, path: str) -> str:
        query = urlencode({"dcPath": self.dc_path, "dsName": self.name}, quote_via=quote)
        return f"/folder/{quote(path)}?{query}"


@dataclass(frozen=True)
class DatastoreFile:
    """One entry of a datastore folder. ``size`` is None for folders."""

    path: str
    name: str
    size: int | None
    modified: datetime | None
    is_folder: bool


@dataclass(frozen=True)
class Uploaded:
    path: str
    size: int
    sha256: str
    planned: list[PlannedCall] = field(default_factory=list)


@dataclass(frozen=True)
class Downloaded:
    path: str
    size: int
    sha256: str


def _clean(path: str) -> str:
    if not isinstance(path, str):
        raise UsageError(f"a datastore path is a string such as 'dir/file', not {path!r}")
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UsageError(f"datastore path {path!r} must not contain '..'")
    return "/".join(parts)


def locate(session: Session, datacenter: str, datastore: str) -> Datastore:
    """The datastore ``datastore`` of the datacenter named (or at inventory path)
    ``datacenter``; :class:`UsageError` naming the choices if either is unknown."""
    content = session.content
    folders = {r: v for r, v in fetch(session, "Folder", ["name", "parent"])}
    dcs = fetch(session, "Datacenter", ["name", "parent", "datastore"])

    def inventory_path(name: str, parent: MoRef | None) -> str:
        names = [name]
        while parent is not None and parent != content.rootFolder and parent in folders:
            names.append(folders[parent]["name"])
            parent = folders[parent].get("parent")
        return "/".join(reversed(names))

    wanted = datacenter.strip("/")
    match = [
        (ref, inventory_path(v["name"], v.get("parent")), v.get("datastore") or [])
        for ref, v in dcs
        if wanted in (v["name"], inventory_path(v["name"], v.get("parent")))
    ]
    if len(match) != 1:
        names = sorted(inventory_path(v["name"], v.get("parent")) for _, v in dcs)
        why = "is ambiguous (give its inventory path)" if match else "does not exist"
        raise UsageError(f"datacenter {datacenter!r} {why}; datacenters: {', '.join(names)}")
    dc, dc_path, members = match[0]
    stores = fetch(session, "Datastore", ["name", "browser"], root=dc)
    for ref, v in stores:
        if v["name"] == datastore and ref in members:
            return Datastore(dc, dc_path, ref, datastore, v["browser"])
    names = sorted(v["name"] for r, v in stores if r in members)
    raise UsageError(
        f"datacenter {dc_path!r} has no datastore {datastore!r}; its datastores: "
        f"{', '.join(names) or 'none'}"
    )


def _search(
    session: Session, store: Datastore, folder: str, pattern: str | None
) -> list[DatastoreFile]:
    spec = HostDatastoreBrowserSearchSpec(
        details=FileQueryFlags(fileType=True, fileSize=True, modification=True, fileOwner=False),
        matchPattern=[pattern or "*"],  # vcsim lists nothing without a pattern
    )
    task = session.call(store.browser, "SearchDatastore_Task",
                        datastorePath=store.ds_path(folder), searchSpec=spec)  # fmt: skip
    try:
        result = wait_for_task(session, task, timeout=600.0)
    except faults.FileNotFound:
        raise PathNotFound(f"no folder {store.ds_path(folder)!r}") from None
    out = []
    for info in getattr(result, "file", None) or []:
        is_folder = info._wsdl_name == "FolderFileInfo"
        out.append(
            DatastoreFile(
                path=posixpath.join(folder, info.path) if folder else info.path,
                name=info.path,
                size=None if is_folder else info.fileSize,
                modified=info.modification,
                is_folder=is_folder,
            )
        )
    return sorted(out, key=lambda f: f.name)


def _lookup(session: Session, store: Datastore, rel: str) -> DatastoreFile | None:
    if not rel:
        return DatastoreFile("", "", None, None, True)
    parent, name = posixpath.split(rel)
    try:
        found = _search(session, store, parent, name)
    except PathNotFound:
        return None
    return next((f for f in found if f.name == name), None)


def ls(session: Session, datacenter: str, datastore: str, path: str = "") -> list[DatastoreFile]:
    """The entries of a folder (sorted by name), or the one entry of a file."""
    store, rel = locate(session, datacenter, datastore), _clean(path)
    try:
        return _search(session, store, rel, None)
    except PathNotFound:
        entry = _lookup(session, store, rel)
        if entry is None:
            raise
        return [entry]


def stat(session: Session, datacenter: str, datastore: str, path: str) -> DatastoreFile:
    """The entry at ``path``; :class:`PathNotFound` if there is none."""
    store, rel = locate(session, datacenter, datastore), _clean(path)
    entry = _lookup(session, store, rel)
    if entry is None:
        raise PathNotFound(f"nothing at {store.ds_path(rel)!r}")
    return entry


def _file_manager(session: Session) -> MoRef:
    fm = session.content.fileManager
    if fm is None:
        raise UsageError("this endpoint has no FileManager")
    return fm


def _delete(op: Operation, store: Datastore, rel: str) -> None:
    op.write(_file_manager(op.session), "DeleteDatastoreFile_Task",
             name=store.ds_path(rel), datacenter=store.datacenter)  # fmt: skip


def mkdir(
    session: Session, datacenter: str, datastore: str, path: str, *,
    journal: Journal | None = None, parents: bool = True, exist_ok: bool = False,
    plan: bool = False,
) -> bool:  # fmt: skip
    """Make a folder (and its missing parents); False if it existed and ``exist_ok``."""
    store, rel = locate(session, datacenter, datastore), _clean(path)
    entry = _lookup(session, store, rel)
    if entry is not None:
        if entry.is_folder and exist_ok:
            return False
        raise UsageError(f"{store.ds_path(rel)!r} already exists")
    with Operation(session, journal or Journal(), f"mkdir {store.ds_path(rel)}", plan=plan) as op:
        op.write(_file_manager(session), "MakeDirectory", name=store.ds_path(rel),
                 datacenter=store.datacenter, createParentDirectories=parents)  # fmt: skip
    return True


def rm(
    session: Session, datacenter: str, datastore: str, path: str, *,
    journal: Journal | None = None, missing_ok: bool = False, plan: bool = False,
) -> bool:  # fmt: skip
    """Delete a file or a folder with its contents. A missing path raises
    :class:`PathNotFound`, or with ``missing_ok`` returns False (nothing is written)."""
    store, rel = locate(session, datacenter, datastore), _clean(path)
    if not rel:
        raise UsageError("refusing to delete the root of a datastore")
    if _lookup(session, store, rel) is None:
        if missing_ok:
            return False
        raise PathNotFound(f"nothing at {store.ds_path(rel)!r} to delete")
    with Operation(session, journal or Journal(), f"rm {store.ds_path(rel)}", plan=plan) as op:
        _delete(op, store, rel)
    return True


def upload(
    session: Session, datacenter: str, datastore: str, path: str,
    source: str | os.PathLike[str] | IO[bytes], *,
    journal: Journal | None = None, overwrite: bool = False, verify: Verify = "size",
    size: int | None = None, on_progress: http.Progress | None = None,
    timeout: float | None = None, plan: bool = False,
) -> Uploaded:  # fmt: skip
    """Upload a local file (a path, or a binary file object read to its end) to ``path``.

    Streamed to ``<path>.tmp``, verified (``verify="size"``: the stored size; ``"full"``:
    read back and SHA-256 compared), then renamed to ``path`` (replacing a file there only
    with ``overwrite``). Returns the size and SHA-256 of what was sent.
    """
    if verify not in ("size", "full"):
        raise UsageError(f"verify must be 'size' or 'full', not {verify!r}")
    store, rel = locate(session, datacenter, datastore), _clean(path)
    if not rel:
        raise UsageError("upload needs a file path inside the datastore, not its root")
    tmp = rel + ".tmp"
    existing = _lookup(session, store, rel)
    if existing is not None and (existing.is_folder or not overwrite):
        what = "a folder" if existing.is_folder else "a file (pass overwrite=True to replace it)"
        raise UsageError(f"{store.ds_path(rel)!r} is already {what}")
    if _lookup(session, store, tmp) is not None:
        raise UsageError(
            f"{store.ds_path(tmp)!r} exists: another upload is writing it, or one was cut off "
            "(remove it with rm if no upload is running)"
        )
    with http.open_source(source, size) as (stream, total):
        name = f"upload {store.ds_path(rel)}"
        with Operation(session, journal or Journal(), name, plan=plan) as op:
            op.on_undo(f"remove {store.ds_path(tmp)}", lambda: _discard(op, store, tmp))
            sent = op.http_write(
                "PUT /folder", store.ds_path(tmp),
                lambda: http.put(session, store.url(tmp), stream, size=total,
                                 on_progress=on_progress, timeout=timeout),
                size=total,
            )  # fmt: skip
            if sent is not None:
                _verify(session, store, tmp, sent, total, verify, timeout)
            op.write(
                _file_manager(session), "MoveDatastoreFile_Task",
                sourceName=store.ds_path(tmp), sourceDatacenter=store.datacenter,
                destinationName=store.ds_path(rel), destinationDatacenter=store.datacenter,
                force=overwrite,
            )  # fmt: skip
            op.forget_undo(f"remove {store.ds_path(tmp)}")
    if sent is None:
        return Uploaded(rel, total or 0, "", list(op.planned))
    return Uploaded(rel, sent.size, sent.sha256)


def _discard(op: Operation, store: Datastore, rel: str) -> None:
    """Undo step: remove ``rel`` if it is there (a failed PUT may have left nothing)."""
    if _lookup(op.session, store, rel) is not None:
        _delete(op, store, rel)


def _verify(
    session: Session, store: Datastore, tmp: str, sent: http.Transferred, total: int | None,
    verify: Verify, timeout: float | None,
) -> None:  # fmt: skip
    if total is not None and sent.size != total:
        raise IntegrityError(f"the source gave {sent.size} bytes, not the {total} announced")
    stored = _lookup(session, store, tmp)
    if stored is None or stored.size != sent.size:
        got = "nothing" if stored is None else f"{stored.size} bytes"
        raise IntegrityError(
            f"{store.ds_path(tmp)!r}: the server stored {got} of the {sent.size} sent"
        )
    if verify == "full":
        back = http.get(session, store.url(tmp), lambda b: None, size=sent.size, timeout=timeout)
        if back.sha256 != sent.sha256:
            raise IntegrityError(
                f"{store.ds_path(tmp)!r}: SHA-256 read back {back.sha256} differs from the "
                f"{sent.sha256} sent"
            )


def download(
    session: Session, datacenter: str, datastore: str, path: str,
    dest: str | os.PathLike[str] | IO[bytes], *,
    overwrite: bool = False, on_progress: http.Progress | None = None,
    timeout: float | None = None,
) -> Downloaded:  # fmt: skip
    """Download a file to a local path (written to ``<dest>.part``, then renamed) or into
    a binary file object; returns its size and SHA-256."""
    store, rel = locate(session, datacenter, datastore), _clean(path)
    entry = _lookup(session, store, rel)
    if entry is None:
        raise PathNotFound(f"nothing at {store.ds_path(rel)!r} to download")
    if entry.is_folder:
        raise UsageError(f"{store.ds_path(rel)!r} is a folder; download takes a file")
    url = store.url(rel)

    def fetch_into(write: Callable[[bytes], object]) -> http.Transferred:
        got = http.get(session, url, write, size=entry.size, on_progress=on_progress,
                       timeout=timeout)  # fmt: skip
        if entry.size is not None and got.size != entry.size:
            raise IntegrityError(f"{store.ds_path(rel)!r}: got {got.size} of {entry.size} bytes")
        return got

    if not isinstance(dest, str | os.PathLike):
        got = fetch_into(dest.write)
        return Downloaded(rel, got.size, got.sha256)
    target = Path(dest)
    if target.exists() and not overwrite:
        raise UsageError(f"{target} exists; pass overwrite=True to replace it")
    part = target.with_name(target.name + ".part")
    try:
        with part.open("wb") as f:
            got = fetch_into(f.write)
        part.replace(target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Downloaded(rel, got.size, got.sha256)
