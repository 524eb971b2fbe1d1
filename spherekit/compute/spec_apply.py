"""apply / plan for VM documents: create the VM, or reconcile it with the minimal writes.

The diff is computed from one bulk read of the VM (:func:`spherekit.compute.spec.read_vm`)
against the parsed document. What the document leaves out is left alone. Refused before
anything is written (:class:`SpecError`): unknown placement, network or datastore names, a
disk that would shrink, a disk the VM has and the document does not list (unless
``prune``), a redacted secret for a VM being created, a change that needs the VM powered
off while the document wants it (and it is) powered on.

Writes, through one :class:`~spherekit.compute.ops.Operation` (journaled, plannable):

- create: ``Folder.CreateVM_Task`` (then ``PowerOnVM_Task`` if the document says
  ``poweredOn``; a failed power-on destroys the new VM again);
- reconcile: a power-off first if the document wants the VM off, one ``ReconfigVM_Task``
  with every change (disks grown, added, and — with ``prune`` — removed with their
  files), one ``RelocateVM_Task`` moving the disks whose datastore the document changes
  (a disk locator for every disk, the VM's home datastore unchanged), then a power-on /
  suspend if the document wants one. A failed step undoes what can be undone: a failed
  move after a power-off powers the VM on again; a failed power-on after a move moves
  the disks back. The reconfigure comes before the move so that its device edits name
  the disks' files where they are; a removed disk cannot come back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit.compute.journal import Journal
from spherekit.compute.nodes import destroy_vm
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.compute.spec_devices import Devices, build_create_devices
from spherekit.compute.spec_doc import REDACTED, SpecError, VmDoc, parse, portable_key
from spherekit.compute.spec_place import Resolved, resolve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as v

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["Change", "Result", "apply", "plan"]

Writer = Callable[[Operation, "Result"], None]


@dataclass(frozen=True)
class Change:
    """One difference between the server and the document: ``field: old -> new``."""

    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        def show(x: Any) -> str:
            return "(none)" if x is None else repr(x) if isinstance(x, str) else str(x)

        return f"{self.field}: {show(self.old)} → {show(self.new)}"


@dataclass
class Result:
    """What apply did (or plan would do)."""

    name: str
    action: str  # "create", "reconcile" or "none"
    vm: MoRef | None = None
    changes: list[Change] = field(default_factory=list)
    calls: list[PlannedCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = {
            "create": f"create VM {self.name!r}",
            "reconcile": f"reconcile VM {self.name!r}",
            "none": f"VM {self.name!r} matches the document: nothing to do",
        }[self.action]
        lines = [head, *(f"  {c}" for c in self.changes), *(f"  note: {n}" for n in self.notes)]
        if self.calls:
            lines.append("writes:")
            for c in self.calls:
                arrow = f" -> {c.result}" if c.result else ""
                lines.append(f"  {c.method} on {c.target}{arrow}")
        return "\n".join(lines)


def plan(session: Session, doc: dict[str, Any] | VmDoc, *, prune: bool = False) -> Result:
    """The writes :func:`apply` would make for ``doc``, and the diff; writes nothing."""
    return apply(session, doc, Journal(), plan=True, prune=prune)


def apply(
    session: Session,
    doc: dict[str, Any] | VmDoc,
    journal: Journal,
    *,
    plan: bool = False,
    prune: bool = False,
    task_timeout: float = 3600.0,
) -> Result:
    """Create the VM ``doc`` describes, or reconcile the existing one (see the module doc).

    ``prune=True`` (or ``pruneDisks: true`` in the document) removes, with their files,
    disks the VM has and the document does not list; without it such disks are refused.
    """
    from spherekit.compute.spec import read_vm

    vm_doc = doc if isinstance(doc, VmDoc) else parse(doc)
    where = resolve(session, vm_doc)
    index = session.content.searchIndex
    if index is None:
        raise SpecError("this endpoint has no SearchIndex; VM documents need one")
    existing = session.call(index, "FindChild", entity=where.folder, name=vm_doc.name)
    if existing is None:
        result, write = _create(vm_doc, where)
    elif existing.type != "VirtualMachine":
        raise SpecError(
            f"{where.folder_path!r} already has a {existing.type} named "
            f"{vm_doc.name!r}; choose another name"
        )
    else:
        objs = read_vm(session, existing)
        result, write = _reconcile(vm_doc, where, existing, objs, prune=prune)
    # everything is checked: from here on, only writes (and their undo on failure)
    name = f"{'plan' if plan else 'apply'} {vm_doc.name}"
    with Operation(session, journal, name, plan=plan, task_timeout=task_timeout) as op:
        write(op, result)
    result.calls = list(op.planned)
    return result


# -- create -----------------------------------------------------------------------------


def _create(doc: VmDoc, where: Resolved) -> tuple[Result, Writer]:
    result = Result(doc.name, "create")
    if where.datastore is None:
        raise SpecError("placement.datastore is required to create a VM (where its files go)")
    for k, val in (doc.extraConfig or {}).items():
        if val == REDACTED:
            raise SpecError(
                f"extraConfig {k!r} is {REDACTED}: a new VM needs the real value "
                "(dump with include_secrets=True, or write it in)"
            )
    hw = doc.hardware
    spec = v.VirtualMachineConfigSpec(
        name=doc.name,
        guestId=doc.guestId or "otherGuest",
        annotation=doc.annotation,
        numCPUs=hw.cpus,
        numCoresPerSocket=hw.coresPerSocket,
        memoryMB=hw.memoryMB,
        firmware=hw.firmware,
        files=v.VirtualMachineFileInfo(vmPathName=f"[{where.datastore}]"),
        extraConfig=[v.OptionValue(key=k, value=x) for k, x in (doc.extraConfig or {}).items()]
        or None,
        deviceChange=build_create_devices(doc, where) or None,
    )
    for attr in ("guestId", "annotation", "powerState"):
        if getattr(doc, attr):
            result.changes.append(Change(attr, None, getattr(doc, attr)))
    for attr in ("cpus", "coresPerSocket", "memoryMB", "firmware"):
        if getattr(hw, attr) is not None:
            result.changes.append(Change(f"hardware.{attr}", None, getattr(hw, attr)))
    for i, d in enumerate(doc.disks or ()):
        result.changes.append(Change(f"disks[{d.label or i}]", None, f"{d.sizeGB} GB"))
    for i, n in enumerate(doc.nics or ()):
        result.changes.append(Change(f"nics[{n.label or i}]", None, n.network))
    for k, x in (doc.extraConfig or {}).items():
        result.changes.append(Change(f"extraConfig[{k}]", None, x))

    def write(op: Operation, result: Result) -> None:
        vm: MoRef = op.write(
            where.folder, "CreateVM_Task", config=spec, pool=where.pool, host=where.host
        )
        result.vm = vm
        # powered off first: the undo may come after the power-on below
        op.on_undo(f"destroy the new VM {doc.name!r}", lambda: destroy_vm(op, vm))
        if doc.powerState in ("poweredOn", "suspended"):
            op.write(vm, "PowerOnVM_Task")
        if doc.powerState == "suspended":
            op.write(vm, "SuspendVM_Task")

    return result, write


# -- reconcile --------------------------------------------------------------------------

#: changes a powered-on VM does not accept (without the matching hot-add flag)
_COLD = ("guestId", "hardware.firmware", "hardware.coresPerSocket")


def _reconcile(
    doc: VmDoc, where: Resolved, vm: MoRef, objs: dict[MoRef, dict[str, Any]], *, prune: bool
) -> tuple[Result, Writer]:
    props = objs[vm]
    config: v.VirtualMachineConfigInfo = props["config"]
    power = str(props["runtime.powerState"])
    result = Result(doc.name, "reconcile", vm)
    spec = v.VirtualMachineConfigSpec()
    changes = result.changes
    hw = config.hardware

    def setting(name: str, attr: str, old: Any, new: Any) -> None:
        if new is not None and new != old:
            changes.append(Change(name, old, new))
            setattr(spec, attr, new)

    setting("guestId", "guestId", config.guestId, doc.guestId)
    setting("annotation", "annotation", config.annotation or "", doc.annotation)
    setting("hardware.cpus", "numCPUs", hw.numCPU, doc.hardware.cpus)
    setting(
        "hardware.coresPerSocket",
        "numCoresPerSocket",
        hw.numCoresPerSocket or 1,
        doc.hardware.coresPerSocket,
    )
    setting("hardware.memoryMB", "memoryMB", hw.memoryMB, doc.hardware.memoryMB)
    setting("hardware.firmware", "firmware", config.firmware or "bios", doc.hardware.firmware)
    if doc.extraConfig is not None:
        current = {o.key: str(o.value) for o in config.extraConfig or () if o.value is not None}
        options = []
        for k, x in doc.extraConfig.items():
            if x != REDACTED and current.get(k) != x:
                changes.append(Change(f"extraConfig[{k}]", current.get(k), x))
                options.append(v.OptionValue(key=k, value=x))
        for k, old in current.items():
            if k not in doc.extraConfig and portable_key(k):
                changes.append(Change(f"extraConfig[{k}]", old, None))
                options.append(v.OptionValue(key=k, value=""))
        spec.extraConfig = options or None
    devices = Devices(config, objs, where)
    spec.deviceChange = devices.diff(doc, changes, prune=prune) or None
    for placement_note in _placement_notes(doc, where, objs, vm):
        result.notes.append(placement_note)
    moves = _relocations(devices, where, config) if devices.moves else None

    want = doc.powerState
    stays_on = power == "poweredOn" and want in (None, "poweredOn")
    if stays_on:
        _check_hot(config, changes, devices.cold)
    # disk moves are the RelocateVM_Task's; everything else but power is the reconfigure's
    reconfigure = any(
        c.field != "powerState" and not c.field.endswith(".datastore") for c in changes
    )
    if want is not None and want != power:
        changes.append(Change("powerState", power, want))
    if not changes:
        result.action = "none"

    def write(op: Operation, result: Result) -> None:
        if want == "poweredOff" and power != "poweredOff":
            op.write(vm, "PowerOffVM_Task")
            if power == "poweredOn":
                op.on_undo("power the VM on again", lambda: op.write(vm, "PowerOnVM_Task"))
        if reconfigure:
            op.write(vm, "ReconfigVM_Task", spec=spec)
        if moves is not None:
            there, back = moves
            op.write(vm, "RelocateVM_Task", spec=there)
            op.on_undo("move the disks back", lambda: op.write(vm, "RelocateVM_Task", spec=back))
        if want in ("poweredOn", "suspended") and power != want:
            if power != "poweredOn":
                op.write(vm, "PowerOnVM_Task")
            if want == "suspended":
                op.write(vm, "SuspendVM_Task")

    return result, write


def _relocations(
    devices: Devices, where: Resolved, config: v.VirtualMachineConfigInfo
) -> tuple[v.VirtualMachineRelocateSpec, v.VirtualMachineRelocateSpec]:
    """The RelocateVM_Task specs that move the disks (and that move them back): a locator
    for every disk the reconfigure leaves, so none follows the home datastore by accident."""
    home_name = (config.files.vmPathName or "").partition("]")[0].lstrip("[")
    home = where.datastore_ref(home_name, "the VM's home datastore") if home_name else None
    going = {disk.key: target for disk, target in devices.moves}
    there: list[v.VirtualMachineRelocateSpecDiskLocator] = []
    back: list[v.VirtualMachineRelocateSpecDiskLocator] = []
    for dev in devices.devices:
        if not isinstance(dev, v.VirtualDisk) or dev.key in devices.removed:
            continue
        ref, name = devices.disk_datastore(dev)
        if ref is None and name is not None:
            ref = where.datastore_ref(name, f"disk {dev.key}")
        if ref is None:
            continue
        locator = v.VirtualMachineRelocateSpecDiskLocator
        there.append(locator(diskId=dev.key, datastore=going.get(dev.key, ref)))
        back.append(locator(diskId=dev.key, datastore=ref))
    return (
        v.VirtualMachineRelocateSpec(datastore=home, disk=there),
        v.VirtualMachineRelocateSpec(datastore=home, disk=back),
    )


def _check_hot(config: v.VirtualMachineConfigInfo, changes: list[Change], cold: list[str]) -> None:
    """Refuse, before writing, what a powered-on VM would refuse."""
    if cold:
        raise SpecError(
            f"{cold[0]} needs the VM powered off: set powerState: poweredOff in the "
            "document (apply then powers it off first), or power it off yourself"
        )
    for c in changes:
        problem = None
        if c.field in _COLD:
            problem = "needs the VM powered off"
        elif c.field == "hardware.cpus":
            flag = config.cpuHotAddEnabled if c.new > c.old else config.cpuHotRemoveEnabled
            if not flag:
                what = "add" if c.new > c.old else "remove"
                problem = f"needs the VM powered off (CPU hot-{what} is not enabled)"
        elif c.field == "hardware.memoryMB" and (c.new < c.old or not config.memoryHotAddEnabled):
            problem = "needs the VM powered off (memory hot-add is not enabled, or it shrinks)"
        if problem:
            raise SpecError(
                f"{c} {problem}: set powerState: poweredOff in the document "
                "(apply then powers it off first), or power it off yourself"
            )


def _placement_notes(
    doc: VmDoc, where: Resolved, objs: dict[MoRef, dict[str, Any]], vm: MoRef
) -> list[str]:
    props = objs[vm]
    notes = []
    host = props.get("runtime.host")
    if where.host is not None and host is not None and host != where.host:
        notes.append(
            f"placement.host: the VM runs on {objs.get(host, {}).get('name')!r}, the "
            f"document says {doc.placement.host!r}; apply does not migrate (use "
            "compute migration)"
        )
    pool = props.get("resourcePool")
    if where.pool is not None and pool is not None and pool != where.pool:
        notes.append("placement.resourcePool differs; apply does not move VMs between pools")
    ds = (props["config"].files.vmPathName or "").partition("]")[0].lstrip("[")
    if where.datastore is not None and ds and ds != where.datastore:
        notes.append(
            f"placement.datastore: the VM's home (.vmx) is on {ds!r}, the document says "
            f"{where.datastore!r}; apply moves disks (disks[].datastore), not the home "
            "(use compute migration)"
        )
    return notes
