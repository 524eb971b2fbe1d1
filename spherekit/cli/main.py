"""The root of the ``spherekit`` command: global flags, then one subcommand per noun.

Each noun module has ``add(subparsers)``; its verbs set ``handler(conn, args) -> Result``
(``conn`` is a :class:`~spherekit.cli.target.Connection`, or None for verbs that set
``offline=True``). This module connects, runs the handler, prints the result (``--json``:
one JSON document) and turns errors into one line on stderr and an exit code by class.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from spherekit.cli import (
    about,
    audit,
    datastore,
    guest,
    image,
    inventory_cmd,
    journal,
    lab,
    node,
    session,
    sim,
    snapshot,
    vm,
)
from spherekit.cli.output import Result, classify, to_json
from spherekit.cli.target import Connection, add_flags
from spherekit.sim.command import OneLineParser

__all__ = ["main", "parser"]

#: the nouns, each a module with ``add(subparsers)``
NOUNS = [about, inventory_cmd, vm, node, image, snapshot, datastore, guest, audit, journal,
         lab, session, sim]  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="spherekit",
        description="A typed toolkit for VMware vSphere. With no --url (or $SPHEREKIT_URL) "
        "commands work on the local lab, a simulated vCenter kept in your data directory.",
    )
    add_flags(p)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    sub = p.add_subparsers(dest="noun", required=True, metavar="NOUN", parser_class=OneLineParser)
    for noun in NOUNS:
        noun.add(sub)
    return p


def execute(args: argparse.Namespace) -> Result:
    if getattr(args, "offline", False):
        result: Result = args.handler(None, args)
        return result
    with Connection(args) as conn:
        result = args.handler(conn, args)
        return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not hasattr(args, "handler"):  # the sim noun runs itself
        code: int = args.noun_run(args)
        return code
    try:
        result = execute(args)
    except KeyboardInterrupt:
        print("spherekit: interrupted — nothing more was sent", file=sys.stderr)
        return 130
    except Exception as exc:  # every error: one line, an exit code by class
        code, line = classify(exc)
        print(line, file=sys.stderr)
        return code
    try:
        if args.json:
            print(to_json(result.data), flush=True)
        elif result.text:
            print(result.text, flush=True)
    except BrokenPipeError:  # `spherekit vm ls | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return result.code
