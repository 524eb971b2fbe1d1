"""VM snapshots: create, tree, revert, remove (with children), remove all.

Snapshots are found by name from the VM's ``snapshot`` property
(``VirtualMachineSnapshotInfo``), read in one call; :func:`tree` returns it as typed
:class:`Snapshot` nodes with a ``current`` marker. A name must identify one snapshot:
vSphere allows duplicate names, so a name shared by several snapshots raises
:class:`AmbiguousSnapshot` (pass the snapshot's MoRef instead), and an unknown one
:class:`SnapshotNotFound`; both are :class:`~spherekit.errors.UsageError`, raised before
anything is written. :func:`create` refuses a name that is already taken unless
``allow_duplicate=True``, so names stay usable for revert and remove.

Every write goes through an :class:`~spherekit.compute.ops.Operation` (journaled;
``plan=True`` lists the call without making it). Each operation is one task, so there is
no partial work to undo: a failed task is journaled with its fault and raised.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spherekit.compute.endpoint import VmArg, read_one, vm_ref
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import UsageError
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.compute.journal import Journal
    from spherekit.session import Session

__all__ = [
    "AmbiguousSnapshot",
    "Snapshot",
    "SnapshotNotFound",
    "SnapshotResult",
    "SnapshotTree",
    "create",
    "remove",
    "remove_all",
    "revert",
    "tree",
]


class SnapshotNotFound(UsageError):
    """No snapshot of the VM has that name (or reference)."""


class AmbiguousSnapshot(UsageError):
    """Several snapshots of the VM have that name."""


@dataclass
class Snapshot:
    """One snapshot in a VM's tree."""

    name: str
    id: int
    ref: MoRef
    description: str
    created: datetime | None
    #: the VM's power state when the snapshot was taken
    state: str
    quiesced: bool
    current: bool
    children: list[Snapshot] = field(default_factory=list)

    def walk(self) -> Iterator[Snapshot]:
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class SnapshotTree:
    """A VM's snapshots: the roots, and the current one (None without snapshots)."""

    vm: MoRef
    roots: list[Snapshot]
    current: Snapshot | None

    def walk(self) -> Iterator[Snapshot]:
        """Every snapshot, parents before children."""
        for r in self.roots:
            yield from r.walk()

    def find(self, which: str | MoRef | ManagedObject) -> Snapshot:
        """The snapshot named (or referenced by) ``which``; see the module doc for errors."""
        if isinstance(which, ManagedObject):
            which = which.ref
        if isinstance(which, MoRef):
            hit = [s for s in self.walk() if s.ref == which]
            if not hit:
                raise SnapshotNotFound(f"{which} is not a snapshot of {self.vm}")
            return hit[0]
        if not isinstance(which, str) or not which:
            raise UsageError(f"a snapshot is named by its name or MoRef, got {which!r}")
        hit = [s for s in self.walk() if s.name == which]
        if not hit:
            names = ", ".join(repr(s.name) for s in self.walk()) or "none"
            raise SnapshotNotFound(f"{self.vm} has no snapshot named {which!r} (it has: {names})")
        if len(hit) > 1:
            ids = ", ".join(f"{s.ref} (id {s.id}, {s.created})" for s in hit)
            raise AmbiguousSnapshot(
                f"{len(hit)} snapshots of {self.vm} are named {which!r}: {ids}; "
                "pass the MoRef of the one you mean"
            )
        return hit[0]

    def lines(self) -> list[str]:
        """The tree as indented text lines, the current snapshot marked with ``*``."""
        out: list[str] = []

        def add(s: Snapshot, depth: int) -> None:
            mark = " *" if s.current else ""
            out.append(f"{'  ' * depth}{s.name} [{s.ref.value}, id {s.id}, {s.state}]{mark}")
            for c in s.children:
                add(c, depth + 1)

        for r in self.roots:
            add(r, 0)
        return out


@dataclass(frozen=True)
class SnapshotResult:
    """What a snapshot operation did: the snapshot it concerned (None for remove-all and
    revert-to-current plans), whether anything changed, and the planned calls."""

    vm: MoRef
    action: str
    snapshot: MoRef | None
    changed: bool = True
    planned: list[PlannedCall] = field(default_factory=list)

    def __str__(self) -> str:
        what = f" {self.snapshot}" if self.snapshot is not None else ""
        done = "" if self.changed else ": nothing to do"
        return f"{self.action} snapshot{what} of {self.vm}{done}"


def _node(t: Any, current: MoRef | None) -> Snapshot:
    return Snapshot(
        name=str(t.name),
        id=int(t.id),
        ref=t.snapshot,
        description=str(t.description or ""),
        created=t.createTime,
        state=str(t.state),
        quiesced=bool(t.quiesced),
        current=t.snapshot == current,
        children=[_node(c, current) for c in t.childSnapshotList or ()],
    )


