"""One VM at a time: create an empty VM, clone a VM (full, or linked to its current snapshot).

Both choose what they are not told the way nodes do (:mod:`spherekit.compute.placement`:
one bulk read of the inventory), check everything before the first write, and write
through an :class:`~spherekit.compute.ops.Operation` (journaled, undone on failure,
``plan=True`` lists the calls and makes none). Refused before anything is written:

- a name that is empty, longer than 80 characters, or already taken by a VM (or template)
  in the target datacenter (:class:`NameTaken`: later commands name VMs by name, and two
  of the same name there would make that name ambiguous);
- sizes that are not positive (memory also in multiples of 4 MB), an unknown guest OS id;
- an unknown datacenter, cluster, host, pool, folder, datastore or network, or one that
  does not fit the rest (:class:`~spherekit.compute.placement.PlacementError`);
- a linked clone of a VM with no snapshot.

:func:`create_vm` builds a VM document (:mod:`spherekit.compute.spec_doc`) with the
resolved placement and hands it to :func:`spherekit.compute.spec.apply`: one
``Folder.CreateVM_Task`` (a pvscsi controller and a thin disk when a size is given, a
vmxnet3 NIC when a network is), then ``PowerOnVM_Task`` when asked; a failed power-on
destroys the new VM again.

:func:`clone_vm` keeps the clone next to its source unless told otherwise: the source's
datacenter, folder, host, pool and datastore. One ``CloneVM_Task`` (``powerOn`` false),
then ``PowerOnVM_Task`` when asked; a failure after the clone destroys the clone. A linked
clone (``linked=True``) shares the disks of the source's current snapshot
(``diskMoveType=createNewChildDiskBacking``). Cloning needs vCenter.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from spherekit.compute.endpoint import VmArg, read_one, require_vcenter, vm_ref
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.compute.placement import (
    Inventory,
    Placement,
    PlacementSpec,
    read_inventory,
    resolve,
)
from spherekit.errors import UsageError
from spherekit.property import fetch
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.compute.journal import Journal
    from spherekit.session import Session

__all__ = ["NameTaken", "VmResult", "check_name", "clone_vm", "create_vm"]

#: vSphere's limit on the length of a VM name
MAX_NAME = 80
_SOURCE_PATHS = ["name", "parent", "resourcePool", "runtime.host", "datastore",
                 "config.files.vmPathName", "snapshot.currentSnapshot"]  # fmt: skip


class NameTaken(UsageError):
    """A VM (or template) of that name already exists in the target datacenter."""


@dataclass(frozen=True)
class VmResult:
    """A VM made by :func:`create_vm` or :func:`clone_vm` (for a plan: the one it would make)."""

    name: str
    #: ``"create"`` or ``"clone"``
    action: str
    #: the new VM; None for a plan
    vm: MoRef | None
    placement: Placement
    #: the power state it is left in (for a plan: the one expected)
    power_state: str
    source: MoRef | None = None
    linked: bool = False
    #: for a linked clone: the source's snapshot its disks hang from
    snapshot: MoRef | None = None
    planned: list[PlannedCall] = field(default_factory=list)

    def __str__(self) -> str:
        what = self.vm.value if self.vm is not None else "planned"
        how = f" from {self.source.value}" if self.source is not None else ""
        if self.linked:
            how += " (linked)"
        return f"{self.action} VM {self.name} ({what}){how}: {self.power_state}; {self.placement}"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise UsageError("a VM needs a name (not empty)")
    if len(name) > MAX_NAME:
        raise UsageError(f"VM name {name[:20]!r}... is {len(name)} characters; at most {MAX_NAME}")


def check_name(session: Session, name: str, datacenter: MoRef) -> None:
    """Raise :class:`NameTaken` when a VM or template in ``datacenter`` is named ``name``."""
    _check_name(name)
    for ref, v in fetch(session, "VirtualMachine", ["name"], root=datacenter):
        if v.get("name") == name:
            raise NameTaken(
                f"a VM named {name!r} already exists ({ref.value}) — choose another name, "
                "or destroy that VM first"
            )


def _positive(label: str, value: Any, *, multiple: int = 1, number: bool = False) -> None:
    kinds = (int, float) if number else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise UsageError(f"{label} must be a {'number' if number else 'whole number'}, "
                         f"not {value!r}")  # fmt: skip
    if not 0 < value < float("inf"):
        raise UsageError(f"{label} must be more than 0, not {value}")
    if multiple > 1 and value % multiple:
        raise UsageError(f"{label} must be a multiple of {multiple}, not {value}")


def _guest_id(guest_id: str | None) -> str:
    from spherekit.schema.vim25.enums import VirtualMachineGuestOsIdentifier as Ids

    if guest_id is None:
        return Ids.otherGuest64.value
    known = [i.value for i in Ids]
    if guest_id not in known:
        close = difflib.get_close_matches(guest_id, known, 3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UsageError(
            f"unknown guest OS id {guest_id!r}{hint} (vSphere's VirtualMachineGuestOsIdentifier: "
            "otherGuest64, ubuntu64Guest, windows2019srv_64Guest, ...)"
        )
    return guest_id


def _path(inv: Inventory, ref: MoRef, stop: MoRef | None) -> list[str]:
    """Names from below ``stop`` down to ``ref`` (``stop`` excluded)."""
    parts: list[str] = []
    cur: MoRef | None = ref
    while cur is not None and cur != stop and len(parts) < 64:
        parts.append(inv.name(cur))
        cur = inv.get(cur, "parent")
    return list(reversed(parts))


def _doc_placement(inv: Inventory, where: Placement) -> dict[str, Any]:
    """The resolved placement as a VM document names it (names and paths)."""
    out: dict[str, Any] = {
        "datacenter": inv.name(where.datacenter),
        "folder": "/" + "/".join(_path(inv, where.folder, inv.get(where.datacenter, "vmFolder"))),
        "host": inv.name(where.host),
        "resourcePool": "/".join(_path(inv, where.pool, where.compute)),
        "datastore": inv.name(where.datastore),
    }
    if where.compute.type == "ClusterComputeResource":
        out["cluster"] = inv.name(where.compute)
    return out


def create_vm(
    session: Session,
    name: str,
    journal: Journal,
    *,
    cpus: int = 1,
    memory_mb: int = 1024,
    disk_gb: float | None = None,
    network: str | MoRef | None = None,
    guest_id: str | None = None,
    placement: PlacementSpec | None = None,
    power_on: bool = False,
    plan: bool = False,
) -> VmResult:
    """Create an empty VM (see the module documentation).

    ``disk_gb`` adds one thin disk of that many GiB; ``network`` one vmxnet3 NIC on it;
    ``guest_id`` defaults to ``otherGuest64``. Placement parts not given are chosen.
    """
    from spherekit.compute import spec

    _check_name(name)
    _positive("cpus", cpus)
    _positive("memory_mb", memory_mb, multiple=4)
    if disk_gb is not None:
        _positive("disk_gb", disk_gb, number=True)
    guest = _guest_id(guest_id)
    inv = read_inventory(session)
    want = placement or PlacementSpec()
    if network is not None:
        want = replace(want, network=network)
    where = resolve(inv, want)
    check_name(session, name, where.datacenter)
    pl = _doc_placement(inv, where)
    doc: dict[str, Any] = {
        "name": name,
        "guestId": guest,
        "powerState": "poweredOn" if power_on else "poweredOff",
        "hardware": {"cpus": cpus, "memoryMB": memory_mb},
        "placement": pl,
    }
    if disk_gb is not None:
        doc["disks"] = [{"sizeGB": disk_gb, "datastore": pl["datastore"], "provisioning": "thin"}]
    if network is not None and where.network is not None:
        doc["nics"] = [{"network": inv.name(where.network), "adapter": "vmxnet3"}]
    r = spec.apply(session, doc, journal, plan=plan)
    return VmResult(
        name, "create", None if plan else r.vm, where,
        "poweredOn" if power_on else "poweredOff", planned=r.calls,
    )  # fmt: skip


def _same_datacenter(inv: Inventory, given: Any, dc: MoRef | None) -> bool:
    if given is None or dc is None:
        return True
    value = given.ref if hasattr(given, "ref") else given
    if isinstance(value, MoRef):
        return value == dc
    return str(value) in (dc.value, inv.name(dc))


def _source_datastore(src: dict[str, Any], inv: Inventory) -> MoRef | None:
    """The datastore of the source's .vmx (else its first datastore)."""
    stores: list[MoRef] = list(src.get("datastore") or [])
    path = str(src.get("config.files.vmPathName") or "")
    name = path.partition("]")[0].lstrip("[") if path.startswith("[") else None
    named = [d for d in stores if inv.name(d) == name]
    found = named or stores
    return found[0] if found else None


