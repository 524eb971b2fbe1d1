"""``spherekit sim serve|reset|fault``: the simulator (the code is spherekit.sim.command)."""

from __future__ import annotations

import argparse
from typing import Any

from spherekit.sim import command

__all__ = ["add", "run"]


def add(sub: Any) -> None:
    p = sub.add_parser("sim", help="the vCenter simulator: serve it, reset it, inject faults")
    command.add_commands(p.add_subparsers(dest="command", required=True))
    p.set_defaults(noun_run=run)


def run(args: argparse.Namespace) -> int:
    sub = getattr(args, "fault_command", None)
    return command.run(args, f"spherekit sim {args.command}" + (f" {sub}" if sub else ""))