def _read(session: Session, vm: VmArg) -> tuple[SnapshotTree, str, bool]:
    ref = vm_ref(vm)
    v = read_one(session, ref, ["name", "snapshot", "config.template"])
    info = v.get("snapshot")
    current = info.currentSnapshot if info is not None else None
    roots = [_node(t, current) for t in (info.rootSnapshotList or ())] if info else []
    t = SnapshotTree(ref, roots, None)
    t.current = next((s for s in t.walk() if s.current), None)
    return t, str(v.get("name", ref.value)), bool(v.get("config.template"))


def tree(session: Session, vm: VmArg) -> SnapshotTree:
    """The VM's snapshot tree (one read)."""
    return _read(session, vm)[0]


def create(
    session: Session,
    vm: VmArg,
    journal: Journal,
    name: str,
    *,
    description: str = "",
    memory: bool = False,
    quiesce: bool = False,
    allow_duplicate: bool = False,
    plan: bool = False,
) -> SnapshotResult:
    """Take a snapshot (``CreateSnapshot_Task``): with ``memory``, of the running memory
    too; with ``quiesce``, after VMware Tools quiesced the guest's file systems."""
    if not isinstance(name, str) or not name.strip():
        raise UsageError("a snapshot needs a non-empty name")
    if len(name) > 80:
        raise UsageError(f"snapshot names are at most 80 characters, got {len(name)}")
    t, vm_name, template = _read(session, vm)
    if template:
        raise UsageError(f"{vm_name} ({t.vm}) is a template; templates cannot have snapshots")
    if not allow_duplicate and any(s.name == name for s in t.walk()):
        raise UsageError(
            f"{vm_name} already has a snapshot named {name!r}; choose another name "
            "(or pass allow_duplicate=True)"
        )
    with Operation(session, journal, f"snapshot {vm_name}", plan=plan) as op:
        snap = op.write(t.vm, "CreateSnapshot_Task", name=name, description=description,
                        memory=memory, quiesce=quiesce)  # fmt: skip
    return SnapshotResult(t.vm, "create", snap, planned=op.planned)


def revert(
    session: Session,
    vm: VmArg,
    journal: Journal,
    snapshot: str | MoRef | ManagedObject | None = None,
    *,
    suppress_power_on: bool = False,
    plan: bool = False,
) -> SnapshotResult:
    """Revert to the named snapshot, or (``snapshot=None``) to the current one."""
    t, vm_name, _ = _read(session, vm)
    params: dict[str, Any] = {"suppressPowerOn": suppress_power_on or None}
    if snapshot is None:
        if t.current is None:
            raise SnapshotNotFound(f"{vm_name} ({t.vm}) has no current snapshot to revert to")
        target, method, this = t.current, "RevertToCurrentSnapshot_Task", t.vm
    else:
        target = t.find(snapshot)
        method, this = "RevertToSnapshot_Task", target.ref
    with Operation(session, journal, f"revert {vm_name} to {target.name}", plan=plan) as op:
        op.write(this, method, **params)
    return SnapshotResult(t.vm, "revert", target.ref, planned=op.planned)


def remove(
    session: Session,
    vm: VmArg,
    journal: Journal,
    snapshot: str | MoRef | ManagedObject,
    *,
    children: bool = False,
    consolidate: bool = True,
    plan: bool = False,
) -> SnapshotResult:
    """Remove one snapshot (``children=True``: and every snapshot below it)."""
    t, vm_name, _ = _read(session, vm)
    target = t.find(snapshot)
    with Operation(session, journal, f"remove snapshot {target.name} of {vm_name}",
                   plan=plan) as op:  # fmt: skip
        op.write(target.ref, "RemoveSnapshot_Task", removeChildren=children,
                 consolidate=consolidate)  # fmt: skip
    return SnapshotResult(t.vm, "remove", target.ref, planned=op.planned)


def remove_all(
    session: Session, vm: VmArg, journal: Journal, *, consolidate: bool = True, plan: bool = False
) -> SnapshotResult:
    """Remove every snapshot of the VM; a no-op (nothing sent) when it has none."""
    t, vm_name, _ = _read(session, vm)
    if not t.roots:
        return SnapshotResult(t.vm, "remove all", None, changed=False)
    with Operation(session, journal, f"remove all snapshots of {vm_name}", plan=plan) as op:
        op.write(t.vm, "RemoveAllSnapshots_Task", consolidate=consolidate)
    return SnapshotResult(t.vm, "remove all", None, planned=op.planned)
