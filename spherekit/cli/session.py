"""``spherekit session whoami``: who the target says we are.

(``session login`` / ``logout`` with a validated session cache are not implemented yet.)
"""

from __future__ import annotations

import argparse
from typing import Any

from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import Connection

__all__ = ["add"]


def add(sub: Any) -> None:
    p = sub.add_parser("session", help="the session: whoami")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    leaf(verbs, "whoami", "the logged-in user and session").set_defaults(handler=whoami)


def whoami(conn: Connection, args: argparse.Namespace) -> Result:
    us = conn.session.user_session
    data = {
        "user": us.userName if us else None,
        "full_name": us.fullName if us else None,
        "login_time": us.loginTime if us else None,
        "target": "lab" if conn.lab is not None else conn.target.url,
        "api_version": conn.session.api_version,
    }
    return Result(data, table([{"k": k, "v": v} for k, v in data.items()],
                              [("k", "FIELD"), ("v", "VALUE")]))  # fmt: skip
