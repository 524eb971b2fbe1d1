"""``spherekit node create|ls|destroy``: nodes cloned from an image into a group.

Writes draw the server's task percentage on a terminal; the compute modules are imported by
the handlers that use them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from spherekit.cli.output import Result, leaf, progress, table
from spherekit.cli.target import Connection, journal
from spherekit.errors import UsageError

if TYPE_CHECKING:
    from spherekit.compute.nodes import Node

__all__ = ["add", "node_row"]

COLUMNS = [("name", "NAME"), ("group", "GROUP"), ("power_state", "POWER"), ("cpus", "CPU"),
           ("memory_mb", "MEMORY_MB"), ("ip", "IP"), ("moref", "MOREF")]  # fmt: skip


def add(sub: Any) -> None:
    p = sub.add_parser("node", help="nodes: create, ls, destroy (by group)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "create", "clone nodes from an image into a group, power on, wait for IPs")
    v.add_argument("image", help="the image (template): name, moref or instance UUID")
    v.add_argument("--group", "-g", required=True, help="the group (a folder sk-GROUP)")
    v.add_argument("--count", "-c", type=int, default=1, help="how many (default 1)")
    v.add_argument("--size", help="tiny|small|medium|large|xlarge or CPUSxMEMORY_MBxDISK_GB")
    v.add_argument("--user-data", metavar="FILE", help="cloud-init user data (cloud-config)")
    v.add_argument("--linked", action="store_true", help="linked clones (image snapshot)")
    v.add_argument("--no-wait", action="store_true", help="do not wait for IP addresses")
    v.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=create)
    v = leaf(verbs, "ls", "list nodes (of one group, or all)")
    v.add_argument("--group", "-g")
    v.set_defaults(handler=ls)
    v = leaf(verbs, "destroy", "power off and destroy nodes, by group or by moref")
    v.add_argument("nodes", nargs="*", metavar="NODE", help="morefs (vm-42) or instance UUIDs")
    v.add_argument("--group", "-g")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=destroy)


def node_row(n: Node) -> dict[str, Any]:
    return {
        "name": n.name, "moref": n.ref.value, "instance_uuid": n.instance_uuid, "ip": n.ip,
        "power_state": n.power_state, "cpus": n.cpus, "memory_mb": n.memory_mb,
        "group": n.group,
    }  # fmt: skip


def create(conn: Connection, args: argparse.Namespace) -> Result:
    from pathlib import Path

    from spherekit.compute.nodes_create import create_nodes

    if args.count < 1:
        raise UsageError(f"--count must be 1 or more, not {args.count}")
    user_data = Path(args.user_data).read_text(encoding="utf-8") if args.user_data else None
    with progress(f"create {args.count} node(s) in {args.group}"):
        made = create_nodes(
            conn.session, args.image, args.count, args.group, size=args.size,
            user_data=user_data, linked=args.linked, wait_ip=not args.no_wait,
            timeout=args.timeout, journal=journal(), plan=args.plan,
        )  # fmt: skip
    rows = [node_row(n) for n in made]
    planned = [str(c) for c in made.planned]
    data: dict[str, Any] = {
        "nodes": rows,
        "placement": str(made.placement) if made.placement else None,
        "planned": planned,
    }
    if args.plan:
        return Result(data, "\n".join(planned))
    text = table(rows, COLUMNS)
    if made.placement:
        text += f"\nplacement: {made.placement}"
    return Result(data, text)


def ls(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import nodes

    rows = [node_row(n) for n in nodes.list_nodes(conn.session, args.group)]
    rows.sort(key=lambda r: (r["group"] or "", r["name"]))
    return Result(rows, table(rows, COLUMNS))


def destroy(conn: Connection, args: argparse.Namespace) -> Result:
    if not args.nodes and not args.group:
        raise UsageError("name nodes (vm-42 ...) or a --group to destroy")
    from spherekit.compute import nodes

    with progress(f"destroy {args.group or 'nodes'}"):
        d = nodes.destroy_nodes(conn.session, args.nodes or None, group=args.group,
                                journal=journal(), plan=args.plan)  # fmt: skip
    data = {
        "destroyed": [r.value for r in d.destroyed],
        "already_gone": [r.value for r in d.already_gone],
        "folders_removed": [r.value for r in d.folders_removed],
        "planned": [str(c) for c in d.planned],
    }
    if args.plan:
        return Result(data, "\n".join(data["planned"]))
    return Result(
        data,
        f"destroyed {len(d.destroyed)} node(s)"
        + (f", {len(d.already_gone)} already gone" if d.already_gone else ""),
    )
