"""VM snapshots: create, revert, remove, rename, as vSphere keeps them.

The tree lives where vCenter shows it: the VM's ``snapshot`` (``VirtualMachineSnapshotInfo``:
``rootSnapshotList`` of ``VirtualMachineSnapshotTree`` nodes, ``currentSnapshot``) and
``rootSnapshot``; each snapshot is a ``VirtualMachineSnapshot`` object with ``vm``,
``childSnapshot`` and ``config``, the VM's configuration when it was taken. A snapshot's
``id`` is one more than the VM's highest (they count from 1).

Disks follow vSphere's redo-log chains. Taking a snapshot freezes each disk's current
file (the snapshot's ``config`` names it) and gives the VM a new delta on top of it:
``vm.vmdk`` -> ``vm-000001.vmdk`` (``parent`` = the frozen backing, ``deltaDiskFormat``
``redoLogFormat``), written to the datastore with a ``.vmsn`` state file (and a ``.vmem``
for a memory snapshot). Reverting discards the VM's current delta (unless a snapshot
still needs it) and starts a new one on top of the snapshot's files, restores the
snapshot's configuration and its power state: a memory snapshot of a running VM powers
it on (unless ``suppressPowerOn``), any other powers it off. Removing a snapshot
consolidates: where the frozen file now has exactly one child, the child is merged into
it (``vm-000001.vmdk`` goes away and whoever used it uses ``vm.vmdk``), so removing every
snapshot leaves the VM on its base disks; ``consolidate=False`` leaves the files and sets
``runtime.consolidationNeeded``. Independent disks are not part of snapshots.

Faults: a quiesced snapshot of a running VM needs VMware Tools (``ToolsUnavailable``);
templates cannot have snapshots (``NotSupported``); more than 32 levels is
``TooManySnapshotLevels``; ``RevertToCurrentSnapshot_Task`` without a current snapshot
raises ``NotFound`` at once. Each operation is a task on the VM (TaskEvent), a revert
posts vCenter's ``com.vmware.vc.vm.VmStateRevertedToSnapshot`` EventEx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.methods import handler
from spherekit.sim.snapshot_disks import (
    Disks,
    delete_file,
    disks,
    new_delta,
    state_file,
    with_disks,
    write_file,
)
from spherekit.sim.values import clone
from spherekit.sim.vm_power import set_power_state

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        VirtualMachineGuestQuiesceSpec,
        VirtualMachineSnapshotTree,
    )
    from spherekit.sim.backend import Context

__all__ = ["MAX_LEVELS", "snapshot_refs"]

ON, OFF, SUSPENDED = "poweredOn", "poweredOff", "suspended"
MAX_LEVELS = 32


@dataclass
class _Node:
    tree: VirtualMachineSnapshotTree  # without childSnapshotList
    children: list[_Node] = field(default_factory=list)


def _load(trees: list[Any] | None) -> list[_Node]:
    return [
        _Node(clone(t, childSnapshotList=None), _load(t.childSnapshotList)) for t in trees or []
    ]


def _dump(nodes: list[_Node]) -> list[Any]:
    return [clone(n.tree, childSnapshotList=_dump(n.children) or None) for n in nodes]


def _walk(nodes: list[_Node], parent: _Node | None = None) -> list[tuple[_Node, _Node | None]]:
    out: list[tuple[_Node, _Node | None]] = []
    for n in nodes:
        out.append((n, parent))
        out += _walk(n.children, n)
    return out


def snapshot_refs(ctx: Context, vm: MoRef) -> list[MoRef]:
    """Every snapshot of ``vm``, parents before children."""
    info = ctx.registry.prop(vm, "snapshot")
    return [n.tree.snapshot for n, _p in _walk(_load(getattr(info, "rootSnapshotList", None)))]


# -- the VM's tree ----------------------------------------------------------------------------


def _save(ctx: Context, vm: MoRef, roots: list[_Node], current: MoRef | None) -> None:
    from spherekit.schema.vim25.data import VirtualMachineSnapshotInfo

    reg = ctx.registry
    if not roots:
        reg.update(vm, {"snapshot": None, "rootSnapshot": None})
    else:
        info = VirtualMachineSnapshotInfo(rootSnapshotList=_dump(roots), currentSnapshot=current)
        reg.update(vm, {"snapshot": info, "rootSnapshot": [n.tree.snapshot for n in roots]})
    for node, _parent in _walk(roots):
        ref = node.tree.snapshot
        children = [c.tree.snapshot for c in node.children] or None
        if ref in reg and reg.prop(ref, "childSnapshot") != children:
            reg.update(ref, {"childSnapshot": children})


def _vm_state(ctx: Context, vm: MoRef) -> tuple[Any, list[_Node], MoRef | None]:
    reg = ctx.registry
    if vm not in reg:
        raise faults.not_found(vm)
    props = reg.props(vm)
    info = props.get("snapshot")
    return (
        props,
        _load(getattr(info, "rootSnapshotList", None)),
        getattr(info, "currentSnapshot", None),
    )


def _create(
    ctx: Context, vm: MoRef, name: str, description: str, memory: bool, quiesce: bool
) -> MoRef:
    from spherekit.schema.vim25.data import TooManySnapshotLevels, VirtualMachineSnapshotTree

    reg = ctx.registry
    props, roots, current = _vm_state(ctx, vm)
    config = props["config"]
    if config.template:
        raise faults.not_supported("A template cannot have snapshots.")
    power = props["runtime"].powerState
    if quiesce and power == ON:
        guest = props.get("guest")
        if getattr(guest, "toolsRunningStatus", None) != "guestToolsRunning":
            raise faults.tools_unavailable()
    nodes = _walk(roots)
    by_ref = {n.tree.snapshot: (n, p) for n, p in nodes}
    depth, cur = 0, by_ref.get(current) if current is not None else None
    while cur is not None:
        depth += 1
        cur = by_ref.get(cur[1].tree.snapshot) if cur[1] is not None else None
    if depth >= MAX_LEVELS:
        raise faults.with_msg(
            TooManySnapshotLevels(),
            f"Exceeded the maximum number of snapshot levels ({MAX_LEVELS}).",
        )
    uid = max((n.tree.id for n, _p in nodes), default=0) + 1
    ref = reg.new_ref("VirtualMachineSnapshot")
    state = power if power == SUSPENDED or (power == ON and memory) else OFF
    tree = VirtualMachineSnapshotTree(
        snapshot=ref,
        vm=vm,
        name=name,
        description=description,
        id=uid,
        createTime=datetime.now(UTC),
        state=state,  # type: ignore[arg-type]
        quiesced=bool(quiesce and power == ON),
        replaySupported=False,
    )
    configs = [config] + [reg.prop(n.tree.snapshot, "config") for n, _p in nodes]
    used = Disks(configs).used()
    deltas = {k: new_delta(ctx, b, used) for k, b in disks(config).items()}
    write_file(ctx, state_file(config, uid, "vmsn"), f"snapshot {uid} of {props['name']}\n")
    if state != OFF:
        write_file(ctx, state_file(config, uid, "vmem"), "")
    reg.add(ref, {"vm": vm, "config": config})
    parent = by_ref[current][0] if current in by_ref else None
    (parent.children if parent is not None else roots).append(_Node(tree))
    now = datetime.now(UTC)
    new_config = clone(with_disks(config, deltas), changeVersion=now.isoformat(), modified=now)
    reg.update(vm, {"config": new_config})
    _save(ctx, vm, roots, ref)
    return ref


def _revert(ctx: Context, snap: MoRef, suppress: bool) -> None:
    reg = ctx.registry
    if snap not in reg:
        raise faults.not_found(snap)
    vm = reg.prop(snap, "vm")
    props, roots, _current = _vm_state(ctx, vm)
    nodes = {n.tree.snapshot: n for n, _p in _walk(roots)}
    node = nodes[snap]
    config = props["config"]
    snap_configs = [reg.prop(r, "config") for r in nodes]
    graph = Disks([config, *snap_configs])
    kept = {b.fileName for c in snap_configs for b in disks(c).values()}
    for b in disks(config).values():
        if b.fileName not in kept:
            delete_file(ctx, b.fileName)
    used = graph.used()
    saved = reg.prop(snap, "config")
    deltas = {k: new_delta(ctx, b, used) for k, b in disks(saved).items()}
    now = datetime.now(UTC)
    restored = clone(
        with_disks(saved, deltas),
        name=config.name,
        files=config.files,
        uuid=config.uuid,
        instanceUuid=config.instanceUuid,
        changeVersion=now.isoformat(),
        modified=now,
    )
    reg.update(vm, {"config": restored})
    target = str(node.tree.state)
    if suppress and target == ON:
        target = OFF
    if props["runtime"].powerState != target:
        set_power_state(ctx, vm, target)
    _save(ctx, vm, roots, snap)
    _reverted_event(ctx, vm, node.tree)


def _reverted_event(ctx: Context, vm: MoRef, tree: Any) -> None:
    from spherekit.schema.vim25.data import KeyAnyValue

    reg = ctx.registry
    name = reg.prop(vm, "name")
    host = reg.prop(vm, "runtime").host
    host_name = reg.prop(host, "name") if host in reg else ""
    compute = reg.prop(host, "parent") if host in reg else None
    cr_name = reg.prop(compute, "name") if compute is not None and compute in reg else ""
    emit(
        ctx,
        "EventEx",
        entity=vm,
        message=f"The execution state of the virtual machine {name} on host {host_name}, in "
        f"compute resource {cr_name} has been reverted to the state of snapshot "
        f"{tree.name}, with ID {tree.id}",
        eventTypeId="com.vmware.vc.vm.VmStateRevertedToSnapshot",
        severity="info",
        arguments=[
            KeyAnyValue(key="snapshotName", value=tree.name),
            KeyAnyValue(key="snapshotId", value=str(tree.id)),
        ],
        objectId=vm.value,
        objectType="vim.VirtualMachine",
        objectName=name,
    )


def _remove(
    ctx: Context,
    vm: MoRef,
    gone: set[MoRef],
    consolidate: bool,
    roots: list[_Node],
    current: MoRef | None,
) -> None:
    """Take the snapshots ``gone`` out of ``vm``'s tree (their children, if not gone too,
    move up to the parent) and consolidate their disks."""
    reg = ctx.registry
    props = reg.props(vm)
    all_nodes = _walk(roots)
    order = [n.tree for n, _p in all_nodes]  # parents first

    def prune(nodes: list[_Node]) -> list[_Node]:
        out: list[_Node] = []
        for n in nodes:
            kids = prune(n.children)
            if n.tree.snapshot in gone:
                out += kids
            else:
                n.children = kids
                out.append(n)
        return out

    parent_of = {n.tree.snapshot: p for n, p in all_nodes}
    while current is not None and current in gone:
        p = parent_of.get(current)
        current = p.tree.snapshot if p is not None else None
    new_roots = prune(roots)
    remaining = [n.tree.snapshot for n, _p in _walk(new_roots)]
    configs = {r: reg.prop(r, "config") for r in [t.snapshot for t in order]}
    vm_config = props["config"]
    graph = Disks([vm_config, *configs.values()])
    if consolidate:
        tops: dict[int, set[str]] = {}
        for c in [vm_config, *(configs[r] for r in remaining)]:
            for k, b in disks(c).items():
                tops.setdefault(k, set()).add(b.fileName)
        for k, names in tops.items():
            for name in graph.consolidate(k, names):
                delete_file(ctx, name)
        reg.update(vm, {"config": graph.rebuild(vm_config)})
        for r in remaining:
            reg.update(r, {"config": graph.rebuild(configs[r])})
    else:
        runtime = clone(props["runtime"], consolidationNeeded=True)
        reg.update(vm, {"runtime": runtime, "summary.runtime": runtime})
    for t in order:
        if t.snapshot in gone:
            for ext in ("vmsn", "vmem"):
                delete_file(ctx, state_file(vm_config, t.id, ext))
            reg.remove(t.snapshot)
    _save(ctx, vm, new_roots, current)


# -- handlers ----------------------------------------------------------------------------------


def _start(ctx: Context, vm: MoRef, method: str, description_id: str, work: Any) -> MoRef:
    return ctx.backend.tasks.start(ctx, vm, method, description_id, work)


@handler("VirtualMachine", "CreateSnapshot_Task")
def create_snapshot(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    memory: bool,
    quiesce: bool,
    description: str | None = None,
) -> MoRef:
    return _start(
        ctx,
        this,
        "CreateSnapshot_Task",
        "VirtualMachine.createSnapshot",
        lambda: _create(ctx, this, name, description or "", memory, quiesce),
    )


@handler("VirtualMachine", "CreateSnapshotEx_Task")
def create_snapshot_ex(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    memory: bool,
    description: str | None = None,
    quiesceSpec: VirtualMachineGuestQuiesceSpec | None = None,
) -> MoRef:
    return _start(
        ctx,
        this,
        "CreateSnapshotEx_Task",
        "VirtualMachine.createSnapshotEx",
        lambda: _create(ctx, this, name, description or "", memory, quiesceSpec is not None),
    )


def _host_check(ctx: Context, vm: MoRef, host: MoRef | None) -> None:
    if host is not None and host != ctx.registry.prop(vm, "runtime").host:
        if not ctx.visible(host):
            raise faults.not_found(host)
        raise faults.not_supported("reverting onto another host is not simulated")


@handler("VirtualMachineSnapshot", "RevertToSnapshot_Task")
def revert_to_snapshot(
    ctx: Context,
    this: MoRef,
    *,
    host: MoRef | None = None,
    suppressPowerOn: bool | None = None,
) -> MoRef:
    vm = ctx.registry.prop(this, "vm")
    _host_check(ctx, vm, host)
    return _start(
        ctx,
        vm,
        "RevertToSnapshot_Task",
        "vm.Snapshot.revert",
        lambda: _revert(ctx, this, bool(suppressPowerOn)),
    )


@handler("VirtualMachine", "RevertToCurrentSnapshot_Task")
def revert_to_current(
    ctx: Context,
    this: MoRef,
    *,
    host: MoRef | None = None,
    suppressPowerOn: bool | None = None,
) -> MoRef:
    from spherekit.schema.vim25.data import NotFound

    current = getattr(ctx.registry.prop(this, "snapshot"), "currentSnapshot", None)
    if current is None:
        raise faults.with_msg(NotFound(), "The virtual machine has no current snapshot.")
    _host_check(ctx, this, host)
    return _start(
        ctx,
        this,
        "RevertToCurrentSnapshot_Task",
        "VirtualMachine.revertToCurrentSnapshot",
        lambda: _revert(ctx, current, bool(suppressPowerOn)),
    )


@handler("VirtualMachineSnapshot", "RemoveSnapshot_Task")
def remove_snapshot(
    ctx: Context,
    this: MoRef,
    *,
    removeChildren: bool,
    consolidate: bool | None = None,
) -> MoRef:
    vm = ctx.registry.prop(this, "vm")

    def work() -> None:
        if this not in ctx.registry:
            raise faults.not_found(this)
        _props, roots, current = _vm_state(ctx, vm)
        node = next(n for n, _p in _walk(roots) if n.tree.snapshot == this)
        gone = {this}
        if removeChildren:
            gone |= {n.tree.snapshot for n, _p in _walk(node.children)}
        _remove(ctx, vm, gone, consolidate is not False, roots, current)

    return _start(ctx, vm, "RemoveSnapshot_Task", "vm.Snapshot.remove", work)


@handler("VirtualMachine", "RemoveAllSnapshots_Task")
def remove_all(ctx: Context, this: MoRef, *, consolidate: bool | None = None) -> MoRef:
    def work() -> None:
        _props, roots, current = _vm_state(ctx, this)
        gone = {n.tree.snapshot for n, _p in _walk(roots)}
        if gone:
            _remove(ctx, this, gone, consolidate is not False, roots, current)

    return _start(ctx, this, "RemoveAllSnapshots_Task", "VirtualMachine.removeAllSnapshots", work)


@handler("VirtualMachineSnapshot", "RenameSnapshot")
def rename_snapshot(
    ctx: Context, this: MoRef, *, name: str | None = None, description: str | None = None
) -> None:
    reg = ctx.registry
    vm = reg.prop(this, "vm")
    _props, roots, current = _vm_state(ctx, vm)
    for node, _p in _walk(roots):
        if node.tree.snapshot == this:
            node.tree = clone(
                node.tree,
                name=node.tree.name if name is None else name,
                description=node.tree.description if description is None else description,
            )
    _save(ctx, vm, roots, current)
