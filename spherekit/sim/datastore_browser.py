"""HostDatastoreBrowser: SearchDatastore_Task, SearchDatastoreSubFolders_Task, DeleteFile.

A search lists one folder (or, with SubFolders, the folder and every folder below it, one
``HostDatastoreBrowserSearchResults`` each, whether or not anything matched) and returns the
entries that match both a ``matchPattern`` glob (none: everything; ``searchCaseInsensitive``)
and one of the ``query`` types (none: every file and folder). Files are identified by type
as ESXi does, from their names: folders, ``.vmx`` (``.vmtx`` templates), disk descriptors
``.vmdk`` (extents such as ``-flat.vmdk`` are plain files), ``.log``, ``.nvram``, ``.vmsn``,
``.iso``, ``.flp``/``.img``. ``details.fileType`` returns those types (``VmDiskFileInfo`` ...),
else plain ``FileInfo``; ``fileSize``, ``modification`` and ``fileOwner`` fill the fields.
A disk's ``fileSize`` counts its descriptor and what its extent commits; a
``VmDiskFileQuery`` with ``details`` reads the descriptor (capacity, type, thin, adapter)
and its ``filter`` selects on them.

``folderPath`` is the searched folder's path as the client wrote it (``[LocalDS_0] vm1`` or
``[LocalDS_0] vm1/``), and ``[LocalDS_0] vm1/sub`` (no trailing slash) for the folders below
it, as vCenter answers (clients join ``folderPath + "/" + file.path``). The task's entity is
the datastore.
A missing folder fails the task with ``FileNotFound``.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults, vmdk
from spherekit.sim.datastore import invalid_datastore
from spherekit.sim.methods import handler
from spherekit.sim.storage import file_usage, parse_ds_path

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["search"]

_EXTENSIONS: dict[str, tuple[type[d.FileInfo], type[d.FileQuery]]] = {
    ".vmx": (d.VmConfigFileInfo, d.VmConfigFileQuery),
    ".vmtx": (d.TemplateConfigFileInfo, d.TemplateConfigFileQuery),
    ".vmdk": (d.VmDiskFileInfo, d.VmDiskFileQuery),
    ".log": (d.VmLogFileInfo, d.VmLogFileQuery),
    ".nvram": (d.VmNvramFileInfo, d.VmNvramFileQuery),
    ".vmsn": (d.VmSnapshotFileInfo, d.VmSnapshotFileQuery),
    ".iso": (d.IsoImageFileInfo, d.IsoImageFileQuery),
    ".flp": (d.FloppyImageFileInfo, d.FloppyImageFileQuery),
    ".img": (d.FloppyImageFileInfo, d.FloppyImageFileQuery),
}
_EXTENTS = ("-flat.vmdk", "-delta.vmdk", "-sesparse.vmdk", "-ctk.vmdk", "-rdm.vmdk", "-rdmp.vmdk")
#: VmDiskFileInfo.diskType names the backing class of the disk's format
_BACKING = {
    "sparse2Gb": "VirtualDiskSparseVer2BackingInfo",
    "sparseMonolithic": "VirtualDiskSparseVer2BackingInfo",
    "seSparse": "VirtualDiskSeSparseBackingInfo",
    "rdm": "VirtualDiskRawDiskMappingVer1BackingInfo",
    "rdmp": "VirtualDiskRawDiskMappingVer1BackingInfo",
}
_CONTROLLER = {
    "ide": "VirtualIDEController",
    "busLogic": "VirtualBusLogicController",
    "lsiLogic": "VirtualLsiLogicController",
}


def _kind(p: Path) -> tuple[type[d.FileInfo], type[d.FileQuery]]:
    """The FileInfo type and query type of an entry (FileInfo / FileQuery if none)."""
    if p.is_dir():
        return d.FolderFileInfo, d.FolderFileQuery
    name = p.name.lower()
    if name.endswith(_EXTENTS):
        return d.FileInfo, d.FileQuery
    return _EXTENSIONS.get(p.suffix.lower(), (d.FileInfo, d.FileQuery))


def _disk(p: Path) -> vmdk.Disk | None:
    try:
        with p.open("rb") as f:
            return vmdk.parse(f.read(64 * 1024 + 1))
    except OSError:
        return None


def _matches_query(p: Path, query_type: type[d.FileQuery], query: d.FileQuery) -> bool:
    if type(query) is d.FileQuery:
        return True
    if type(query) is not query_type:
        return False
    if isinstance(query, d.VmDiskFileQuery) and query.filter is not None:
        disk = _disk(p)
        if disk is None:
            return False
        f = query.filter
        if f.diskType and _BACKING.get(disk.disk_type, "VirtualDiskFlatVer2BackingInfo") not in (
            f.diskType
        ):
            return False
        if f.matchHardwareVersion and disk.hardware_version not in f.matchHardwareVersion:
            return False
        if f.controllerType and _CONTROLLER.get(disk.adapter_type, "") not in f.controllerType:
            return False
        if f.thin is not None and f.thin != disk.thin:
            return False
    return True


def _info(p: Path, spec: d.HostDatastoreBrowserSearchSpec, query: d.FileQuery | None) -> Any:
    flags = spec.details
    info_type, _q = _kind(p)
    cls = info_type if flags is not None and flags.fileType else d.FileInfo
    info: Any = cls(path=p.name)
    if flags is None:
        return info
    st = p.stat()
    disk = _disk(p) if info_type is d.VmDiskFileInfo else None
    if flags.fileSize and not p.is_dir():
        size = st.st_size
        if disk is not None:
            extent = p.with_name(disk.extent)
            size += file_usage(extent).committed if extent.exists() else 0
        info.fileSize = size
    if flags.modification:
        info.modification = datetime.fromtimestamp(st.st_mtime, UTC)
    if flags.fileOwner:
        info.owner = "root"
    if isinstance(info, d.VmDiskFileInfo) and disk is not None:
        details = query.details if isinstance(query, d.VmDiskFileQuery) else None
        if details is not None:
            if details.diskType:
                info.diskType = _BACKING.get(disk.disk_type, "VirtualDiskFlatVer2BackingInfo")
            if details.capacityKb:
                info.capacityKb = disk.capacity_kb
            if details.hardwareVersion:
                info.hardwareVersion = disk.hardware_version
            if details.controllerType:
                info.controllerType = _CONTROLLER.get(disk.adapter_type)
            if details.diskExtents:
                info.diskExtents = [disk.extent]
            if details.thin:
                info.thin = disk.thin
    config_details = query.details if isinstance(query, d.VmConfigFileQuery) else None
    if isinstance(info, d.VmConfigFileInfo) and config_details and config_details.configVersion:
        info.configVersion = 8
    return info


def _folder(
    ds: MoRef, folder_path: str, base: Path, spec: d.HostDatastoreBrowserSearchSpec
) -> d.HostDatastoreBrowserSearchResults:
    patterns = spec.matchPattern or ["*"]
    fold = bool(spec.searchCaseInsensitive)
    queries = spec.query or []
    entries: list[tuple[bool, str, Any]] = []
    for p in base.iterdir():
        if p.name.endswith(".sim-partial"):
            continue
        name = p.name.lower() if fold else p.name
        if not any(fnmatch.fnmatchcase(name, m.lower() if fold else m) for m in patterns):
            continue
        _info_type, query_type = _kind(p)
        query = next((q for q in queries if _matches_query(p, query_type, q)), None)
        if queries and query is None:
            continue
        entries.append((not p.is_dir(), p.name, _info(p, spec, query)))
    if spec.sortFoldersFirst:
        entries.sort(key=lambda e: (e[0], e[1]))
    else:
        entries.sort(key=lambda e: e[1])
    return d.HostDatastoreBrowserSearchResults(
        datastore=ds, folderPath=folder_path, file=[e[2] for e in entries] or None
    )


def search(
    ctx: Context,
    this: MoRef,
    datastore_path: str,
    spec: d.HostDatastoreBrowserSearchSpec,
    recursive: bool,
) -> Any:
    """The result of a search (checks that fail the task raise faults)."""
    reg = ctx.registry
    try:
        ds_name, rel = parse_ds_path(datastore_path)
    except ValueError:
        raise faults.invalid_datastore_path(datastore_path) from None
    ds = next(
        (x for x in reg.prop(this, "datastore") or [] if reg.prop(x, "name") == ds_name), None
    )
    if ds is None:
        raise invalid_datastore(ds_name)
    rel = rel.strip("/")
    storage = ctx.backend.storage
    try:
        base = storage.path(ds_name, rel)
    except ValueError:
        raise faults.invalid_datastore_path(datastore_path, ds_name) from None
    if not base.is_dir():
        raise faults.file_not_found(datastore_path)
    if not recursive:
        return _folder(ds, datastore_path, base, spec)
    results = []
    stack = [(rel, base)]
    while stack:
        cur_rel, cur = stack.pop(0)
        shown = datastore_path if cur is base else f"[{ds_name}] {cur_rel}"
        results.append(_folder(ds, shown, cur, spec))
        subs = sorted((p for p in cur.iterdir() if p.is_dir()), key=lambda p: p.name)
        for sub in subs:
            child_rel = f"{cur_rel}/{sub.name}" if cur_rel else sub.name
            stack.append((child_rel, storage.path(ds_name, child_rel)))
    return results


def _start(
    ctx: Context, this: MoRef, method: str, desc: str, path: str, spec: Any, rec: bool
) -> MoRef:
    if spec is None:
        spec = d.HostDatastoreBrowserSearchSpec()
    try:
        ds_name = parse_ds_path(path)[0]
    except ValueError:
        ds_name = ""
    reg = ctx.registry
    ds = next(
        (x for x in reg.prop(this, "datastore") or [] if reg.prop(x, "name") == ds_name), this
    )
    return ctx.backend.tasks.start(
        ctx, ds, method, desc, lambda: search(ctx, this, path, spec, rec)
    )


@handler("HostDatastoreBrowser", "SearchDatastore_Task")
def search_datastore(
    ctx: Context,
    this: MoRef,
    *,
    datastorePath: str,
    searchSpec: d.HostDatastoreBrowserSearchSpec | None = None,
) -> MoRef:
    return _start(
        ctx,
        this,
        "SearchDatastore_Task",
        "HostDatastoreBrowser.search",
        datastorePath,
        searchSpec,
        False,
    )


@handler("HostDatastoreBrowser", "SearchDatastoreSubFolders_Task")
def search_datastore_sub_folders(
    ctx: Context,
    this: MoRef,
    *,
    datastorePath: str,
    searchSpec: d.HostDatastoreBrowserSearchSpec | None = None,
) -> MoRef:
    return _start(
        ctx,
        this,
        "SearchDatastoreSubFolders_Task",
        "HostDatastoreBrowser.searchSubFolders",
        datastorePath,
        searchSpec,
        True,
    )


@handler("HostDatastoreBrowser", "DeleteFile")
def delete_file(ctx: Context, this: MoRef, *, datastorePath: str) -> None:
    """The deprecated synchronous delete (FileManager.DeleteDatastoreFile_Task replaces it)."""
    reg = ctx.registry
    try:
        ds_name, rel = parse_ds_path(datastorePath)
    except ValueError:
        raise faults.invalid_datastore_path(datastorePath) from None
    if not any(reg.prop(x, "name") == ds_name for x in reg.prop(this, "datastore") or []):
        raise invalid_datastore(ds_name)
    storage = ctx.backend.storage
    try:
        exists = bool(rel.strip("/")) and storage.exists(ds_name, rel)
    except ValueError:
        raise faults.invalid_datastore_path(datastorePath, ds_name) from None
    if not exists:
        raise faults.file_not_found(datastorePath)
    storage.delete(ds_name, rel)
