"""Images from OVA / OVF packages, and back: :func:`import_image` and :func:`export_image`.

Import (see :mod:`spherekit.transfer.ovf_import` for the transfer itself)::

    result = import_image(session, "ubuntu.ova", journal=journal)   # or an https:// URL
    result.image.ref, result.uploaded                                # a template

- **Content-addressed names.** The image's name defaults to ``<OVF name>-<first 12 hex of
  the SHA-256 of the descriptor and manifest>``. If a template of that name already exists
  in the datacenter it is returned and nothing is uploaded (``uploaded=False``).
- **One upload per image.** Imports of one name in one process are serialized by a lock
  keyed by server, datacenter and name, and the existence check is repeated once the lock is
  held, so concurrent imports of one image upload it once. (Across processes, the second
  import finds a VM of that name that is not a template yet and is refused with a message
  saying so: nothing is uploaded twice, nothing is overwritten.)
- **Placement** is :mod:`spherekit.compute.placement`'s: what is not given is chosen (the
  compute resource and host with the most free memory, its root pool, the accessible
  datastore with the most free space, the datacenter's VM folder) and reported.
- **Bad input** (a missing or corrupt package or manifest, a descriptor the server refuses,
  an OVF network that does not exist and is not mapped, an unknown placement target) raises
  a :class:`~spherekit.errors.UsageError` before anything is written.
- **Failure** at any step after ``ImportVApp`` aborts the lease and removes the partial VM
  (checked); the journal shows the undo. The result is marked as a template last.
- ``plan=True`` writes nothing and lists the calls (``result.planned``).

Export: :func:`export_image` writes a VM or template to ``*.ova`` or a directory (``.ovf``,
``.mf`` with SHA256 lines, disks) through ``ExportVm``; see
:mod:`spherekit.transfer.ovf_export`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from spherekit.compute.images import Image, find_image
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.compute.placement import (
    Inventory,
    Placement,
    PlacementSpec,
    Target,
    read_inventory,
    resolve,
)
from spherekit.errors import UsageError
from spherekit.property import fetch
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.transfer.ova import open_package
from spherekit.transfer.ovf_export import Exported, check_export, export_vm
from spherekit.transfer.ovf_import import PercentCallback, describe, import_package, prepare

if TYPE_CHECKING:
    from spherekit.session import Session
    from spherekit.wire.transport import Transport

__all__ = ["ImportResult", "export_image", "image_name", "import_image"]

#: vSphere's limit on entity names
MAX_NAME = 80
_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


@dataclass
class ImportResult:
    """What :func:`import_image` did. ``image`` is None in plan mode."""

    name: str
    ref: MoRef
    image: Image | None
    digest: str
    uploaded: bool
    bytes: int = 0
    placement: Placement | None = None
    warnings: list[str] = field(default_factory=list)
    planned: list[PlannedCall] = field(default_factory=list)


def image_name(ovf_name: str, digest: str) -> str:
    """``<ovf name>-<12 hex>``, within vSphere's 80-character limit."""
    base = re.sub(r"\s+", "-", ovf_name.strip()) or "image"
    return f"{base[: MAX_NAME - 13]}-{digest[:12]}"


def _lock(session: Session, datacenter: MoRef, name: str) -> threading.Lock:
    server = session.content.about.instanceUuid or str(id(session))
    key = (server, datacenter.value, name)
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(key, threading.Lock())


def _networks(inventory: Inventory, datacenter: MoRef) -> dict[MoRef, str]:
    """The datacenter's networks (name by reference), from the placement inventory."""
    return {
        ref: inventory.name(ref)
        for ref in inventory.of("Network")
        if inventory.datacenter_of(ref) == datacenter
    }


def _existing(session: Session, datacenter: MoRef, name: str) -> tuple[MoRef, bool] | None:
    """(VM, is it a template) for a VM called ``name`` in the datacenter."""
    rows = fetch(session, "VirtualMachine", ["name", "config.template"], root=datacenter)
    for ref, values in rows:
        if values.get("name") == name:
            return ref, bool(values.get("config.template"))
    return None


