"""``spherekit snapshot create|tree|revert|rm``: VM snapshots, named by name or moref.

Writes draw the server's task percentage on a terminal.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from spherekit.cli.output import Result, leaf, progress, tree
from spherekit.cli.target import Connection, journal
from spherekit.cli.vm import vm_arg

if TYPE_CHECKING:
    from spherekit.compute.snapshots import Snapshot, SnapshotResult

__all__ = ["add"]


def add(sub: Any) -> None:
    p = sub.add_parser("snapshot", help="VM snapshots: create, tree, revert, rm")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "create", "take a snapshot")
    v.add_argument("vm")
    v.add_argument("name")
    v.add_argument("--description", default="")
    v.add_argument("--memory", action="store_true", help="include the memory of a running VM")
    v.add_argument("--quiesce", action="store_true", help="quiesce the guest file systems")
    v.add_argument("--plan", action="store_true", help="list the call, make none")
    v.set_defaults(handler=create)
    v = leaf(verbs, "tree", "a VM's snapshots as a tree (* marks the current one)")
    v.add_argument("vm")
    v.set_defaults(handler=tree_cmd)
    v = leaf(verbs, "revert", "revert to a snapshot (default: the current one)")
    v.add_argument("vm")
    v.add_argument("name", nargs="?")
    v.add_argument("--plan", action="store_true")
    v.set_defaults(handler=revert)
    v = leaf(verbs, "rm", "remove a snapshot")
    v.add_argument("vm")
    v.add_argument("name")
    v.add_argument("--children", action="store_true", help="remove its children too")
    v.add_argument("--plan", action="store_true")
    v.set_defaults(handler=rm)


def _data(r: SnapshotResult) -> dict[str, Any]:
    return {"vm": r.vm.value, "action": r.action,
            "snapshot": r.snapshot.value if r.snapshot else None, "changed": r.changed,
            "planned": [str(c) for c in r.planned]}  # fmt: skip


def create(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import snapshots

    ref = vm_arg(conn, args.vm)
    with progress(f"snapshot {args.vm}"):
        r = snapshots.create(conn.session, ref, journal(), args.name,
                             description=args.description, memory=args.memory,
                             quiesce=args.quiesce, plan=args.plan)  # fmt: skip
    return Result(_data(r), str(r))


def _snap(s: Snapshot) -> dict[str, Any]:
    return {"name": s.name, "id": s.id, "moref": s.ref.value, "description": s.description,
            "created": s.created, "state": s.state, "quiesced": s.quiesced,
            "current": s.current, "children": [_snap(c) for c in s.children]}  # fmt: skip


def tree_cmd(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import snapshots

    t = snapshots.tree(conn.session, vm_arg(conn, args.vm))
    roots = [_snap(s) for s in t.roots]
    data = {"vm": t.vm.value, "current": t.current.name if t.current else None, "roots": roots}
    top = {"name": args.vm, "current": False, "children": roots, "root": True}

    def label(n: dict[str, Any]) -> str:
        if n.get("root"):
            return str(n["name"])
        return f"{n['name']}{' *' if n['current'] else ''} ({n['state']}, {n['moref']})"

    text = tree(top, label, lambda n: n["children"]) if roots else f"{args.vm}: no snapshots"
    return Result(data, text)


def revert(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import snapshots

    ref = vm_arg(conn, args.vm)
    with progress(f"revert {args.vm}"):
        r = snapshots.revert(conn.session, ref, journal(), args.name, plan=args.plan)
    return Result(_data(r), str(r))


def rm(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import snapshots

    ref = vm_arg(conn, args.vm)
    with progress(f"remove snapshot {args.name}"):
        r = snapshots.remove(conn.session, ref, journal(), args.name,
                             children=args.children, plan=args.plan)  # fmt: skip
    return Result(_data(r), str(r))
