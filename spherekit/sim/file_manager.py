"""FileManager: MakeDirectory and the datastore file tasks (delete, move, copy).

Names are datastore paths (``[LocalDS_0] dir/file``) resolved in the given datacenter (vCenter
needs it: without it ``InvalidArgument``; an unknown datastore is ``InvalidDatastore``), or
``/folder`` URLs (``https://host/folder/dir/file?dcPath=DC0&dsName=LocalDS_0``), whose
datacenter and datastore come from the URL. Faults carry the datastore path in ``file``:

- MakeDirectory: ``FileAlreadyExists`` if it exists; ``FileNotFound`` (the parent) if the
  parent is missing and ``createParentDirectories`` is not set.
- DeleteDatastoreFile_Task: ``FileNotFound``; a folder is deleted with its contents.
- Move/CopyDatastoreFile_Task: ``FileNotFound`` (source, or destination folder);
  ``FileAlreadyExists`` (destination) unless ``force``. Folders are copied/moved whole.

The tasks post vCenter's DatastoreFileDeletedEvent / MovedEvent / CopiedEvent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.datastore import (
    datacenter_by_path,
    datastore_in,
    ds_path,
    invalid_datastore,
    resolve_ds_path,
)
from spherekit.sim.events import emit
from spherekit.sim.methods import handler

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["Located", "locate"]

Located = tuple[MoRef, str, str, MoRef | None]


def locate(ctx: Context, name: str, datacenter: MoRef | None, param: str = "datacenter") -> Located:
    """(datastore, datastore name, path in it, datacenter) of a datastore path or URL."""
    if name.startswith(("http://", "https://")):
        url = urlsplit(name)
        path = unquote(url.path)
        if not (path == "/folder" or path.startswith("/folder/")):
            raise faults.invalid_datastore_path(name)
        query = dict(parse_qsl(url.query))
        dc = datacenter_by_path(ctx.registry, query.get("dcPath", ""))
        if dc is None:
            raise faults.invalid_argument(param, f"no datacenter {query.get('dcPath', '')!r}")
        ds_name = query.get("dsName", "")
        ds = datastore_in(ctx.registry, dc, ds_name)
        if ds is None:
            raise invalid_datastore(ds_name)
        rel = path.removeprefix("/folder").strip("/")
        if ".." in rel.split("/"):
            raise faults.invalid_datastore_path(name, ds_name)
        return ds, ds_name, rel, dc
    ds, ds_name, rel = resolve_ds_path(ctx, name, datacenter, param)
    return ds, ds_name, rel, datacenter


_DC_PARAMS = ("sourceDatacenter", "destinationDatacenter")


def locate_pair(
    ctx: Context,
    source: str,
    source_dc: MoRef | None,
    dest: str,
    dest_dc: MoRef | None,
    params: tuple[str, str],
) -> tuple[Located, Located]:
    """The two ends of a copy or move; the destination's datacenter defaults to the
    source's. ``params`` names the two datacenter parameters, for faults."""
    src = locate(ctx, source, source_dc, params[0])
    return src, locate(ctx, dest, dest_dc or src[3], params[1])


def _arg(ctx: Context, ds: MoRef) -> object:
    from spherekit.schema.vim25.data import DatastoreEventArgument

    return DatastoreEventArgument(name=ctx.registry.prop(ds, "name"), datastore=ds)


def _entity(ctx: Context, datacenter: MoRef | None, this: MoRef) -> MoRef:
    return datacenter if datacenter is not None and datacenter in ctx.registry else this


@handler("FileManager", "MakeDirectory")
def make_directory(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    datacenter: MoRef | None = None,
    createParentDirectories: bool | None = None,
) -> None:
    _ds, ds_name, rel, _dc = locate(ctx, name, datacenter)
    storage = ctx.backend.storage
    if not rel:
        raise faults.file_already_exists(ds_path(ds_name, rel))
    if storage.exists(ds_name, rel):
        raise faults.file_already_exists(ds_path(ds_name, rel))
    parent = rel.rpartition("/")[0]
    if not createParentDirectories and parent and not storage.is_dir(ds_name, parent):
        raise faults.file_not_found(ds_path(ds_name, parent))
    storage.mkdir(ds_name, rel)


