"""``spherekit events`` / ``tasks`` / ``logs``: what happened (events, task history) and the
server's own log (``DiagnosticManager``)."""

from __future__ import annotations

import argparse
from typing import Any

from spherekit.cli import inventory
from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import Connection
from spherekit.compute import audit
from spherekit.schema.base import MoRef

__all__ = ["add"]


def add(sub: Any) -> None:
    v = leaf(sub, "events", "events about an object (default: everything), oldest first")
    v.add_argument("target", nargs="?", help="an inventory path, moref or name")
    v.add_argument("-n", "--count", type=int, default=50, help="at most this many (default 50)")
    v.add_argument("--type", action="append", dest="types", help="only this event type")
    v.set_defaults(handler=events)
    v = leaf(sub, "tasks", "the task history of an object (default: everything)")
    v.add_argument("target", nargs="?")
    v.add_argument("-n", "--count", type=int, default=50)
    v.set_defaults(handler=tasks)
    v = leaf(sub, "logs", "the last lines of the server's log (vpxd, or a host's hostd)")
    v.add_argument("--key", help="the log's key (default: the server's main log)")
    v.add_argument("--host", help="a host (path or name) for its hostd log")
    v.add_argument("-n", "--lines", type=int, default=50)
    v.set_defaults(handler=logs)


def _entity(conn: Connection, text: str | None) -> tuple[MoRef | None, str]:
    if not text:
        return None, "all"
    ref = inventory.resolve(conn.session, text, datacenter=conn.target.datacenter)
    return ref, "all" if ref.type in ("Folder", "Datacenter") else "self"


def events(conn: Connection, args: argparse.Namespace) -> Result:
    ref, rec = _entity(conn, args.target)
    evs = audit.events(conn.session, ref, recursion=rec, max_count=args.count, types=args.types)
    rows = [{"time": e.time, "type": e.type, "user": e.user, "message": e.message,
             "key": e.key, "vm": e.vm, "host": e.host} for e in evs]  # fmt: skip
    return Result(rows, table(rows, [("time", "TIME"), ("type", "TYPE"), ("user", "USER"),
                                     ("message", "MESSAGE")]))  # fmt: skip


def tasks(conn: Connection, args: argparse.Namespace) -> Result:
    ref, rec = _entity(conn, args.target)
    ts = audit.tasks(conn.session, ref, recursion=rec, max_count=args.count)
    rows = [{"task": t.task.value if t.task else None, "description_id": t.description_id,
             "entity": t.entity_name, "state": t.state, "queued": t.queued,
             "started": t.started, "completed": t.completed, "user": t.user,
             "error": t.error} for t in ts]  # fmt: skip
    return Result(rows, table(rows, [("queued", "QUEUED"), ("description_id", "TASK"),
                                     ("entity", "ENTITY"), ("state", "STATE"),
                                     ("error", "ERROR")]))  # fmt: skip


def logs(conn: Connection, args: argparse.Namespace) -> Result:
    host = inventory.resolve(conn.session, args.host, "HostSystem") if args.host else None
    chunk = audit.tail(conn.session, args.key, host=host, lines=args.lines)
    data = {"key": chunk.key, "line_start": chunk.line_start, "line_end": chunk.line_end,
            "lines": chunk.lines}  # fmt: skip
    return Result(data, "\n".join(chunk.lines))
