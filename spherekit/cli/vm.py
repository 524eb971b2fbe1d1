"""``spherekit vm ls|info|create|clone|reconfigure|power|ip|destroy|spec``: virtual machines.

A VM is named by inventory path (``/DC0/vm/web-1``), moref (``vm-42``) or name (refused
when several VMs share it). Writes go through the compute layer and its journal; on a
terminal they draw the server's task percentage. The compute modules are imported by the
handlers that use them, so ``vm ls`` starts quickly.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import spherekit
from spherekit.cli import inventory
from spherekit.cli.output import Result, leaf, progress, table
from spherekit.cli.target import Connection, journal

if TYPE_CHECKING:
    from spherekit.compute.placement import PlacementSpec
    from spherekit.compute.vms import VmResult
    from spherekit.schema.base import MoRef

__all__ = ["add", "vm_arg"]

_LS_PATHS = ["name", "runtime.powerState", "config.template", "summary.config.numCpu",
             "summary.config.memorySizeMB", "guest.ipAddress"]  # fmt: skip
_INFO_PATHS = [*_LS_PATHS, "config.guestId", "config.instanceUuid", "config.uuid",
               "runtime.host", "config.annotation", "guest.toolsRunningStatus"]  # fmt: skip
COLUMNS = [("name", "NAME"), ("power_state", "POWER"), ("cpus", "CPU"),
           ("memory_mb", "MEMORY_MB"), ("ip", "IP"), ("path", "PATH")]  # fmt: skip
_POWER = ("on", "off", "reset", "suspend")
#: the placement roles of ``vm create`` / ``vm clone`` output, in order
PLACEMENT = ("datacenter", "compute", "host", "pool", "datastore", "folder", "network")


def _whole(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number more than 0, got {text!r}")
    return n


def _mib(text: str) -> int:
    n = _whole(text)
    if n % 4:
        raise argparse.ArgumentTypeError(f"expected MiB in a multiple of 4, got {text!r}")
    return n


def _gib(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        n = 0.0
    if not n > 0 or n == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a size in GiB more than 0, got {text!r}")
    return n


def _grow(text: str) -> tuple[str | int, float]:
    """``[DISK=]GIB``: DISK a label (``Hard disk 2``) or a 0-based index; default disk 0."""
    disk, sep, size = text.rpartition("=")
    which: str | int = (int(disk) if disk.strip().isdigit() else disk.strip()) if sep else 0
    if sep and which == "":
        raise argparse.ArgumentTypeError(f"expected [DISK=]GIB, got {text!r}")
    return which, _gib(size)


def _placement_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("placement (a name, a moref, or an inventory path; "
                             "what is not given is chosen)")  # fmt: skip
    g.add_argument("--datacenter", default=argparse.SUPPRESS,
                   help="the datacenter (also a global flag; $SPHEREKIT_DATACENTER)")  # fmt: skip
    g.add_argument("--cluster", help="the cluster")
    g.add_argument("--host", help="the host")
    g.add_argument("--pool", help="the resource pool")
    g.add_argument("--folder", help="the VM folder")
    g.add_argument("--datastore", help="the datastore")


def add(sub: Any) -> None:
    p = sub.add_parser("vm", help="virtual machines: ls, info, create, clone, reconfigure, "
                       "power, ip, destroy, spec")  # fmt: skip
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "ls", "list VMs (name, power state, CPU, memory, IP, path)")
    v.add_argument("--templates", action="store_true", help="also list templates")
    v.set_defaults(handler=ls)
    v = leaf(verbs, "info", "one VM in detail")
    v.add_argument("vm", help="path, moref or name")
    v.set_defaults(handler=info)
    v = leaf(verbs, "create", "create an empty VM (journaled; --plan writes nothing)")
    v.add_argument("name", help="the new VM's name (not taken in the datacenter)")
    v.add_argument("--cpus", type=_whole, default=1, help="virtual CPUs (default 1)")
    v.add_argument("--memory", type=_mib, default=1024, metavar="MIB",
                   help="memory in MiB, a multiple of 4 (default 1024)")  # fmt: skip
    v.add_argument("--disk", type=_gib, metavar="GIB", help="add a thin disk of GIB GiB")
    v.add_argument("--network", help="add a vmxnet3 NIC on this network (or portgroup)")
    v.add_argument("--guest-id", help="the guest OS id (default otherGuest64)")
    _placement_flags(v)
    v.add_argument("--on", action="store_true", help="power it on")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=create)
    v = leaf(verbs, "clone", "clone a VM or template (full; --linked: from its current snapshot)")
    v.add_argument("source", help="the VM or template: path, moref or name")
    v.add_argument("name", help="the clone's name (not taken in the datacenter)")
    v.add_argument("--linked", action="store_true",
                   help="a linked clone on the disks of the source's current snapshot")  # fmt: skip
    _placement_flags(v)
    v.add_argument("--on", action="store_true", help="power it on")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=clone)
    v = leaf(verbs, "reconfigure", "change CPUs and memory, grow disks, add NICs "
             "(one ReconfigVM_Task)")  # fmt: skip
    v.add_argument("vm", help="path, moref or name")
    v.add_argument("--cpus", type=_whole, help="virtual CPUs")
    v.add_argument("--memory", type=_mib, metavar="MIB", help="memory in MiB (a multiple of 4)")
    v.add_argument("--disk-grow", type=_grow, action="append", metavar="[DISK=]GIB",
                   help="grow a disk to GIB GiB (DISK: a label such as 'Hard disk 2' or a "
                   "0-based index; default the first disk); repeatable")  # fmt: skip
    v.add_argument("--add-nic", action="append", metavar="NETWORK",
                   help="add a NIC on NETWORK; repeatable")  # fmt: skip
    v.add_argument("--nic-type", default="vmxnet3", help="adapter of added NICs (default vmxnet3)")
    v.add_argument("--plan", action="store_true", help="list the call, make none")
    v.set_defaults(handler=reconfigure)
    pw = verbs.add_parser("power", help="power on|off|shutdown|reset|suspend")
    actions = pw.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action in [*_POWER, "shutdown"]:
        a = leaf(actions, action, f"power {action} VMs (journaled; --plan writes nothing)")
        a.add_argument("vms", nargs="+", metavar="VM")
        a.add_argument("--plan", action="store_true", help="list the calls, make none")
        if action == "shutdown":
            a.add_argument("--timeout", type=float, default=300.0,
                           help="seconds before a hard power-off (default 300)")  # fmt: skip
        a.set_defaults(handler=power_cmd)
    v = leaf(verbs, "ip", "wait for a VM's IP address and print it")
    v.add_argument("vm")
    v.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    v.set_defaults(handler=ip)
    v = leaf(verbs, "destroy", "power off and destroy VMs (journaled)")
    v.add_argument("vms", nargs="+", metavar="VM")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=destroy)
    sp = verbs.add_parser("spec", help="the declarative VM spec: dump, apply, plan")
    sverbs = sp.add_subparsers(dest="spec_verb", required=True, metavar="VERB")
    v = leaf(sverbs, "dump", "a VM as a portable YAML (or --json) document")
    v.add_argument("vm")
    v.set_defaults(handler=spec_dump)
    for name, text in [("apply", "create or reconcile the VM a document describes"),
                       ("plan", "the writes apply would make, writing nothing")]:  # fmt: skip
        v = leaf(sverbs, name, text)
        v.add_argument("file", help="a YAML or JSON document (spherekit vm spec dump)")
        v.add_argument("--prune", action="store_true",
                       help="remove disks the VM has but the document does not list "
                       "(destroys their data; without it such a document is refused)")  # fmt: skip
        v.set_defaults(handler=spec_apply, plan=name == "plan")


def vm_arg(conn: Connection, text: str) -> MoRef:
    return inventory.resolve(conn.session, text, "VirtualMachine",
                             datacenter=conn.target.datacenter)  # fmt: skip


def _row(ref: MoRef, v: dict[str, Any], path: str | None) -> dict[str, Any]:
    return {
        "name": v.get("name"),
        "moref": ref.value,
        "path": path,
        "power_state": v.get("runtime.powerState"),
        "template": bool(v.get("config.template")),
        "cpus": v.get("summary.config.numCpu"),
        "memory_mb": v.get("summary.config.memorySizeMB"),
        "ip": v.get("guest.ipAddress"),
    }


def ls(conn: Connection, args: argparse.Namespace) -> Result:
    s = conn.session
    rows = spherekit.fetch(s, "VirtualMachine", _LS_PATHS, ignore_missing=True)
    inv = inventory.read(s)
    out = [_row(r, v, inv.path(r)) for r, v in rows]
    if not args.templates:
        out = [r for r in out if not r["template"]]
    out.sort(key=lambda r: r["path"] or "")
    return Result(out, table(out, COLUMNS))


def info(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.property import filter_spec, retrieve

    ref = vm_arg(conn, args.vm)
    (row,) = retrieve(conn.session, filter_spec("VirtualMachine", _INFO_PATHS, [ref]),
                      ignore_missing=True)  # fmt: skip
    v = row[1]
    data = _row(ref, v, inventory.read(conn.session).path(ref))
    data.update({
        "guest_id": v.get("config.guestId"),
        "instance_uuid": v.get("config.instanceUuid"),
        "uuid": v.get("config.uuid"),
        "host": v["runtime.host"].value if v.get("runtime.host") else None,
        "annotation": v.get("config.annotation") or None,
        "tools": v.get("guest.toolsRunningStatus"),
    })  # fmt: skip
    text = table([{"k": k, "v": x} for k, x in data.items()], [("k", "FIELD"), ("v", "VALUE")])
    return Result(data, text)


def power_cmd(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import power

    actions = {"on": power.power_on, "off": power.power_off, "reset": power.reset,
               "suspend": power.suspend}  # fmt: skip
    j = journal()
    out = []
    for text in args.vms:
        ref = vm_arg(conn, text)
        with progress(f"power {args.action} {text}"):
            if args.action == "shutdown":
                r = power.shutdown_guest(conn.session, ref, j, timeout=args.timeout,
                                         plan=args.plan)  # fmt: skip
            else:
                r = actions[args.action](conn.session, ref, j, plan=args.plan)
        out.append({
            "vm": text, "moref": ref.value, "action": r.action, "before": r.before,
            "after": r.after, "changed": r.changed, "methods": r.methods,
            "fallback": r.fallback, "planned": [str(c) for c in r.planned],
        })  # fmt: skip
    text = "\n".join(f"{o['vm']}: {o['before']} -> {o['after']}"
                     + ("" if o["changed"] else " (nothing to do)")
                     + (" [plan: " + ", ".join(o["planned"]) + "]" if args.plan else "")
                     for o in out)  # fmt: skip
    return Result(out, text)


def ip(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import nodes

    ref = vm_arg(conn, args.vm)
    address, _ = nodes.wait_guests(conn.session, [ref], timeout=args.timeout)[ref]
    return Result({"vm": args.vm, "moref": ref.value, "ip": address}, address or "")


def destroy(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import nodes

    refs = [vm_arg(conn, t) for t in args.vms]
    with progress(f"destroy {len(refs)} VM(s)"):
        d = nodes.destroy_nodes(conn.session, refs, journal=journal(), plan=args.plan)
    data = {
        "destroyed": [r.value for r in d.destroyed],
        "already_gone": [r.value for r in d.already_gone],
        "folders_removed": [r.value for r in d.folders_removed],
        "planned": [str(c) for c in d.planned],
    }
    text = "\n".join(data["planned"]) if args.plan else f"destroyed {len(d.destroyed)} VM(s)"
    return Result(data, text)


def spec_dump(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import spec

    doc = spec.dump(conn.session, vm_arg(conn, args.vm))
    return Result(doc, spec.to_yaml(doc).rstrip())


def spec_apply(conn: Connection, args: argparse.Namespace) -> Result:
    from pathlib import Path

    from spherekit.compute import spec

    doc = spec.load(Path(args.file).read_text(encoding="utf-8"))
    if args.plan:
        r = spec.plan(conn.session, doc, prune=args.prune)
    else:
        with progress(f"apply {args.file}"):
            r = spec.apply(conn.session, doc, journal(), prune=args.prune)
    data = {
        "name": r.name, "action": r.action, "vm": r.vm.value if r.vm else None,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in r.changes],
        "calls": [str(c) for c in r.calls], "notes": r.notes,
    }  # fmt: skip
    return Result(data, str(r))


# -- create, clone, reconfigure ---------------------------------------------------------------


def _target(conn: Connection, text: str | None, mtype: str) -> str | MoRef | None:
    """A placement flag: a path is looked up (one type), a name or moref passed on."""
    if text is None or "/" not in text:
        return text
    return inventory.resolve(conn.session, text, mtype, datacenter=conn.target.datacenter)


def _placement(conn: Connection, args: argparse.Namespace) -> PlacementSpec:
    from spherekit.compute.placement import PlacementSpec

    return PlacementSpec(
        datacenter=conn.target.datacenter,
        cluster=_target(conn, args.cluster, "ComputeResource"),
        host=_target(conn, args.host, "HostSystem"),
        pool=_target(conn, args.pool, "ResourcePool"),
        folder=_target(conn, args.folder, "Folder"),
        datastore=_target(conn, args.datastore, "Datastore"),
    )


def _made(r: VmResult, plan: bool) -> Result:
    names = r.placement.names
    planned = [str(c) for c in r.planned]
    data: dict[str, Any] = {
        "name": r.name, "moref": r.vm.value if r.vm else None, "action": r.action,
        "source": r.source.value if r.source else None, "linked": r.linked,
        "snapshot": r.snapshot.value if r.snapshot else None, "power_state": r.power_state,
        "placement": {k: names.get(k) for k in PLACEMENT},
        "planned": planned,
    }  # fmt: skip
    if plan:
        return Result(data, "\n".join(planned))
    done = "created" if r.action == "create" else "cloned"
    src = f" from {r.source.value}{' (linked)' if r.linked else ''}" if r.source else ""
    text = (f"{done} {r.name} ({data['moref']}){src}: {r.power_state}, host "
            f"{names.get('host')}, datastore {names.get('datastore')}, "
            f"folder {names.get('folder')}")  # fmt: skip
    return Result(data, text)


def create(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute.vms import create_vm

    with progress(f"create {args.name}"):
        r = create_vm(
            conn.session, args.name, journal(), cpus=args.cpus, memory_mb=args.memory,
            disk_gb=args.disk, network=args.network, guest_id=args.guest_id,
            placement=_placement(conn, args), power_on=args.on, plan=args.plan,
        )  # fmt: skip
    return _made(r, args.plan)


def clone(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute.vms import clone_vm

    source = vm_arg(conn, args.source)
    with progress(f"clone {args.name}"):
        r = clone_vm(conn.session, source, args.name, journal(), placement=_placement(conn, args),
                     linked=args.linked, power_on=args.on, plan=args.plan)  # fmt: skip
    return _made(r, args.plan)


def reconfigure(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute.reconfigure import reconfigure as reconfig
    from spherekit.errors import UsageError

    if args.cpus is None and args.memory is None and not args.disk_grow and not args.add_nic:
        raise UsageError("nothing to change: give --cpus, --memory, --disk-grow or --add-nic")
    ref = vm_arg(conn, args.vm)
    with progress(f"reconfigure {args.vm}"):
        r = reconfig(
            conn.session, ref, journal(), cpus=args.cpus, memory_mb=args.memory,
            grow_disks=dict(args.disk_grow or ()) or None, add_nics=args.add_nic,
            nic_type=args.nic_type, plan=args.plan,
        )  # fmt: skip
    planned = [str(c) for c in r.planned]
    data = {"vm": args.vm, "moref": ref.value, "changes": r.changes, "changed": r.changed,
            "planned": planned}  # fmt: skip
    text = "\n".join(planned) if args.plan else f"{args.vm}: " + (
        "; ".join(r.changes) or "nothing to change")  # fmt: skip
    return Result(data, text)
