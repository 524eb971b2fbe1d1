"""``spherekit lab status|reset``: the local lab (a simulated vCenter in the data directory).

``spherekit sim serve --state $(spherekit lab status --json | jq -r .path)`` serves the same
lab to other clients; while it runs, the CLI's own lab commands are refused (one simulator
per state file) — point them at the server with ``--url`` instead.
"""

from __future__ import annotations

import argparse
import shutil
from typing import Any

import spherekit
from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import LabError, lab_path, open_lab
from spherekit.compute import images, nodes

__all__ = ["add"]


def add(sub: Any) -> None:
    p = sub.add_parser("lab", help="the local lab: status, reset")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    leaf(verbs, "status", "where the lab is and what is in it").set_defaults(
        handler=status, offline=True
    )
    v = leaf(verbs, "reset", "delete the lab; the next command starts a fresh one")
    v.set_defaults(handler=reset, offline=True)


def status(_conn: None, args: argparse.Namespace) -> Result:
    path = lab_path()
    data: dict[str, Any] = {"path": str(path), "exists": path.exists()}
    if path.exists():
        sim = open_lab(path)
        try:
            s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
            try:
                for key, mtype in [("vms", "VirtualMachine"), ("hosts", "HostSystem"),
                                   ("datastores", "Datastore")]:  # fmt: skip
                    data[key] = len(spherekit.fetch(s, mtype, ["name"]))
                data["images"] = len(images.list_images(s))
                data["nodes"] = len(nodes.list_nodes(s))
            finally:
                s.close()
        finally:
            sim.stop()
        data["size_bytes"] = path.stat().st_size
    rows = [{"k": k, "v": v} for k, v in data.items()]
    return Result(data, table(rows, [("k", "FIELD"), ("v", "VALUE")]))


def reset(_conn: None, args: argparse.Namespace) -> Result:
    path = lab_path()
    try:
        open_lab(path).stop()  # refuses while a served simulator holds the lab
    except LabError as e:
        if e.locked:
            raise
    removed = []
    for p in [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", ".lock"))]:
        if p.exists():
            p.unlink()
            removed.append(str(p))
    files = path.with_name(path.name + ".files")
    if files.exists():
        shutil.rmtree(files)
        removed.append(str(files))
    return Result({"path": str(path), "removed": removed},
                  f"the lab at {path} was reset; the next command starts a fresh one")  # fmt: skip
