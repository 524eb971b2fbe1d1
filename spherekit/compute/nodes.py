"""Nodes: VMs cloned from an image into a group — listing, finding, waiting, destroying.

Creating them is :func:`spherekit.compute.nodes_create.create_nodes`.

- :func:`list_nodes` reads every node (of a group, or of all groups) with ONE
  RetrievePropertiesEx: name, moref, instance UUID, power state, CPU, memory, IP, group.
- :func:`get_node` finds one node by moref, instance UUID or (within a group) name.
- :func:`wait_guests` waits, push-based, until each VM reports a usable IP address
  (link-local ``169.254/16`` / ``fe80::/10`` and loopback are ignored) and, if asked, until
  its guest customization finished (told by ``guest.customizationInfo`` on 7.0 U2 and
  newer, else by the customization events: :mod:`spherekit.compute.custom_events`).
- :func:`destroy_nodes` powers nodes off, destroys them — a node already gone counts as
  destroyed — and removes group folders left empty. Journaled, with a plan form.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit import faults
from spherekit.compute.custom_events import CustomizationEvents, reports_customization_info
from spherekit.compute.groups import GROUP_PREFIX, Group, folder_name, get_groups, group_key
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.compute.placement import Placement, read_objects, read_view
from spherekit.errors import SpherekitError, UsageError, WaitTimeout
from spherekit.find import NotFound as _NotFound
from spherekit.find import by_uuid
from spherekit.property import Watch, apply_changes, fetch, filter_spec
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "CustomizationFailed",
    "Destroyed",
    "Node",
    "NodeList",
    "NodeNotFound",
    "destroy_many",
    "destroy_nodes",
    "destroy_vm",
    "get_node",
    "list_nodes",
    "usable_ip",
    "wait_guests",
]

NODE_PATHS = [
    "name", "parent", "config.instanceUuid", "runtime.powerState", "config.hardware.numCPU",
    "config.hardware.memoryMB", "guest.ipAddress", "guest.net", "config.template",
]  # fmt: skip
_FAILED = "TOOLSDEPLOYPKG_FAILED"
_SUCCEEDED = "TOOLSDEPLOYPKG_SUCCEEDED"


class NodeNotFound(UsageError):
    """No node matches the moref, instance UUID or name."""


@dataclass(frozen=True)
class Node:
    """A node. Its identity is ``ref`` / ``instance_uuid``; the name is for people."""

    ref: MoRef
    name: str
    instance_uuid: str | None = None
    ip: str | None = None
    power_state: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    group: str | None = None
    placement: Placement | None = None


class NodeList(list[Node]):
    """Nodes, with the calls a plan would make (``planned``) and where they went."""

    def __init__(
        self,
        nodes: Sequence[Node] = (),
        *,
        planned: Sequence[PlannedCall] = (),
        placement: Placement | None = None,
    ) -> None:
        super().__init__(nodes)
        self.planned = list(planned)
        self.placement = placement


def usable_ip(net: Sequence[Any] | None, fallback: str | None = None) -> str | None:
    """The first address that is not link-local or loopback (IPv4 before IPv6)."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for text in [a for nic in net or () for a in (nic.ipAddress or ())] + [fallback or ""]:
        try:
            addr = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            continue
        if not (addr.is_link_local or addr.is_loopback or addr.is_unspecified):
            found.append(addr)
    found.sort(key=lambda a: a.version)
    return str(found[0]) if found else None


def _state(v: Any) -> str | None:
    return str(getattr(v, "value", v)) if v is not None else None


def _node(ref: MoRef, v: dict[str, Any], group: str | None) -> Node:
    return Node(
        ref=ref, name=str(v.get("name", ref.value)), instance_uuid=v.get("config.instanceUuid"),
        ip=usable_ip(v.get("guest.net"), v.get("guest.ipAddress")),
        power_state=_state(v.get("runtime.powerState")), cpus=v.get("config.hardware.numCPU"),
        memory_mb=v.get("config.hardware.memoryMB"), group=group,
    )  # fmt: skip


