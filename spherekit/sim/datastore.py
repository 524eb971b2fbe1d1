"""Datastore: its browser, its space account, RefreshDatastore(StorageInfo), and the name
lookups every file operation shares.

Each Datastore gets its own HostDatastoreBrowser (``browser``, as vCenter's
``datastoreBrowser-datastore-N``) and each host one for all its datastores
(``datastoreBrowser``). ``summary.freeSpace``, ``summary.uncommitted`` and ``info.freeSpace``
follow the files stored on the datastore (:meth:`spherekit.sim.storage.Storage.usage`): the
account is updated on every write made through Storage; RefreshDatastore and
RefreshDatastoreStorageInfo recount from the disk and stamp ``info.timestamp``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.methods import handler
from spherekit.sim.storage import parse_ds_path
from spherekit.sim.vm_files import defer_vm_folders

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import InvalidDatastore
    from spherekit.sim.backend import Backend, Context
    from spherekit.sim.registry import Registry

__all__ = [
    "add_browser",
    "datacenter_by_path",
    "datastore_in",
    "install",
    "invalid_datastore",
    "refresh_space",
    "resolve_ds_path",
]

#: the file types a HostDatastoreBrowser reports in ``supportedType``
SUPPORTED_QUERIES = (
    "FolderFileQuery",
    "VmConfigFileQuery",
    "VmDiskFileQuery",
    "VmLogFileQuery",
    "VmNvramFileQuery",
    "VmSnapshotFileQuery",
    "IsoImageFileQuery",
    "FloppyImageFileQuery",
    "TemplateConfigFileQuery",
)


def _supported() -> list[Any]:
    from spherekit.schema import registry as schema

    return [schema.data_class(name)() for name in SUPPORTED_QUERIES]  # type: ignore[misc]


def add_browser(reg: Registry, owner: MoRef) -> MoRef:
    """Create the HostDatastoreBrowser of a Datastore (``browser``) or a HostSystem
    (``datastoreBrowser``) and link it; return it. Call for datastores and hosts made later."""
    ref = MoRef("HostDatastoreBrowser", f"datastoreBrowser-{owner.value}")
    if ref not in reg:
        datastores = [owner] if owner.type == "Datastore" else reg.prop(owner, "datastore")
        reg.add(ref, {"datastore": list(datastores or []) or None, "supportedType": _supported()})
    prop = "browser" if owner.type == "Datastore" else "datastoreBrowser"
    reg.update(owner, {prop: ref})
    return ref


def install(backend: Backend) -> None:
    """Browsers for every datastore and host, deferred VM folders, the space account."""
    reg, storage = backend.registry, backend.storage
    with reg.lock:
        for ds in reg.of_type("Datastore"):
            add_browser(reg, ds)
        for host in reg.of_type("HostSystem"):
            add_browser(reg, host)
        defer_vm_folders(reg, storage)
        storage.listeners.append(lambda name: refresh_space(backend, name))
        for name in {reg.prop(ds, "name") for ds in reg.of_type("Datastore")}:
            refresh_space(backend, name)


def refresh_space(backend: Backend, name: str, *, stamp: bool = False) -> None:
    """Write the space account of the datastores called ``name`` into their summary/info."""
    reg = backend.registry
    usage = backend.storage.usage(name)
    with reg.lock:
        for ds in reg.of_type("Datastore"):
            props = reg.props(ds)
            if props.get("name") != name or props.get("summary") is None:
                continue
            capacity = props["summary"].capacity
            free = max(0, capacity - usage.committed)
            changes: dict[str, Any] = {
                "summary.freeSpace": free,
                "summary.uncommitted": usage.uncommitted,
            }
            if props.get("info") is not None:
                changes["info.freeSpace"] = free
                if stamp:
                    changes["info.timestamp"] = datetime.now(UTC)
            if any(_current(props, k) != v for k, v in changes.items()):
                reg.update(ds, changes)


def _current(props: Any, path: str) -> Any:
    head, _, field = path.partition(".")
    return getattr(props.get(head), field, None)


# -- lookups shared by /folder, FileManager, VirtualDiskManager and the browser -------------


def invalid_datastore(name: str, ref: MoRef | None = None) -> InvalidDatastore:
    from spherekit.schema.vim25.data import InvalidDatastore

    return faults.with_msg(InvalidDatastore(name=name, datastore=ref), f"Invalid datastore: {name}")


def datacenter_by_path(reg: Registry, path: str) -> MoRef | None:
    """The datacenter at inventory path ``path`` (``DC0``, ``F0/DC1``) below the root."""
    from spherekit.sim.service_instance import SERVICE_INSTANCE

    cur: MoRef = reg.prop(SERVICE_INSTANCE, "content").rootFolder
    for part in [p for p in path.strip("/").split("/") if p]:
        children = reg.prop(cur, "childEntity") or []
        nxt = next((c for c in children if c in reg and reg.prop(c, "name") == part), None)
        if nxt is None:
            return None
        cur = nxt
    return cur if cur.type == "Datacenter" else None


def datastore_in(reg: Registry, datacenter: MoRef, name: str) -> MoRef | None:
    """The datastore called ``name`` in ``datacenter``."""
    found: list[MoRef] = [
        ds
        for ds in reg.prop(datacenter, "datastore") or []
        if ds in reg and reg.prop(ds, "name") == name
    ]
    return found[0] if found else None


def resolve_ds_path(
    ctx: Context, name: str, datacenter: MoRef | None, param: str = "datacenter"
) -> tuple[MoRef, str, str]:
    """``[ds] path`` in ``datacenter`` -> (datastore, datastore name, path in it).

    InvalidDatastorePath if malformed, InvalidArgument if the datacenter is missing (vCenter
    needs it to tell datastores apart), InvalidDatastore if there is no such datastore."""
    reg = ctx.registry
    try:
        ds_name, rel = parse_ds_path(name)
    except ValueError:
        raise faults.invalid_datastore_path(name) from None
    if ".." in rel.replace("\\", "/").split("/"):
        raise faults.invalid_datastore_path(name, ds_name)
    if datacenter is None and ctx.backend.settings.esx:
        datacenter = next(iter(reg.of_type("Datacenter")), None)  # ESXi has only one
    if datacenter is None:
        raise faults.invalid_argument(param, "a datastore path needs its datacenter")
    if not ctx.visible(datacenter):
        raise faults.not_found(datacenter)
    if datacenter.type != "Datacenter":
        raise faults.invalid_argument(param, f"{datacenter.value} is not a datacenter")
    ds = datastore_in(reg, datacenter, ds_name)
    if ds is None:
        raise invalid_datastore(ds_name)
    return ds, ds_name, rel.rstrip("/")


def ds_path(ds_name: str, rel: str) -> str:
    """The datastore path of ``rel``: ``[LocalDS_0] a/b``."""
    return f"[{ds_name}] {rel}".rstrip() if rel else f"[{ds_name}]"


# -- handlers ----------------------------------------------------------------------------------


@handler("Datastore", "RefreshDatastore")
def refresh_datastore(ctx: Context, this: MoRef) -> None:
    name = ctx.registry.prop(this, "name")
    ctx.backend.storage.rescan(name)
    refresh_space(ctx.backend, name, stamp=True)


@handler("Datastore", "RefreshDatastoreStorageInfo")
def refresh_datastore_storage_info(ctx: Context, this: MoRef) -> None:
    refresh_datastore(ctx, this)


# the other file-handling managed types register their handlers with this module
import spherekit.sim.datastore_browser  # noqa: E402
import spherekit.sim.file_manager  # noqa: E402
import spherekit.sim.virtual_disk_manager  # noqa: E402, F401
