"""VirtualDiskManager: virtual disks as descriptor + extent files (see :mod:`spherekit.sim.vmdk`).

- CreateVirtualDisk_Task: a ``FileBackedVirtualDiskSpec`` with ``capacityKb`` > 0, a
  ``diskType`` and an ``adapterType`` (else ``InvalidArgument`` naming the field; RDM types
  need a device and answer ``NotSupported``); ``FileAlreadyExists`` if the disk exists,
  ``FileNotFound`` if its folder does not. The result is the disk's name.
- DeleteVirtualDisk_Task, CopyVirtualDisk_Task (``destSpec`` sets the copy's type and
  adapter; without it the copy is ``preallocated`` on ``busLogic``, as the API documents; the
  copy gets a new UUID), MoveVirtualDisk_Task (keeps the UUID); ``force`` replaces an existing
  destination, else ``FileAlreadyExists``.
- ExtendVirtualDisk_Task: a smaller ``newCapacityKb`` is ``InvalidArgument`` (disks never
  shrink); InflateVirtualDisk_Task and EagerZeroVirtualDisk_Task make the disk
  ``eagerZeroedThick``; ZeroFill, Shrink and Defragment change nothing a client can see.
- QueryVirtualDiskUuid / SetVirtualDiskUuid (the ``60 00 C2 9x ...-...`` form of the disk
  database; any 32 hex digits are accepted), QueryVirtualDiskGeometry,
  QueryVirtualDiskFragmentation (always 0).

A missing disk is ``FileNotFound``; a file that is not a disk descriptor ``InvalidDiskFormat``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults, vmdk
from spherekit.sim.datastore import ds_path
from spherekit.sim.file_manager import Located, locate, locate_pair
from spherekit.sim.methods import handler
from spherekit.sim.storage import Sparse

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__: list[str] = []

_CREATABLE = vmdk.DISK_TYPES - {"rdm", "rdmp", "raw", "delta"}
_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


def _read(ctx: Context, where: Located) -> vmdk.Disk:
    _ds, ds_name, rel, _dc = where
    storage = ctx.backend.storage
    if not rel.endswith(".vmdk") or not storage.exists(ds_name, rel):
        raise faults.file_not_found(ds_path(ds_name, rel))
    disk = vmdk.parse(storage.read(ds_name, rel)[: 64 * 1024 + 1])
    if disk is None:
        raise faults.with_msg(
            d.InvalidDiskFormat(), f"{ds_path(ds_name, rel)} is not a virtual disk descriptor"
        )
    return disk


def _extent(rel: str, disk: vmdk.Disk) -> str:
    folder = rel.rpartition("/")[0]
    return f"{folder}/{disk.extent}" if folder else disk.extent


def _write(ctx: Context, ds_name: str, rel: str, disk: vmdk.Disk, extent: bool) -> None:
    storage = ctx.backend.storage
    storage.write(ds_name, rel, vmdk.render(disk))
    if extent:
        storage.write(ds_name, _extent(rel, disk), Sparse(disk.capacity_kb * 1024))


def _remove(ctx: Context, ds_name: str, rel: str, disk: vmdk.Disk) -> None:
    storage = ctx.backend.storage
    ext = _extent(rel, disk)
    if storage.exists(ds_name, ext):
        storage.delete(ds_name, ext)
    storage.delete(ds_name, rel)


def _uuid(ctx: Context) -> str:
    return vmdk.ddb_uuid("6000c29" + ctx.registry.uuid().replace("-", "")[7:])


def _task(ctx: Context, this: MoRef, where: Located, method: str, work: Callable[[], Any]) -> MoRef:
    dc = where[3]
    entity = dc if dc is not None and dc in ctx.registry else this
    desc = "VirtualDiskManager." + method[0].lower() + method[1:].removesuffix("_Task")
    return ctx.backend.tasks.start(ctx, entity, method, desc, work)


def _check_spec(spec: Any, create: bool) -> None:
    if create and not isinstance(spec, d.FileBackedVirtualDiskSpec):
        if isinstance(spec, d.DeviceBackedVirtualDiskSpec):
            raise faults.not_supported("raw disk mappings are not simulated")
        raise faults.invalid_argument("spec", "a FileBackedVirtualDiskSpec is needed")
    if spec.diskType not in vmdk.DISK_TYPES:
        raise faults.invalid_argument("diskType", f"unknown disk type {spec.diskType!r}")
    if spec.diskType not in _CREATABLE:
        raise faults.not_supported(f"disks of type {spec.diskType} are not simulated")
    if spec.adapterType not in vmdk.ADAPTERS:
        raise faults.invalid_argument("adapterType", f"unknown adapter {spec.adapterType!r}")
    if create and (spec.capacityKb is None or spec.capacityKb <= 0):
        raise faults.invalid_argument("capacityKb", "the capacity must be greater than 0")


@handler("VirtualDiskManager", "CreateVirtualDisk_Task")
def create_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, spec: Any, datacenter: MoRef | None = None
) -> MoRef:
    where = locate(ctx, name, datacenter)
    _check_spec(spec, create=True)
    _ds, ds_name, rel, _dc = where

    def work() -> str:
        storage = ctx.backend.storage
        if not rel.endswith(".vmdk"):
            raise faults.invalid_argument("name", "a disk's name ends in .vmdk")
        disk = vmdk.Disk(
            capacity_kb=spec.capacityKb,
            disk_type=spec.diskType,
            adapter_type=spec.adapterType,
            uuid=_uuid(ctx),
            extent=vmdk.extent_name(rel.rpartition("/")[2]),
        )
        for f in (rel, _extent(rel, disk)):
            if storage.exists(ds_name, f):
                raise faults.file_already_exists(ds_path(ds_name, f))
        folder = rel.rpartition("/")[0]
        if folder and not storage.is_dir(ds_name, folder):
            raise faults.file_not_found(ds_path(ds_name, folder))
        _write(ctx, ds_name, rel, disk, extent=True)
        return name

    return _task(ctx, this, where, "CreateVirtualDisk_Task", work)


@handler("VirtualDiskManager", "DeleteVirtualDisk_Task")
def delete_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    where = locate(ctx, name, datacenter)

    def work() -> None:
        _remove(ctx, where[1], where[2], _read(ctx, where))

    return _task(ctx, this, where, "DeleteVirtualDisk_Task", work)


def _transfer(
    ctx: Context,
    this: MoRef,
    method: str,
    source: Located,
    dest: Located,
    force: bool | None,
    spec: Any,
) -> MoRef:
    move = method == "MoveVirtualDisk_Task"
    if spec is not None:
        _check_spec(spec, create=False)

    def work() -> None:
        storage = ctx.backend.storage
        disk = _read(ctx, source)
        src_name, src_rel = source[1], source[2]
        dst_name, dst_rel = dest[1], dest[2]
        if not dst_rel.endswith(".vmdk"):
            raise faults.invalid_argument("destName", "a disk's name ends in .vmdk")
        if (src_name, src_rel) == (dst_name, dst_rel):
            raise faults.file_already_exists(ds_path(dst_name, dst_rel))
        if storage.exists(dst_name, dst_rel):
            if not force:
                raise faults.file_already_exists(ds_path(dst_name, dst_rel))
            old = vmdk.parse(storage.read(dst_name, dst_rel)[: 64 * 1024 + 1])
            if old is not None:
                _remove(ctx, dst_name, dst_rel, old)
            else:
                storage.delete(dst_name, dst_rel)
        folder = dst_rel.rpartition("/")[0]
        if folder and not storage.is_dir(dst_name, folder):
            raise faults.file_not_found(ds_path(dst_name, folder))
        new = disk.with_(extent=vmdk.extent_name(dst_rel.rpartition("/")[2]))
        if not move:
            new = new.with_(uuid=_uuid(ctx))
            if spec is not None:
                new = new.with_(disk_type=spec.diskType, adapter_type=spec.adapterType)
            else:
                new = new.with_(disk_type="preallocated", adapter_type="busLogic")
        src_extent, dst_extent = _extent(src_rel, disk), _extent(dst_rel, new)
        storage.write(dst_name, dst_rel, vmdk.render(new))
        if storage.exists(src_name, src_extent):
            pair = ((src_name, src_extent), (dst_name, dst_extent))
            (storage.move if move else storage.copy)(*pair)
        else:
            storage.write(dst_name, dst_extent, Sparse(new.capacity_kb * 1024))
        if move:
            storage.delete(src_name, src_rel)

    return _task(ctx, this, source, method, work)


@handler("VirtualDiskManager", "CopyVirtualDisk_Task")
def copy_virtual_disk(
    ctx: Context,
    this: MoRef,
    *,
    sourceName: str,
    destName: str,
    sourceDatacenter: MoRef | None = None,
    destDatacenter: MoRef | None = None,
    destSpec: Any = None,
    force: bool | None = None,
) -> MoRef:
    source, dest = locate_pair(ctx, sourceName, sourceDatacenter, destName, destDatacenter,
                               ("sourceDatacenter", "destDatacenter"))  # fmt: skip
    return _transfer(ctx, this, "CopyVirtualDisk_Task", source, dest, force, destSpec)


@handler("VirtualDiskManager", "MoveVirtualDisk_Task")
def move_virtual_disk(
    ctx: Context,
    this: MoRef,
    *,
    sourceName: str,
    destName: str,
    sourceDatacenter: MoRef | None = None,
    destDatacenter: MoRef | None = None,
    force: bool | None = None,
    profile: list[Any] | None = None,
) -> MoRef:
    source, dest = locate_pair(ctx, sourceName, sourceDatacenter, destName, destDatacenter,
                               ("sourceDatacenter", "destDatacenter"))  # fmt: skip
    return _transfer(ctx, this, "MoveVirtualDisk_Task", source, dest, force, None)


@handler("VirtualDiskManager", "ExtendVirtualDisk_Task")
def extend_virtual_disk(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    newCapacityKb: int,
    datacenter: MoRef | None = None,
    eagerZero: bool | None = None,
) -> MoRef:
    where = locate(ctx, name, datacenter)

    def work() -> None:
        disk = _read(ctx, where)
        if newCapacityKb < disk.capacity_kb:
            raise faults.invalid_argument(
                "newCapacityKb",
                f"{newCapacityKb} KB is less than the disk's {disk.capacity_kb} KB; "
                "disks cannot shrink",
            )
        grown = disk.with_(capacity_kb=newCapacityKb)
        if eagerZero and not grown.thin:
            grown = grown.with_(disk_type="eagerZeroedThick")
        _write(ctx, where[1], where[2], grown, extent=False)
        ext = _extent(where[2], grown)
        if ctx.backend.storage.exists(where[1], ext):
            ctx.backend.storage.resize(where[1], ext, newCapacityKb * 1024)

    return _task(ctx, this, where, "ExtendVirtualDisk_Task", work)


def _retype(
    ctx: Context, this: MoRef, name: str, datacenter: MoRef | None, method: str, to: str | None
) -> MoRef:
    where = locate(ctx, name, datacenter)

    def work() -> None:
        disk = _read(ctx, where)
        if to is not None and disk.disk_type != to:
            _write(ctx, where[1], where[2], disk.with_(disk_type=to), extent=False)

    return _task(ctx, this, where, method, work)


@handler("VirtualDiskManager", "InflateVirtualDisk_Task")
def inflate_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    return _retype(ctx, this, name, datacenter, "InflateVirtualDisk_Task", "eagerZeroedThick")


@handler("VirtualDiskManager", "EagerZeroVirtualDisk_Task")
def eager_zero_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    return _retype(ctx, this, name, datacenter, "EagerZeroVirtualDisk_Task", "eagerZeroedThick")


@handler("VirtualDiskManager", "ZeroFillVirtualDisk_Task")
def zero_fill_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    return _retype(ctx, this, name, datacenter, "ZeroFillVirtualDisk_Task", None)


@handler("VirtualDiskManager", "ShrinkVirtualDisk_Task")
def shrink_virtual_disk(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    datacenter: MoRef | None = None,
    copy: bool | None = None,
) -> MoRef:
    return _retype(ctx, this, name, datacenter, "ShrinkVirtualDisk_Task", None)


@handler("VirtualDiskManager", "DefragmentVirtualDisk_Task")
def defragment_virtual_disk(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> MoRef:
    return _retype(ctx, this, name, datacenter, "DefragmentVirtualDisk_Task", None)


@handler("VirtualDiskManager", "QueryVirtualDiskUuid")
def query_virtual_disk_uuid(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> str:
    return _read(ctx, locate(ctx, name, datacenter)).uuid


@handler("VirtualDiskManager", "SetVirtualDiskUuid")
def set_virtual_disk_uuid(
    ctx: Context, this: MoRef, *, name: str, uuid: str, datacenter: MoRef | None = None
) -> None:
    where = locate(ctx, name, datacenter)
    hexed = uuid.replace("-", "").replace(" ", "")
    if not _HEX.match(hexed):
        raise faults.invalid_argument("uuid", f"{uuid!r} is not 16 bytes of hex")
    disk = _read(ctx, where)
    _write(ctx, where[1], where[2], disk.with_(uuid=vmdk.ddb_uuid(hexed)), extent=False)


@handler("VirtualDiskManager", "QueryVirtualDiskGeometry")
def query_virtual_disk_geometry(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> d.HostDiskDimensionsChs:
    cylinders, heads, sectors = _read(ctx, locate(ctx, name, datacenter)).geometry()
    return d.HostDiskDimensionsChs(cylinder=cylinders, head=heads, sector=sectors)


@handler("VirtualDiskManager", "QueryVirtualDiskFragmentation")
def query_virtual_disk_fragmentation(
    ctx: Context, this: MoRef, *, name: str, datacenter: MoRef | None = None
) -> int:
    _read(ctx, locate(ctx, name, datacenter))
    return 0
