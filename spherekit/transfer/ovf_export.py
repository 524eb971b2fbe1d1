"""Exporting a VM or template to an OVF package (a directory) or an OVA, with a manifest.

:func:`export_vm`, inside an :class:`~spherekit.compute.ops.Operation`: ``ExportVm`` (the
undo aborts the lease), wait for the lease (push-based), keep it alive with true progress,
download each disk's device URL straight to a file (SHA-256 computed on the way, nothing
held in memory), ``OvfManager.CreateDescriptor`` with ``ovfFiles`` describing the files
downloaded, write the ``.ovf`` and a ``.mf`` (SHA256 lines), and for an OVA pack them into
a tar with the descriptor first and the manifest second (as the OVA format requires), then
``HttpNfcLeaseComplete``. On any failure the lease is aborted and every local file the
export wrote is removed.

An OVA's descriptor must come first but can only be written once the disks' sizes are
known, so the disks are downloaded into a staging directory next to the destination (same
file system) and packed from there; the staging directory is always removed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spherekit import property as prop
from spherekit.errors import SpherekitError, UsageError
from spherekit.schema.base import MoRef
from spherekit.transfer import http
from spherekit.transfer.lease import Lease, LeaseError
from spherekit.transfer.ovf_import import PercentCallback

if TYPE_CHECKING:
    from spherekit.compute.ops import Operation

__all__ = ["ExportError", "ExportTarget", "Exported", "check_export", "export_vm"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(SpherekitError):
    """The server could not describe the exported VM (CreateDescriptor errors)."""


@dataclass(frozen=True)
class Exported:
    """Where the package went and what is in it: ``(file name, size, sha256)``."""

    path: Path
    files: list[tuple[str, int, str]]

    @property
    def bytes(self) -> int:
        return sum(f[1] for f in self.files)


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "vm"


class _Local:
    """The local files an export writes, removed again if it fails."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.dirs: list[Path] = []

    def file(self, path: Path) -> Path:
        self.files.append(path)
        return path

    def remove(self) -> None:
        for f in reversed(self.files):
            f.unlink(missing_ok=True)
        for d in reversed(self.dirs):
            shutil.rmtree(d, ignore_errors=True)
        self.files, self.dirs = [], []


def _check_destination(dest: Path, name: str, overwrite: bool) -> bool:
    """True for an OVA destination; UsageError for one that would clobber something."""
    if dest.suffix.lower() == ".ova":
        if not dest.parent.is_dir():
            raise UsageError(f"{dest.parent} does not exist; create it or pick another path")
        if dest.exists() and not overwrite:
            raise UsageError(f"{dest} exists; remove it or pass overwrite=True")
        return True
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file; export to a directory or to a path ending in .ova")
    if (dest / f"{name}.ovf").exists() and not overwrite:
        raise UsageError(f"{dest / (name + '.ovf')} exists; remove it or pass overwrite=True")
    if not dest.exists() and not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} does not exist; create it or pick another path")
    return False


@dataclass(frozen=True)
class ExportTarget:
    """A checked export: the VM, its package name, where it goes, OVA or directory."""

    vm: MoRef
    name: str
    dest: Path
    is_ova: bool


def check_export(
    session: Any, vm: MoRef, destination: str | Path, *, overwrite: bool = False
) -> ExportTarget:
    """Reads only: UsageError for a VM that is not powered off or a destination that
    would clobber something, before anything is written."""
    spec = prop.filter_spec("VirtualMachine", ["name", "runtime.powerState"], [vm])
    rows = prop.retrieve(session, spec)
    if not rows:
        raise UsageError(f"{vm} does not exist")
    values = rows[0][1]
    power = values.get("runtime.powerState")
    state = str(getattr(power, "value", power))
    if state != "poweredOff":
        raise UsageError(f"{values.get('name')!r} ({vm}) is {state}; power it off to export it")
    dest = Path(destination)
    name = _safe(str(values.get("name") or vm.value))
    return ExportTarget(vm, name, dest, _check_destination(dest, name, overwrite))


