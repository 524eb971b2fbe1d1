"""``spherekit ls PATH`` / ``find [PATH] --type T --name GLOB`` / ``tree [PATH]``: inventory
paths, govc style, from one bulk read of every entity's name and parent."""

from __future__ import annotations

import argparse
from typing import Any

from spherekit import find as finder
from spherekit.cli import inventory
from spherekit.cli.output import Result, leaf, table, tree
from spherekit.cli.target import Connection
from spherekit.schema.base import MoRef

__all__ = ["add"]


def add(sub: Any) -> None:
    p = leaf(sub, "ls", "list the children of an inventory path (default /)")
    p.add_argument("path", nargs="?", default="/", help="e.g. /DC0/vm")
    p.add_argument("-l", "--long", action="store_true", help="show the type and moref")
    p.set_defaults(handler=ls)
    p = leaf(sub, "find", "find objects below a path by type and name")
    p.add_argument("path", nargs="?", default="/")
    p.add_argument("--type", "-t", help="m (VM), h (host), s (datastore), n, c, p, f, d or a type")
    p.add_argument("--name", "-n", help="a glob, e.g. 'web-*'")
    p.set_defaults(handler=find_cmd)
    p = leaf(sub, "tree", "the inventory below a path, as a tree")
    p.add_argument("path", nargs="?", default="/")
    p.set_defaults(handler=tree_cmd)


def _start(conn: Connection, path: str) -> tuple[inventory.Inventory, MoRef]:
    inv = inventory.read(conn.session)
    ref = finder.by_path(conn.session, path)
    if ref != inv.root and ref not in inv.names:
        raise finder.NotFound(f"nothing at inventory path {path!r}")
    return inv, ref


def _row(inv: inventory.Inventory, r: MoRef) -> dict[str, Any]:
    return {"path": inv.path(r), "name": inv.names[r], "type": r.type, "moref": r.value}


def ls(conn: Connection, args: argparse.Namespace) -> Result:
    inv, ref = _start(conn, args.path)
    rows = [_row(inv, r) for r in inv.children(ref)]
    if args.long:
        text = table(rows, [("path", "PATH"), ("type", "TYPE"), ("moref", "MOREF")])
    else:
        text = "\n".join(r["path"] for r in rows)
    return Result(rows, text)


def find_cmd(conn: Connection, args: argparse.Namespace) -> Result:
    mtype = inventory.type_name(args.type) if args.type else None
    inv, ref = _start(conn, args.path)
    rows = [_row(inv, r) for r in inv.search(mtype, args.name, ref)]
    return Result(rows, "\n".join(r["path"] for r in rows))


def tree_cmd(conn: Connection, args: argparse.Namespace) -> Result:
    inv, ref = _start(conn, args.path)

    def node(r: MoRef) -> dict[str, Any]:
        return {"name": inv.name(r), "type": r.type, "moref": r.value,
                "children": [node(c) for c in inv.children(r)]}  # fmt: skip

    data = node(ref)
    text = tree(data, lambda n: f"{n['name']} ({n['type']})", lambda n: n["children"])
    return Result(data, text)
