"""``spherekit journal``: the writes the CLI made, from the journal file
(``$SPHEREKIT_JOURNAL`` or ``DATA/journal.jsonl``). Reads only the file; no server."""

from __future__ import annotations

import argparse
import json
from typing import Any

from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import journal as open_journal

__all__ = ["add"]


def add(sub: Any) -> None:
    v = leaf(sub, "journal", "the journal of writes (newest last)")
    v.add_argument("-n", "--count", type=int, default=50, help="the last N entries (default 50)")
    v.add_argument("--operation", help="only entries whose operation contains this text")
    v.set_defaults(handler=show, offline=True)


def show(_conn: None, args: argparse.Namespace) -> Result:
    j = open_journal()
    rows: list[dict[str, Any]] = []
    if j.path is not None and j.path.exists():
        with open(j.path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(entry, dict):
                    rows.append(entry)
    if args.operation:
        rows = [r for r in rows if args.operation in str(r.get("operation", ""))]
    rows = rows[-args.count :] if args.count > 0 else rows
    text = table(rows, [("time", "TIME"), ("operation", "OPERATION"), ("method", "METHOD"),
                        ("target", "TARGET"), ("outcome", "OUTCOME")])  # fmt: skip
    return Result(rows, text)