def clone_vm(
    session: Session,
    source: VmArg,
    name: str,
    journal: Journal,
    *,
    placement: PlacementSpec | None = None,
    linked: bool = False,
    power_on: bool = False,
    plan: bool = False,
) -> VmResult:
    """Clone ``source`` as ``name`` (see the module documentation)."""
    from spherekit import vim

    require_vcenter(session, "cloning a VM")
    ref = vm_ref(source)
    _check_name(name)
    src = read_one(session, ref, _SOURCE_PATHS)
    src_name = str(src.get("name", ref.value))
    snapshot: MoRef | None = src.get("snapshot.currentSnapshot")
    if linked and snapshot is None:
        raise UsageError(
            f"{src_name} ({ref.value}) has no snapshot to link the clone to — take one "
            f"(spherekit snapshot create {src_name} base), or clone without --linked"
        )
    inv = read_inventory(session)
    anchor = src.get("parent") or src.get("runtime.host")
    want = placement or PlacementSpec()
    if _same_datacenter(inv, want.datacenter, inv.datacenter_of(anchor)):
        # next to the source, unless told otherwise
        if want.host is None and want.pool is None and want.cluster is None:
            want = replace(want, host=src.get("runtime.host"), pool=src.get("resourcePool"))
        if want.datastore is None:
            want = replace(want, datastore=_source_datastore(src, inv))
        parent = src.get("parent")
        if want.folder is None and parent is not None and parent.type == "Folder":
            want = replace(want, folder=parent)
    where = resolve(inv, want, image_parent=anchor)
    check_name(session, name, where.datacenter)
    spec = vim.VirtualMachineCloneSpec(
        location=vim.VirtualMachineRelocateSpec(
            pool=where.pool, host=where.host, datastore=where.datastore,
            diskMoveType="createNewChildDiskBacking" if linked else None,
        ),
        template=False, powerOn=False, snapshot=snapshot if linked else None,
    )  # fmt: skip
    with Operation(session, journal, f"clone {src_name} to {name}", plan=plan) as op:
        new: MoRef = op.write(ref, "CloneVM_Task", folder=where.folder, name=name, spec=spec)
        op.on_undo(f"destroy the clone {name} ({new.value})", lambda: _undo(op, new))
        if power_on:
            op.write(new, "PowerOnVM_Task")
    return VmResult(
        name, "clone", None if plan else new, where, "poweredOn" if power_on else "poweredOff",
        source=ref, linked=linked, snapshot=snapshot if linked else None, planned=op.planned,
    )  # fmt: skip


def _undo(op: Operation, ref: MoRef) -> None:
    from spherekit.compute.nodes import destroy_vm

    destroy_vm(op, ref)
