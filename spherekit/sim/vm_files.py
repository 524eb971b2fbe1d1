"""The files in a VM's folder: ``.vmx``, ``.nvram``, ``vmware.log`` and its disks.

The VMs of the initial inventory get their folder *deferred* (see
:meth:`spherekit.sim.storage.Storage.defer`): the files are written from the VM's current
configuration the first time anything touches the folder, so building 10,000 VMs writes no
file. Code that creates a VM later (CreateVM_Task, clones, imports) can write the same set
at once with :func:`write_vm_folder`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import vmdk
from spherekit.sim.storage import FileData, Sparse, Storage, Usage, parse_ds_path

if TYPE_CHECKING:
    from spherekit.sim.registry import Registry

__all__ = ["defer_vm_folders", "vm_folder_files", "write_vm_folder"]

#: an EFI/BIOS NVRAM image is 8684 bytes on ESXi
NVRAM = b"MRVN" + bytes(8680)


def _log(name: str) -> bytes:
    return (
        "vmx| I005: Log for VMware ESX pid=1 version=8.0.2 build=build-22380479 option=Release\n"
        f'vmx| I005: DICT displayName = "{name}"\n'
        "vmx| I005: spherekit.sim: this VM runs no guest\n"
    ).encode()


def vm_folder_files(config: Any) -> tuple[str, dict[str, FileData]]:
    """(datastore path of the folder, {file name: content}) of a VM whose
    ``VirtualMachineConfigInfo`` is ``config``. Disks whose files live elsewhere are left
    out (their own folder holds them)."""
    from spherekit.sim.vmx import vmx_text

    vmx_path = config.files.vmPathName
    ds, rel = parse_ds_path(vmx_path)
    folder, _, vmx_name = rel.rpartition("/")
    directory = f"[{ds}] {folder}/" if folder else f"[{ds}] "
    name = config.name
    files: dict[str, FileData] = {
        vmx_name: vmx_text(config, directory),
        vmx_name.removesuffix(".vmx") + ".nvram": NVRAM,
        "vmware.log": _log(name),
    }
    version = int((config.version or "vmx-4").removeprefix("vmx-") or 4)
    for dev in getattr(config.hardware, "device", None) or []:
        backing = getattr(dev, "backing", None)
        file_name = getattr(backing, "fileName", None)
        if not file_name or not file_name.endswith(".vmdk") or dev.capacityInKB is None:
            continue
        try:
            disk_ds, disk_rel = parse_ds_path(file_name)
        except ValueError:
            continue
        disk_folder, _, disk_name = disk_rel.rpartition("/")
        if disk_ds != ds or disk_folder != folder:
            continue
        thin = bool(getattr(backing, "thinProvisioned", False))
        eager = bool(getattr(backing, "eagerlyScrub", False))
        disk = vmdk.Disk(
            capacity_kb=dev.capacityInKB,
            disk_type="thin" if thin else ("eagerZeroedThick" if eager else "preallocated"),
            adapter_type="lsiLogic",
            uuid=vmdk.ddb_uuid(str(getattr(backing, "uuid", "") or "")),
            extent=vmdk.extent_name(disk_name),
            hardware_version=min(version, 21),
        )
        files[disk_name] = vmdk.render(disk)
        files[disk.extent] = Sparse(dev.capacityInKB * 1024)
    return directory, files


def write_vm_folder(storage: Storage, config: Any) -> None:
    """Write a VM's folder now (files that exist already are replaced)."""
    directory, files = vm_folder_files(config)
    ds, folder = parse_ds_path(directory)
    for name, data in files.items():
        storage.write(ds, f"{folder}/{name}" if folder else name, data)


def _estimate(files: dict[str, FileData]) -> Usage:
    total = Usage()
    thin = {
        vmdk.extent_name(n)
        for n, d in files.items()
        if isinstance(d, bytes) and n.endswith(".vmdk") and b'thinProvisioned = "1"' in d
    }
    for name, data in files.items():
        if isinstance(data, Sparse):
            total += Usage(0, data.size) if name in thin else Usage(data.size, 0)
        else:
            total += Usage(len(data), 0)
    return total


def defer_vm_folders(registry: Registry, storage: Storage) -> None:
    """Defer the folder of every VM in ``registry`` whose folder is not on disk yet.

    Each folder is counted at the usage of the first VM's real files until it is written
    (the files of the VMs of one inventory differ only in a few bytes of names)."""
    estimates: dict[int, Usage] = {}
    existing: dict[str, set[str]] = {}
    for ref in registry.of_type("VirtualMachine"):
        config = registry.prop(ref, "config")
        files_info = getattr(config, "files", None)
        vmx_path = getattr(files_info, "vmPathName", None)
        if not vmx_path:
            continue
        try:
            ds, rel = parse_ds_path(vmx_path)
        except ValueError:
            continue
        folder = rel.rpartition("/")[0]
        if not folder or "/" in folder:
            continue
        on_disk = existing.get(ds)
        if on_disk is None:
            on_disk = existing[ds] = storage.folders(ds)
        if folder in on_disk:
            continue
        devices = getattr(config.hardware, "device", None) or []
        key = len(devices)
        for dev in devices:
            key += getattr(dev, "capacityInKB", 0) or 0
        usage = estimates.get(key)
        if usage is None:
            usage = estimates[key] = _estimate(vm_folder_files(config)[1])
        storage.defer(ds, folder, produce, (registry, ref), usage, check=False)


def produce(arg: tuple[Registry, MoRef]) -> dict[str, FileData]:
    """The files of a deferred VM folder, from the VM's configuration now."""
    registry, ref = arg
    obj = registry.get(ref)
    if obj is None:
        return {}
    return vm_folder_files(obj.props["config"])[1]
