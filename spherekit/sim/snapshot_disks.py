"""Snapshot disks: vSphere's redo-log chains, as the snapshot module changes them.

A VM disk's backing names its current file and, through ``parent``, the chain below it
(``vm-000002.vmdk`` -> ``vm-000001.vmdk`` -> ``vm.vmdk``). :class:`Disks` holds the chains
of a VM's configuration and of its snapshots' configurations as one graph per device key
(file -> parent file), merges files as vSphere's consolidation does and rebuilds the
backings; :func:`new_delta` starts a redo log (written to the datastore) on top of a
backing. Independent disks take no part in snapshots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.sim.storage import parse_ds_path
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import VirtualMachineConfigInfo
    from spherekit.sim.backend import Context

__all__ = ["Disks", "delete_file", "disks", "new_delta", "state_file", "with_disks", "write_file"]

_INDEPENDENT = ("independent_persistent", "independent_nonpersistent")


def disks(config: VirtualMachineConfigInfo | None) -> dict[int, Any]:
    """Device key -> backing of the snapshot-able disks of ``config``."""
    from spherekit.schema.vim25.data import VirtualDisk

    out: dict[int, Any] = {}
    hardware = getattr(config, "hardware", None)
    for dev in getattr(hardware, "device", None) or []:
        backing = dev.backing if isinstance(dev, VirtualDisk) else None
        if getattr(backing, "fileName", None) and getattr(backing, "diskMode", "") not in (
            _INDEPENDENT
        ):
            out[dev.key] = backing
    return out


def with_disks(config: Any, backings: dict[int, Any]) -> Any:
    if not backings:
        return config
    devices = [
        clone(d, backing=backings[d.key]) if d.key in backings else d
        for d in config.hardware.device
    ]
    return clone(config, hardware=clone(config.hardware, device=devices))


class Disks:
    """The redo-log graph of one VM's disks: per device key, file -> parent file and
    file -> its backing without parent; configs are rebuilt from their top files."""

    def __init__(self, configs: list[Any]) -> None:
        self.parent: dict[int, dict[str, str | None]] = {}
        self.leaf: dict[int, dict[str, Any]] = {}
        #: files merged into their parent: child -> the file that took its place
        self.merged: dict[int, dict[str, str]] = {}
        for config in configs:
            for key, backing in disks(config).items():
                b = backing
                while b is not None:
                    self.parent.setdefault(key, {})[b.fileName] = getattr(
                        b.parent, "fileName", None
                    )
                    self.leaf.setdefault(key, {})[b.fileName] = clone(b, parent=None)
                    b = getattr(b, "parent", None)

    def backing(self, key: int, name: str) -> Any:
        up = self.parent[key].get(name)
        return clone(self.leaf[key][name], parent=self.backing(key, up) if up else None)

    def top(self, key: int, name: str) -> str:
        merged = self.merged.get(key, {})
        while name in merged:
            name = merged[name]
        return name

    def rebuild(self, config: Any) -> Any:
        found = disks(config)
        return with_disks(
            config, {k: self.backing(k, self.top(k, b.fileName)) for k, b in found.items()}
        )

    def used(self) -> set[str]:
        return {name for files in self.parent.values() for name in files}

    def consolidate(self, key: int, tops: set[str]) -> list[str]:
        """Merge, until nothing changes, every file that is no longer a snapshot's or the
        VM's own (not in ``tops``) with its only child, and drop such a file that has no
        child; return the files that are gone."""
        parents = self.parent.get(key, {})
        gone: list[str] = []
        changed = True
        while changed:
            changed = False
            for name in list(parents):
                if name in tops or name not in parents:
                    continue
                children = [f for f, p in parents.items() if p == name]
                if len(children) == 1:
                    child = children[0]
                    for f, p in list(parents.items()):
                        if p == child:
                            parents[f] = name
                    del parents[child]
                    del self.leaf[key][child]
                    self.merged.setdefault(key, {})[child] = name
                    if child in tops:
                        tops.discard(child)
                        tops.add(name)
                    gone.append(child)
                    changed = True
                elif not children and parents[name] is not None:
                    del parents[name]
                    del self.leaf[key][name]
                    gone.append(name)
                    changed = True
        return gone


def delete_file(ctx: Context, ds_path: str) -> None:
    storage = ctx.backend.storage
    try:
        ds, rel = parse_ds_path(ds_path)
        if storage.exists(ds, rel):
            storage.delete(ds, rel)
    except (ValueError, OSError):
        pass


def write_file(ctx: Context, ds_path: str, text: str) -> None:
    ds, rel = parse_ds_path(ds_path)
    ctx.backend.storage.write(ds, rel, text.encode())


def new_delta(ctx: Context, backing: Any, used: set[str]) -> Any:
    """A new redo log on top of ``backing``: ``vm.vmdk`` -> ``vm-000001.vmdk``."""
    base = backing
    while getattr(base, "parent", None) is not None:
        base = base.parent
    stem = base.fileName.removesuffix(".vmdk")
    n = 1
    while (
        f"{stem}-{n:06d}.vmdk" in used
        or ctx.backend.storage.resolve(f"{stem}-{n:06d}.vmdk").exists()
    ):
        n += 1
    name = f"{stem}-{n:06d}.vmdk"
    used.add(name)
    parent_hint = backing.fileName.partition("] ")[2].rpartition("/")[2] or backing.fileName
    write_file(
        ctx,
        name,
        '# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=fffffffe\n'
        f'parentCID=ffffffff\ncreateType="vmfsSparse"\nparentFileNameHint="{parent_hint}"\n',
    )
    return clone(backing, fileName=name, parent=backing, deltaDiskFormat="redoLogFormat")


def state_file(config: Any, uid: int, ext: str) -> str:
    files = config.files
    directory = files.snapshotDirectory or files.vmPathName.rpartition("/")[0] + "/"
    stem = files.vmPathName.rpartition("/")[2].removesuffix(".vmx")
    return f"{directory}{stem}-Snapshot{uid}.{ext}"