def list_nodes(session: Session, group: str | Group | None = None) -> list[Node]:
    """The nodes of ``group`` (all groups if None), sorted by name, in one bulk read."""
    if isinstance(group, Group):  # its folder is known: read just that folder
        rows = fetch(session, "VirtualMachine", NODE_PATHS, root=group.folder, recursive=False)
        return sorted((_node(r, v, group.key) for r, v in rows), key=lambda n: n.name)
    wanted = folder_name(group) if group is not None else None
    rows = read_view(
        session, session.content.rootFolder, {"VirtualMachine": NODE_PATHS, "Folder": ["name"]}
    )
    folders = {r: str(v.get("name", "")) for r, v in rows if r.type == "Folder"}
    out = []
    for ref, v in rows:
        if ref.type != "VirtualMachine" or v.get("config.template"):
            continue
        fname = folders.get(v.get("parent") or ref, "")
        if not fname.startswith(GROUP_PREFIX) or (wanted is not None and fname != wanted):
            continue
        out.append(_node(ref, v, fname[len(GROUP_PREFIX) :]))
    return sorted(out, key=lambda n: (n.name, n.ref.value))


def _ref(session: Session, node: str | MoRef | ManagedObject | Node) -> MoRef | None:
    if isinstance(node, Node):
        return node.ref
    if isinstance(node, ManagedObject):
        return node.ref
    if isinstance(node, MoRef):
        return node
    if node.startswith("vm-"):
        return MoRef("VirtualMachine", node)
    if len(node) == 36 and node.count("-") == 4:
        try:
            return by_uuid(session, node, instance_uuid=True)
        except _NotFound:
            return None
    return None


def get_node(
    session: Session, node: str | MoRef | ManagedObject | Node, *, group: str | None = None
) -> Node:
    """One node by moref, instance UUID, or name (a name needs ``group``)."""
    ref = _ref(session, node)
    if ref is None:
        if group is None or not isinstance(node, str):
            raise NodeNotFound(f"no node {node!r}: name it by moref (vm-42) or instance UUID, "
                               "or pass group= to find it by name")  # fmt: skip
        hits = [n for n in list_nodes(session, group) if n.name == node]
        if len(hits) != 1:
            raise NodeNotFound(f"{len(hits)} nodes named {node!r} in group {group!r}")
        return hits[0]
    rows = read_objects(session, "VirtualMachine", [ref], NODE_PATHS)
    if ref not in rows:
        raise NodeNotFound(f"no node {ref.value} (it does not exist)")
    parent = rows[ref].get("parent")
    pname = str(read_objects(session, "Folder", [parent], ["name"]).get(parent, {}).get(
        "name", "")) if parent is not None else ""  # fmt: skip
    key = pname[len(GROUP_PREFIX) :] if pname.startswith(GROUP_PREFIX) else None
    if group is not None and key != group_key(group):
        raise NodeNotFound(f"{ref.value} is not in group {group!r}")
    return _node(ref, rows[ref], key)


def wait_guests(
    session: Session,
    refs: Sequence[MoRef],
    *,
    timeout: float,
    customization: bool = False,
    names: dict[MoRef, str] | None = None,
) -> dict[MoRef, tuple[str | None, str | None]]:
    """Wait until each VM has a usable IP (and, with ``customization``, until its guest
    customization succeeded or failed). Returns ``{vm: (ip, customization error)}``; a VM
    whose customization failed is done at once, with or without an address.

    The outcome of a customization comes from ``guest.customizationInfo`` where the server
    has it (API 7.0.2.0 and newer) and the guest reports it, else from the customization
    events posted against the VM (:mod:`spherekit.compute.custom_events`). Both are pushed
    through one ``WaitForUpdatesEx`` loop.
    """
    info = customization and reports_customization_info(session)
    paths = ["guest.net", "guest.ipAddress"] + (["guest.customizationInfo"] if info else [])
    state: dict[MoRef, dict[str, Any]] = {r: {} for r in refs}
    done: dict[MoRef, tuple[str | None, str | None]] = {}
    deadline = time.monotonic() + timeout
    events = CustomizationEvents(session, refs) if customization else None

    def open_watch() -> Watch:
        watch = Watch(session)
        try:
            watch.add(filter_spec("VirtualMachine", paths, list(refs)))
            if events is not None:
                events.open(watch)
        except BaseException:
            watch.close()
            raise
        return watch

    watch = open_watch()
    reopened = 0
    try:
        while len(done) < len(refs):
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(_timeout_message(refs, done, state, timeout, names))
            try:
                dirty, gone = _fold(watch.wait(min(left, 60.0)), state, events)
                if events is not None and dirty and not gone:
                    events.read(dirty)
            except faults.ManagedObjectNotFound as e:
                if events is None or not events.owns(e.obj):
                    raise
                gone = True
            if gone and events is not None:  # our collectors died with a session
                reopened += 1
                if reopened > 3:
                    raise SpherekitError("the server kept dropping the event collectors that "
                                         "watch the guest customization; giving up")  # fmt: skip
                watch.close()
                events.close()
                watch = open_watch()
                continue
            for r, values in state.items():
                if r not in done:
                    outcome = _guest_done(values, customization, events, r)
                    if outcome is not None:
                        done[r] = outcome
    finally:
        watch.close()
        if events is not None:
            events.close()
    return done


