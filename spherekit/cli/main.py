"""The root of the ``spherekit`` command: global flags, then one subcommand per noun.

Each noun module has ``add(subparsers)``; its verbs set ``handler(conn, args) -> Result``
(``conn`` is a :class:`~spherekit.cli.target.Connection`, or None for verbs that set
``offline=True``). This module connects, runs the handler, prints the result (``--json``:
one JSON document) and turns errors into one line on stderr and an exit code by class.

Only the module of the noun being run is imported: :data:`NOUNS` names each noun's module
and one-line help, so ``spherekit --help`` lists every noun without importing any of them
(a cold command pays for its own noun's imports only).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from spherekit.cli.target import Connection, add_flags
from spherekit.sim.command import OneLineParser

if TYPE_CHECKING:
    from types import ModuleType

    from spherekit.cli.output import Result

__all__ = ["NOUNS", "load", "main", "parser"]

#: noun -> (its module in spherekit.cli, its one-line help); a module may add several nouns,
#: and the help must be the one the module gives (a test compares them)
NOUNS: dict[str, tuple[str, str]] = {
    "about": ("about", "what the target is"),
    "ls": ("inventory_cmd", "list the children of an inventory path (default /)"),
    "find": ("inventory_cmd", "find objects below a path by type and name"),
    "tree": ("inventory_cmd", "the inventory below a path, as a tree"),
    "vm": (
        "vm",
        "virtual machines: ls, info, create, clone, reconfigure, power, ip, destroy, spec",
    ),
    "node": ("node", "nodes: create, ls, destroy (by group)"),
    "image": ("image", "images (templates): ls, import, export"),
    "snapshot": ("snapshot", "VM snapshots: create, tree, revert, rm"),
    "datastore": ("datastore", "datastore files: ls, upload, download, rm, mkdir"),
    "guest": ("guest", "in the guest: run, upload, download"),
    "events": ("audit", "events about an object (default: everything), oldest first"),
    "tasks": ("audit", "the task history of an object (default: everything)"),
    "logs": ("audit", "the last lines of the server's log (vpxd, or a host's hostd)"),
    "journal": ("journal", "the journal of writes (newest last)"),
    "lab": ("lab", "the local lab: status, reset"),
    "session": ("session", "the session: login, logout, whoami"),
    "sim": ("sim", "the vCenter simulator: serve it, reset it, inject faults"),
}


def load(noun: str) -> ModuleType:
    """The module that adds ``noun`` (imported now)."""
    return importlib.import_module(f"spherekit.cli.{NOUNS[noun][0]}")


def parser(noun: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: ``noun``'s module adds its verbs; every other noun is listed
    (with its help) but not imported. ``noun`` None: every noun listed, none imported."""
    p = OneLineParser(
        prog="spherekit",
        description="A typed toolkit for VMware vSphere. With no --url (or $SPHEREKIT_URL) "
        "commands work on the local lab, a simulated vCenter kept in your data directory.",
    )
    add_flags(p)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    sub = p.add_subparsers(dest="noun", required=True, metavar="NOUN", parser_class=OneLineParser)
    chosen = NOUNS[noun][0] if noun in NOUNS else None
    for name, (module, text) in NOUNS.items():
        if module != chosen:
            sub.add_parser(name, help=text, add_help=False)
        elif noun is not None and name == noun:
            load(noun).add(sub)  # adds all of the module's nouns, in its own order
    return p


def _noun(argv: Sequence[str]) -> str | None:
    """The noun of ``argv`` (the global flags parsed, the rest left alone).

    An unknown noun, a missing one, or ``--help`` before the noun ends here, as with any
    argparse error: one line (or the help listing every noun) and the usage exit code.
    """
    args, _rest = parser().parse_known_args(argv)
    noun: str | None = args.noun
    return noun


def execute(args: argparse.Namespace) -> Result:
    if getattr(args, "offline", False):
        result: Result = args.handler(None, args)
        return result
    with Connection(args) as conn:
        result = args.handler(conn, args)
        return result


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser(_noun(argv)).parse_args(argv)
    if not hasattr(args, "handler"):  # the sim noun runs itself
        code: int = args.noun_run(args)
        return code
    from spherekit.cli.output import classify, to_json

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
