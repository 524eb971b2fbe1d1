"""The root of the ``spherekit`` command: one subcommand per noun."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from spherekit.cli import sim
from spherekit.sim.command import OneLineParser

__all__ = ["main", "parser"]

#: the nouns, each a module with ``add(subparsers)`` and ``run(args) -> int``
NOUNS = [sim]


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="spherekit", description="A typed toolkit for VMware vSphere.")
    sub = p.add_subparsers(dest="noun", required=True, metavar="NOUN", parser_class=OneLineParser)
    for noun in NOUNS:
        noun.add(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.noun_run(args)
    return code
