"""``spherekit about``: what the target is (product, version, API type, instance UUID)."""

from __future__ import annotations

import argparse
from typing import Any

from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import Connection

__all__ = ["add"]


def add(sub: Any) -> None:
    leaf(sub, "about", "what the target is").set_defaults(handler=about)


def about(conn: Connection, args: argparse.Namespace) -> Result:
    a = conn.session.content.about
    data = {
        "name": a.name,
        "full_name": a.fullName,
        "version": a.version,
        "build": a.build,
        "api_type": a.apiType,
        "api_version": a.apiVersion,
        "instance_uuid": a.instanceUuid,
        "target": "lab" if conn.key is None else conn.key[0],  # never the URL's password
        "lab": str(conn.lab) if conn.lab is not None else None,
    }
    rows = [{"k": k, "v": v} for k, v in data.items()]
    return Result(data, table(rows, [("k", "FIELD"), ("v", "VALUE")]))