def export_vm(
    op: Operation,
    target: ExportTarget,
    *,
    on_progress: PercentCallback | None = None,
    ready_timeout: float = 600.0,
) -> Exported:
    """Export a checked target (see :func:`check_export` and the module documentation)."""
    session = op.session
    vm, name, dest, is_ova = target.vm, target.name, target.dest, target.is_ova
    local = _Local()
    op.on_undo("remove the partial local files", local.remove)
    lease_ref: MoRef = op.write(vm, "ExportVm")
    lease = Lease(op, lease_ref)
    op.on_undo(f"abort {lease_ref}", lambda: lease.abort("spherekit: the export failed"))
    if op.plan:
        op.write(lease_ref, "HttpNfcLeaseComplete")
        return Exported(dest, [])
    with lease:
        info = lease.wait_ready(ready_timeout)
        lease.start_keepalive()
        if is_ova:
            work = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
            local.dirs.append(work)
        else:
            work = dest
            if not dest.exists():
                local.dirs.append(dest)
        work.mkdir(exist_ok=True)
        keyed = _download(session, lease, info, work, name, local, on_progress)
        descriptor = _descriptor(op, vm, name, keyed)
        disks = [d[1:] for d in keyed]
        ovf_name, mf_name = f"{name}.ovf", f"{name}.mf"
        entries = [(ovf_name, len(descriptor), hashlib.sha256(descriptor).hexdigest()), *disks]
        manifest = "".join(f"SHA256({n})= {h}\n" for n, _s, h in entries).encode()
        local.file(work / ovf_name).write_bytes(descriptor)
        local.file(work / mf_name).write_bytes(manifest)
        if is_ova:
            _pack(dest, work, [ovf_name, mf_name, *(d[0] for d in disks)], local)
        lease.complete()
    if is_ova:
        shutil.rmtree(work, ignore_errors=True)
    op.forget_undo("remove the partial local files")
    total = sum(d[1] for d in disks)
    if on_progress is not None:
        on_progress(100, total, total)
    files = [*entries, (mf_name, len(manifest), hashlib.sha256(manifest).hexdigest())]
    return Exported(dest, files)


def _download(
    session: Any,
    lease: Lease,
    info: Any,
    work: Path,
    name: str,
    local: _Local,
    on_progress: PercentCallback | None,
) -> list[tuple[str, str, int, str]]:
    """(device key, file name, size, sha256) of each disk downloaded."""
    urls = [u for u in info.deviceUrl or () if u.disk is not False]
    if not urls:
        raise LeaseError(f"{lease.ref} offers no disk to download")
    capacity = int(info.totalDiskCapacityInKB or 0) * 1024
    expected = [int(u.fileSize) if u.fileSize else capacity // len(urls) for u in urls]
    total = max(1, sum(expected))
    done_before = 0
    out = []
    for n, (url, size) in enumerate(zip(urls, expected, strict=True), 1):
        fname = f"{name}-disk{n}.vmdk"
        progress = lease.file_progress(done_before, total, on_progress)
        with local.file(work / fname).open("wb") as f:
            got = http.get(session, url.url, f.write, size=size or None, on_progress=progress)
        out.append((url.key, fname, got.size, got.sha256))
        done_before += got.size
        lease.check()
    return out


def _descriptor(
    op: Operation, vm: MoRef, name: str, disks: list[tuple[str, str, int, str]]
) -> bytes:
    from spherekit.schema.vim25.data import OvfCreateDescriptorParams, OvfFile

    assert op.session.content.ovfManager is not None
    files = [OvfFile(deviceId=key, path=fname, size=size) for key, fname, size, _h in disks]
    result = op.session.call(
        op.session.content.ovfManager, "CreateDescriptor", obj=vm,
        cdp=OvfCreateDescriptorParams(name=name, description="", includeImageFiles=False,
                                      ovfFiles=files),
    )  # fmt: skip
    errors = [getattr(e, "localizedMessage", None) or str(e) for e in result.error or ()]
    if errors or not result.ovfDescriptor:
        raise ExportError(f"CreateDescriptor of {vm} failed: {'; '.join(errors) or 'empty'}")
    text: str = result.ovfDescriptor
    return text.encode("utf-8")


def _pack(dest: Path, work: Path, names: list[str], local: _Local) -> None:
    """Write the OVA: a USTAR tar, members in the order given (descriptor first)."""
    partial = local.file(dest.with_name(dest.name + ".partial"))
    with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
        for n in names:
            p = work / n
            info = tarfile.TarInfo(n)
            info.size = p.stat().st_size
            info.mode = 0o644
            info.mtime = int(p.stat().st_mtime)
            with p.open("rb") as f:
                tar.addfile(info, f)
    partial.replace(dest)
    local.file(dest)
