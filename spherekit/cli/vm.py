"""``spherekit vm ls|info|power|ip|destroy|spec``: virtual machines.

A VM is named by inventory path (``/DC0/vm/web-1``), moref (``vm-42``) or name (refused
when several VMs share it). Writes go through the compute layer and its journal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import spherekit
from spherekit.cli import inventory
from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import Connection, journal
from spherekit.compute import nodes, power, spec
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef

__all__ = ["add", "vm_arg"]

_LS_PATHS = ["name", "runtime.powerState", "config.template", "summary.config.numCpu",
             "summary.config.memorySizeMB", "guest.ipAddress"]  # fmt: skip
_INFO_PATHS = [*_LS_PATHS, "config.guestId", "config.instanceUuid", "config.uuid",
               "runtime.host", "config.annotation", "guest.toolsRunningStatus"]  # fmt: skip
COLUMNS = [("name", "NAME"), ("power_state", "POWER"), ("cpus", "CPU"),
           ("memory_mb", "MEMORY_MB"), ("ip", "IP"), ("path", "PATH")]  # fmt: skip
_POWER = {
    "on": power.power_on,
    "off": power.power_off,
    "reset": power.reset,
    "suspend": power.suspend,
}


def add(sub: Any) -> None:
    p = sub.add_parser("vm", help="virtual machines: ls, info, power, ip, destroy, spec")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "ls", "list VMs (name, power state, CPU, memory, IP, path)")
    v.add_argument("--templates", action="store_true", help="also list templates")
    v.set_defaults(handler=ls)
    v = leaf(verbs, "info", "one VM in detail")
    v.add_argument("vm", help="path, moref or name")
    v.set_defaults(handler=info)
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
    j = journal()
    out = []
    for text in args.vms:
        ref = vm_arg(conn, text)
        if args.action == "shutdown":
            r = power.shutdown_guest(conn.session, ref, j, timeout=args.timeout, plan=args.plan)
        else:
            r = _POWER[args.action](conn.session, ref, j, plan=args.plan)
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
    ref = vm_arg(conn, args.vm)
    address, _ = nodes.wait_guests(conn.session, [ref], timeout=args.timeout)[ref]
    return Result({"vm": args.vm, "moref": ref.value, "ip": address}, address or "")


def destroy(conn: Connection, args: argparse.Namespace) -> Result:
    refs = [vm_arg(conn, t) for t in args.vms]
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
    doc = spec.dump(conn.session, vm_arg(conn, args.vm))
    return Result(doc, spec.to_yaml(doc).rstrip())


def spec_apply(conn: Connection, args: argparse.Namespace) -> Result:
    doc = spec.load(Path(args.file).read_text(encoding="utf-8"))
    r = spec.plan(conn.session, doc) if args.plan else spec.apply(conn.session, doc, journal())
    data = {
        "name": r.name, "action": r.action, "vm": r.vm.value if r.vm else None,
        "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in r.changes],
        "calls": [str(c) for c in r.calls], "notes": r.notes,
    }  # fmt: skip
    return Result(data, str(r))