def _destroy(op: Operation, vm: MoRef) -> None:
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    try:
        op.write(vm, "Destroy_Task")
    except ManagedObjectNotFound:
        # the wait may find the VM gone before it watches it; gone is what was wanted
        if _gone(op.session, vm):
            return
        raise


def _gone(session: Session, vm: MoRef) -> bool:
    return all(ref != vm for ref, _ in fetch(session, "VirtualMachine", ["name"]))


def import_image(
    session: Session,
    source: str | Path,
    *,
    name: str | None = None,
    datacenter: Target = None,
    cluster: Target = None,
    host: Target = None,
    pool: Target = None,
    datastore: Target = None,
    folder: Target = None,
    network_mapping: Mapping[str, str | MoRef] | None = None,
    journal: Journal | None = None,
    plan: bool = False,
    on_progress: PercentCallback | None = None,
    transport: Transport | None = None,
) -> ImportResult:
    """Import an OVA / OVF (local path or http(s) URL) as a template; see the module doc.

    ``network_mapping`` maps OVF network names to vSphere network names (or MoRefs); an
    OVF network left out maps to the network of the same name. ``on_progress(percent,
    bytes_done, bytes_total)`` reports the upload. ``transport`` fetches a URL source
    (default: verified HTTPS to its host).
    """
    journal = journal if journal is not None else Journal()
    with open_package(source, transport=transport) as package:
        summary = describe(session, package)
        digest = package.digest
        chosen = name or image_name(summary.name, digest)
        if not chosen or len(chosen) > MAX_NAME:
            raise UsageError(f"image name {chosen!r} must have 1 to {MAX_NAME} characters")
        spec = PlacementSpec(datacenter=datacenter, cluster=cluster, host=host, pool=pool,
                             datastore=datastore, folder=folder)  # fmt: skip
        inventory = read_inventory(session)
        where = resolve(inventory, spec)
        with _lock(session, where.datacenter, chosen):
            found = _existing(session, where.datacenter, chosen)
            if found is not None:
                ref, is_template = found
                if not is_template:
                    raise UsageError(
                        f"a VM named {chosen!r} ({ref}) exists and is not a template: another "
                        "import of this image may be in progress, or a VM took the name; wait "
                        "and retry, or pass name="
                    )
                image = find_image(session, ref)
                return ImportResult(chosen, ref, image, digest, False, 0, where,
                                    summary.warnings)  # fmt: skip
            prepared = prepare(
                session, package, name=chosen, datacenter=where.datacenter, pool=where.pool,
                datastore=where.datastore, host=where.host, network_mapping=network_mapping,
                ovf_networks=summary.networks,
                networks=_networks(inventory, where.datacenter),
            )  # fmt: skip
            with Operation(session, journal, f"import image {chosen}", plan=plan) as op:
                done = import_package(
                    op, package, prepared, name=chosen, pool=where.pool, folder=where.folder,
                    host=where.host, on_progress=on_progress,
                )  # fmt: skip
                vm = done.vm
                destroy = f"destroy the imported VM {vm}"
                op.on_undo(destroy, lambda: _destroy(op, vm))
                op.write(vm, "MarkAsTemplate")
                op.forget_undo(destroy)
    warnings = summary.warnings + prepared.warnings
    if plan:
        return ImportResult(chosen, vm, None, digest, False, 0, where, warnings, op.planned)
    return ImportResult(chosen, vm, find_image(session, vm), digest, True, done.bytes, where,
                        warnings)  # fmt: skip


def export_image(
    session: Session,
    vm: str | MoRef | ManagedObject | Image,
    destination: str | Path,
    *,
    overwrite: bool = False,
    journal: Journal | None = None,
    plan: bool = False,
    on_progress: PercentCallback | None = None,
) -> Exported:
    """Export a template or powered-off VM to ``destination``: ``*.ova`` or a directory
    (``<name>.ovf``, ``<name>.mf``, ``<name>-disk<N>.vmdk``)."""
    journal = journal if journal is not None else Journal()
    ref = find_image(session, vm, templates_only=False).ref
    target = check_export(session, ref, destination, overwrite=overwrite)
    with Operation(session, journal, f"export {ref}", plan=plan) as op:
        return export_vm(op, target, on_progress=on_progress)
