"""Migration: a precheck that lists blockers, then migrate (``MigrateVM_Task``) or
relocate (``RelocateVM_Task``).

:func:`precheck` asks vCenter's ``VirtualMachineProvisioningChecker`` whether the move can
work (``CheckMigrate_Task`` for a host / pool change, ``CheckRelocate_Task`` when a
datastore or folder is involved) and returns a :class:`Precheck`: its ``errors`` and
``warnings`` are :class:`Blocker` values (the fault type and the server's localized
message), readable as they are. :func:`compatibility` asks
``QueryVMotionCompatibilityEx_Task`` about several VMs and hosts at once. Prechecks are
reads: nothing is journaled.

:func:`migrate` and :func:`relocate` run the precheck first and refuse with
:class:`MigrationBlocked` (a :class:`~spherekit.errors.UsageError` carrying the precheck)
when it reports errors, unless ``force=True``; warnings are returned, not refused. The move
itself is one task through an :class:`~spherekit.compute.ops.Operation` (journaled,
``plan=True`` lists it). Migration needs vCenter: against a standalone ESXi host these
functions raise :class:`~spherekit.compute.endpoint.NeedsVCenter` before anything is sent.

Targets (host, pool, datastore, folder) are MoRefs, handles, or inventory paths such as
``/DC0/host/DC0_C0/DC0_C0_H1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit import find
from spherekit.compute.endpoint import VmArg, as_ref, read_one, require_vcenter, vm_ref
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import UsageError
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.task import wait_for_task

if TYPE_CHECKING:
    from spherekit.compute.journal import Journal
    from spherekit.session import Session

__all__ = [
    "Blocker",
    "MigrationBlocked",
    "MigrationResult",
    "Precheck",
    "compatibility",
    "migrate",
    "precheck",
    "relocate",
]

Target = MoRef | ManagedObject | str


@dataclass(frozen=True)
class Blocker:
    """One problem a precheck found: ``kind`` is ``error`` or ``warning``."""

    kind: str
    fault: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message} ({self.fault})"


@dataclass(frozen=True)
class Precheck:
    """The outcome of a precheck for one VM and destination."""

    vm: MoRef
    host: MoRef | None
    errors: list[Blocker]
    warnings: list[Blocker]

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        return [str(b) for b in (*self.errors, *self.warnings)]

    def __str__(self) -> str:
        where = f" to {self.host}" if self.host else ""
        if not self.errors and not self.warnings:
            return f"{self.vm}{where}: no blockers"
        return f"{self.vm}{where}: " + "; ".join(self.lines())


class MigrationBlocked(UsageError):
    """The precheck found errors; nothing was moved (``force=True`` tries anyway)."""

    def __init__(self, check: Precheck) -> None:
        super().__init__(
            f"cannot move {check.vm}: " + "; ".join(str(b) for b in check.errors)
            + " (fix these, or pass force=True to try anyway)"
        )  # fmt: skip
        self.check = check


@dataclass(frozen=True)
class MigrationResult:
    vm: MoRef
    method: str
    precheck: Precheck
    forced: bool = False
    planned: list[PlannedCall] = field(default_factory=list)

    def __str__(self) -> str:
        forced = " (forced past errors)" if self.forced else ""
        return f"{self.method} {self.vm}{forced}; precheck: {self.precheck}"


def _blocker(kind: str, lmf: Any) -> Blocker:
    fault = getattr(lmf, "fault", None)
    name = getattr(fault, "_wsdl_name", None) or type(fault).__name__
    message = getattr(lmf, "localizedMessage", None) or getattr(fault, "msg", None) or name
    return Blocker(kind, str(name), " ".join(str(message).split()))


def _check(result: Any) -> Precheck:
    return Precheck(
        vm=result.vm,
        host=result.host,
        errors=[_blocker("error", x) for x in result.error or ()],
        warnings=[_blocker("warning", x) for x in result.warning or ()],
    )


def _target(session: Session, value: Target | None, kind: str, what: str) -> MoRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            ref = find.by_path(session, value)
        except find.NotFound as e:
            raise UsageError(f"unknown {what} {value!r}: {e}") from e
        return as_ref(ref, kind, f"{what} {value!r}")
    return as_ref(value, kind, what)


def _checker(session: Session) -> MoRef:
    checker = session.content.vmProvisioningChecker
    if checker is None:
        raise UsageError("this endpoint has no VirtualMachineProvisioningChecker")
    return checker


@dataclass(frozen=True)
class _Dest:
    host: MoRef | None
    pool: MoRef | None
    datastore: MoRef | None
    folder: MoRef | None


def _dest(
    session: Session, host: Target | None, pool: Target | None,
    datastore: Target | None = None, folder: Target | None = None,
) -> _Dest:  # fmt: skip
    d = _Dest(
        _target(session, host, "HostSystem", "host"),
        _target(session, pool, "ResourcePool", "pool"),
        _target(session, datastore, "Datastore", "datastore"),
        _target(session, folder, "Folder", "folder"),
    )
    if d.host is None and d.pool is None and d.datastore is None and d.folder is None:
        raise UsageError("say where to move the VM: a host, a pool, a datastore or a folder")
    return d


def _relocate_spec(d: _Dest) -> Any:
    from spherekit import vim

    return vim.VirtualMachineRelocateSpec(
        host=d.host, pool=d.pool, datastore=d.datastore, folder=d.folder
    )


def _run_check(session: Session, vm: MoRef, d: _Dest, relocating: bool) -> Precheck:
    checker = _checker(session)
    if relocating:
        task = session.call(checker, "CheckRelocate_Task", vm=vm, spec=_relocate_spec(d))
    else:
        task = session.call(checker, "CheckMigrate_Task", vm=vm, host=d.host, pool=d.pool)
    results = wait_for_task(session, task, timeout=600.0) or []
    if not results:
        return Precheck(vm, d.host, [], [])
    checks = [_check(r) for r in results]
    return Precheck(vm, checks[0].host or d.host,
                    [b for c in checks for b in c.errors],
                    [b for c in checks for b in c.warnings])  # fmt: skip


def precheck(
    session: Session,
    vm: VmArg,
    *,
    host: Target | None = None,
    pool: Target | None = None,
    datastore: Target | None = None,
    folder: Target | None = None,
) -> Precheck:
    """May ``vm`` move to the destination? The blockers, as a :class:`Precheck`."""
    require_vcenter(session, "checking a VM migration")
    ref = vm_ref(vm)
    d = _dest(session, host, pool, datastore, folder)
    return _run_check(session, ref, d, d.datastore is not None or d.folder is not None)


def compatibility(
    session: Session, vms: Sequence[VmArg], hosts: Sequence[Target]
) -> list[Precheck]:
    """vMotion compatibility of each VM with each host (``QueryVMotionCompatibilityEx``)."""
    require_vcenter(session, "checking vMotion compatibility")
    refs = [vm_ref(v) for v in vms]
    host_refs = [r for h in hosts if (r := _target(session, h, "HostSystem", "host")) is not None]
    if not refs or not host_refs:
        raise UsageError("compatibility needs at least one VM and one host")
    task = session.call(_checker(session), "QueryVMotionCompatibilityEx_Task", vm=refs,
                        host=host_refs)  # fmt: skip
    return [_check(r) for r in wait_for_task(session, task, timeout=600.0) or []]


def _move(
    session: Session, vm: VmArg, journal: Journal, d: _Dest, method: str, params: dict[str, Any],
    *, force: bool, plan: bool, relocating: bool,
) -> MigrationResult:  # fmt: skip
    ref = vm_ref(vm)
    check = _run_check(session, ref, d, relocating)
    if check.errors and not force:
        raise MigrationBlocked(check)
    name = read_one(session, ref, ["name"]).get("name", ref.value)
    verb = "relocate" if relocating else "migrate"
    with Operation(session, journal, f"{verb} {name}", plan=plan) as op:
        op.write(ref, method, **params)
    return MigrationResult(ref, method, check, bool(check.errors), op.planned)


def migrate(
    session: Session,
    vm: VmArg,
    journal: Journal,
    *,
    host: Target | None = None,
    pool: Target | None = None,
    priority: str = "defaultPriority",
    force: bool = False,
    plan: bool = False,
) -> MigrationResult:
    """Move the VM to another host and/or pool (``MigrateVM_Task``) after a precheck."""
    require_vcenter(session, "migrating a VM")
    if host is None and pool is None:
        raise UsageError("migrate needs a host or a pool to move the VM to")
    d = _dest(session, host, pool)
    params = {"host": d.host, "pool": d.pool, "priority": priority}
    return _move(session, vm, journal, d, "MigrateVM_Task", params, force=force, plan=plan,
                 relocating=False)  # fmt: skip


def relocate(
    session: Session,
    vm: VmArg,
    journal: Journal,
    *,
    host: Target | None = None,
    pool: Target | None = None,
    datastore: Target | None = None,
    folder: Target | None = None,
    force: bool = False,
    plan: bool = False,
) -> MigrationResult:
    """Move the VM's host, pool, datastore and/or folder (``RelocateVM_Task``) after a
    precheck."""
    require_vcenter(session, "relocating a VM")
    d = _dest(session, host, pool, datastore, folder)
    return _move(session, vm, journal, d, "RelocateVM_Task", {"spec": _relocate_spec(d)},
                 force=force, plan=plan, relocating=True)  # fmt: skip