@handler("FileManager", "DeleteDatastoreFile_Task")
def delete_datastore_file(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    ds, ds_name, rel, dc = locate(ctx, name, datacenter)

    def work() -> None:
        storage = ctx.backend.storage
        target = ds_path(ds_name, rel)
        if not rel or not storage.exists(ds_name, rel):
            raise faults.file_not_found(target)
        storage.delete(ds_name, rel)
        emit(
            ctx,
            "DatastoreFileDeletedEvent",
            entity=ds,
            message=f"Deletion of file or directory {target} from {ds_name} was initiated",
            datastore=_arg(ctx, ds),
            targetFile=target,
        )

    return ctx.backend.tasks.start(
        ctx, _entity(ctx, dc, this), "DeleteDatastoreFile_Task", "FileManager.deleteFile", work
    )


def _transfer(
    ctx: Context,
    this: MoRef,
    move: bool,
    source: Located,
    destination: Located,
    force: bool | None,
) -> MoRef:
    src_ds, src_name, src_rel, src_dc = source
    dst_ds, dst_name, dst_rel, _dst_dc = destination

    def work() -> None:
        storage = ctx.backend.storage
        src_path, dst_path = ds_path(src_name, src_rel), ds_path(dst_name, dst_rel)
        if not src_rel or not storage.exists(src_name, src_rel):
            raise faults.file_not_found(src_path)
        if not dst_rel:
            raise faults.file_already_exists(dst_path)
        if (src_name, src_rel) == (dst_name, dst_rel):
            return
        if src_name == dst_name and dst_rel.startswith(src_rel + "/"):
            raise faults.invalid_argument("destinationName", "a folder cannot go inside itself")
        if storage.exists(dst_name, dst_rel) and not force:
            raise faults.file_already_exists(dst_path)
        parent = dst_rel.rpartition("/")[0]
        if parent and not storage.is_dir(dst_name, parent):
            raise faults.file_not_found(ds_path(dst_name, parent))
        if move:
            storage.move((src_name, src_rel), (dst_name, dst_rel))
        else:
            storage.copy((src_name, src_rel), (dst_name, dst_rel))
        verb = "Move" if move else "Copy"
        emit(
            ctx,
            "DatastoreFileMovedEvent" if move else "DatastoreFileCopiedEvent",
            entity=dst_ds,
            message=f"{verb} of file or directory {src_path} from {src_name} to {dst_path} "
            f"on {dst_name} was initiated",
            datastore=_arg(ctx, dst_ds),
            targetFile=dst_path,
            sourceDatastore=_arg(ctx, src_ds),
            sourceFile=src_path,
        )

    method = "MoveDatastoreFile_Task" if move else "CopyDatastoreFile_Task"
    desc = "FileManager.moveFile" if move else "FileManager.copyFile"
    return ctx.backend.tasks.start(ctx, _entity(ctx, src_dc, this), method, desc, work)


@handler("FileManager", "MoveDatastoreFile_Task")
def move_datastore_file(
    ctx: Context,
    this: MoRef,
    *,
    sourceName: str,
    destinationName: str,
    sourceDatacenter: MoRef | None = None,
    destinationDatacenter: MoRef | None = None,
    force: bool | None = None,
) -> MoRef:
    source, dest = locate_pair(ctx, sourceName, sourceDatacenter, destinationName,
                               destinationDatacenter, _DC_PARAMS)  # fmt: skip
    return _transfer(ctx, this, True, source, dest, force)


@handler("FileManager", "CopyDatastoreFile_Task")
def copy_datastore_file(
    ctx: Context,
    this: MoRef,
    *,
    sourceName: str,
    destinationName: str,
    sourceDatacenter: MoRef | None = None,
    destinationDatacenter: MoRef | None = None,
    force: bool | None = None,
) -> MoRef:
    source, dest = locate_pair(ctx, sourceName, sourceDatacenter, destinationName,
                               destinationDatacenter, _DC_PARAMS)  # fmt: skip
    return _transfer(ctx, this, False, source, dest, force)