def _fold(
    result: Any, state: dict[MoRef, dict[str, Any]], events: CustomizationEvents | None
) -> tuple[list[MoRef], bool]:
    """Fold one UpdateSet into ``state``: (the event collectors whose page changed, whether
    one of them is gone)."""
    dirty: list[MoRef] = []
    gone = False
    for fs in result.filterSet or () if result is not None else ():
        for upd in fs.objectSet or ():
            if events is not None and events.owns(upd.obj):
                gone = gone or upd.kind == "leave"
                if upd.obj not in dirty:
                    dirty.append(upd.obj)
                continue
            values = state.get(upd.obj)
            if values is not None:
                if upd.kind == "enter":
                    values.clear()
                apply_changes(values, upd)
    return dirty, gone


def _guest_done(
    values: dict[str, Any], customization: bool, events: CustomizationEvents | None, ref: MoRef
) -> tuple[str | None, str | None] | None:
    """``(ip, error)`` once the VM is done, else None. Where the guest reports
    ``customizationInfo``, its status decides (the events and the property can reach the
    client in either order); where it reports none, the customization events do."""
    ip = usable_ip(values.get("guest.net"), values.get("guest.ipAddress"))
    if not customization:
        return (ip, None) if ip else None
    info = values.get("guest.customizationInfo")
    if info is not None:
        status = _state(info.customizationStatus)
        if status == _FAILED:
            return (ip, info.errorMsg or "customization failed")
        return (ip, None) if ip and status == _SUCCEEDED else None
    outcome = events.outcomes.get(ref) if events is not None else None
    if outcome is not None and not outcome.ok:
        return (ip, outcome.message)
    if outcome is not None and ip:
        return (ip, None)
    return None


def _timeout_message(
    refs: Sequence[MoRef],
    done: dict[MoRef, Any],
    state: dict[MoRef, dict[str, Any]],
    timeout: float,
    names: dict[MoRef, str] | None,
) -> str:
    no_ip: list[str] = []
    busy: list[str] = []
    for r in refs:
        if r in done:
            continue
        name = (names or {}).get(r, r.value)
        values = state[r]
        if usable_ip(values.get("guest.net"), values.get("guest.ipAddress")) is None:
            no_ip.append(name)
        else:
            busy.append(name)
    parts = []
    if no_ip:
        parts.append(f"no usable IP address within {timeout:g} s from: {', '.join(no_ip)}")
    if busy:
        parts.append(
            f"guest customization did not report an outcome within {timeout:g} s on: "
            f"{', '.join(busy)}"
        )
    return "; ".join(parts)


def destroy_vm(op: Operation, ref: MoRef) -> bool:
    """Power off (if on) and destroy one VM; False if it was already gone."""
    state = read_objects(op.session, "VirtualMachine", [ref], ["runtime.powerState"])
    if ref not in state:
        return False
    if _state(state.get(ref, {}).get("runtime.powerState")) in ("poweredOn", "suspended"):
        try:
            op.write(ref, "PowerOffVM_Task")
        except faults.InvalidPowerState:
            pass  # it went off meanwhile
        except faults.ManagedObjectNotFound:
            return False
    try:
        op.write(ref, "Destroy_Task")
    except faults.ManagedObjectNotFound:
        return False
    return True


