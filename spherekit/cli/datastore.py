"""``spherekit datastore ls|upload|download|rm|mkdir``: a datastore as a blob store.

Files are named ``DATASTORE:PATH`` (``LocalDS_0:images/a.iso``) or ``[DATASTORE] PATH``;
the datacenter is ``--datacenter`` (or ``$SPHEREKIT_DATACENTER``), else the only one there is.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import spherekit
from spherekit.cli.output import Result, leaf, progress, table
from spherekit.cli.target import Connection, journal
from spherekit.errors import UsageError

__all__ = ["add", "datacenter", "split"]


def add(sub: Any) -> None:
    p = sub.add_parser("datastore", help="datastore files: ls, upload, download, rm, mkdir")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "ls", "list a datastore folder (DATASTORE[:PATH])")
    v.add_argument("where", metavar="DATASTORE[:PATH]")
    v.set_defaults(handler=ls)
    v = leaf(verbs, "upload", "upload a local file (through PATH.tmp, checked, renamed)")
    v.add_argument("source", help="a local file")
    v.add_argument("where", metavar="DATASTORE:PATH")
    v.add_argument("--overwrite", action="store_true")
    v.add_argument("--plan", action="store_true")
    v.set_defaults(handler=upload)
    v = leaf(verbs, "download", "download a file")
    v.add_argument("where", metavar="DATASTORE:PATH")
    v.add_argument("dest", help="a local file")
    v.add_argument("--overwrite", action="store_true")
    v.set_defaults(handler=download)
    v = leaf(verbs, "rm", "remove a file or folder")
    v.add_argument("where", metavar="DATASTORE:PATH")
    v.add_argument("--force", "-f", action="store_true", help="no error when it is missing")
    v.add_argument("--plan", action="store_true")
    v.set_defaults(handler=rm)
    v = leaf(verbs, "mkdir", "make a folder (and its parents)")
    v.add_argument("where", metavar="DATASTORE:PATH")
    v.add_argument("--plan", action="store_true")
    v.set_defaults(handler=mkdir)


def split(text: str) -> tuple[str, str]:
    if text.startswith("["):
        name, sep, path = text[1:].partition("]")
        if sep:
            return name, path.strip()
    name, _, path = text.partition(":")
    if not name:
        raise UsageError(f"{text!r}: name the datastore, as DATASTORE:PATH")
    return name, path.strip("/")


def datacenter(conn: Connection) -> str:
    if conn.target.datacenter:
        return conn.target.datacenter
    names = sorted(v["name"] for _, v in spherekit.fetch(conn.session, "Datacenter", ["name"]))
    if len(names) != 1:
        raise UsageError(f"there are {len(names)} datacenters ({', '.join(names)}) — "
                         "pick one with --datacenter")  # fmt: skip
    return str(names[0])


def ls(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import datastore as ds

    name, path = split(args.where)
    files = ds.ls(conn.session, datacenter(conn), name, path)
    rows = [{"path": f.path, "name": f.name, "size": f.size, "modified": f.modified,
             "folder": f.is_folder} for f in files]  # fmt: skip
    return Result(rows, table(rows, [("name", "NAME"), ("size", "SIZE"),
                                     ("modified", "MODIFIED"), ("folder", "FOLDER")]))  # fmt: skip


def upload(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import datastore as ds

    name, path = split(args.where)
    if not path:
        path = os.path.basename(args.source)
    dc = datacenter(conn)
    with progress(f"upload {os.path.basename(args.source)}") as bar:
        u = ds.upload(conn.session, dc, name, path, args.source,
                      journal=journal(), overwrite=args.overwrite, plan=args.plan,
                      on_progress=bar.transfer)  # fmt: skip
    data = {"path": u.path, "size": u.size, "sha256": u.sha256,
            "planned": [str(c) for c in u.planned]}  # fmt: skip
    return Result(data, f"[{name}] {u.path}: {u.size} bytes, sha256 {u.sha256}")


def download(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import datastore as ds

    name, path = split(args.where)
    dc = datacenter(conn)
    with progress(f"download {path}") as bar:
        d = ds.download(conn.session, dc, name, path, args.dest,
                        overwrite=args.overwrite, on_progress=bar.transfer)  # fmt: skip
    data = {"path": d.path, "size": d.size, "sha256": d.sha256}
    return Result(data, f"{args.dest}: {d.size} bytes, sha256 {d.sha256}")


def rm(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import datastore as ds

    name, path = split(args.where)
    dc = datacenter(conn)
    with progress(f"rm [{name}] {path}"):
        done = ds.rm(conn.session, dc, name, path, journal=journal(),
                     missing_ok=args.force, plan=args.plan)  # fmt: skip
    return Result({"path": path, "removed": done}, f"removed [{name}] {path}" if done else "")


def mkdir(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import datastore as ds

    name, path = split(args.where)
    done = ds.mkdir(conn.session, datacenter(conn), name, path, journal=journal(),
                    exist_ok=True, plan=args.plan)  # fmt: skip
    return Result({"path": path, "created": done}, f"[{name}] {path}")