def _each(
    op: Operation, refs: Sequence[MoRef], method: str, ok: tuple[type[BaseException], ...]
) -> set[MoRef]:
    """Start ``method`` on every ref, wait for all; return the refs where it failed with one
    of the tolerated faults ``ok``; raise any other failure (after all finished)."""
    tolerated: set[MoRef] = set()
    started: list[tuple[MoRef, MoRef]] = []
    for r in refs:
        try:
            started.append((r, op.start(r, method)))
        except ok:
            tolerated.add(r)
    results = op.wait([t for _, t in started], raise_errors=False)
    for (r, _), res in zip(started, results, strict=True):
        if isinstance(res, ok):
            tolerated.add(r)
        elif isinstance(res, BaseException):
            raise res
    return tolerated


def destroy_many(op: Operation, refs: Sequence[MoRef]) -> tuple[list[MoRef], list[MoRef]]:
    """Power off and destroy VMs, all tasks at once: ``(destroyed, already gone)``."""
    states = read_objects(op.session, "VirtualMachine", refs, ["runtime.powerState"])
    live = [r for r in refs if r in states]
    on = [
        r for r in live if _state(states[r].get("runtime.powerState")) in ("poweredOn", "suspended")
    ]
    _each(op, on, "PowerOffVM_Task", (faults.InvalidPowerState, faults.ManagedObjectNotFound))
    gone = _each(op, live, "Destroy_Task", (faults.ManagedObjectNotFound,))
    return [r for r in live if r not in gone], [r for r in refs if r not in live or r in gone]


@dataclass
class Destroyed:
    """What :func:`destroy_nodes` did (or, planning, would do)."""

    destroyed: list[MoRef] = field(default_factory=list)
    already_gone: list[MoRef] = field(default_factory=list)
    folders_removed: list[MoRef] = field(default_factory=list)
    planned: list[PlannedCall] = field(default_factory=list)


def destroy_nodes(
    session: Session,
    nodes: Sequence[str | MoRef | ManagedObject | Node] | None = None,
    *,
    group: str | None = None,
    journal: Journal | None = None,
    plan: bool = False,
) -> Destroyed:
    """Destroy ``nodes`` and/or every node of ``group`` (power off first). Idempotent: a node
    that is already gone counts as done. Group folders left empty are removed."""
    if nodes is None and group is None:
        raise UsageError("name the nodes to destroy, or a group")
    refs: list[MoRef] = []
    out = Destroyed()
    folders: set[MoRef] = set()
    for n in nodes or ():
        ref = _ref(session, n)
        if ref is None:
            if isinstance(n, str) and len(n) == 36 and n.count("-") == 4:
                continue  # an instance UUID nobody has any more: gone already
            raise NodeNotFound(f"{n!r}: name nodes by moref (vm-42), instance UUID or Node")
        refs.append(ref)
    if group is not None:
        for g in get_groups(session, group):
            refs += [r for r in g.nodes if r not in refs]
            folders.add(g.folder)
    parents = read_objects(session, "VirtualMachine", refs, ["parent"])
    folders |= {v["parent"] for v in parents.values() if v.get("parent") is not None}
    label = f"group {group}" if group is not None else f"{len(refs)} node(s)"
    op = Operation(session, journal or Journal(), f"destroy {label}", plan=plan)
    with op:
        out.destroyed, out.already_gone = destroy_many(op, refs)
        gone = set(out.destroyed) | set(out.already_gone)
        for f, v in read_objects(
            session, "Folder", sorted(folders), ["name", "childEntity"]
        ).items():
            left = [c for c in v.get("childEntity") or () if c not in gone]
            if str(v.get("name", "")).startswith(GROUP_PREFIX) and not left:
                try:
                    op.write(f, "Destroy_Task")
                    out.folders_removed.append(f)
                except faults.ManagedObjectNotFound:
                    pass
    out.planned = op.planned
    return out


class CustomizationFailed(SpherekitError):
    """Guest customization failed on some nodes; they are kept for diagnosis."""

    def __init__(self, failed: dict[str, str]) -> None:
        super().__init__(
            "guest customization failed on "
            + ", ".join(f"{name} ({why})" for name, why in failed.items())
            + "; these nodes are kept for diagnosis (see the guest's "
            "/var/log/vmware-imc/toolsDeployPkg.log), the others were removed"
        )
        self.failed = failed
