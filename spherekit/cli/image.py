"""``spherekit image ls|import|export``: images (templates), to and from OVA / OVF.

On a terminal, transfers draw bytes, rate and ETA, and tasks the server's percentage.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from spherekit.cli.output import Result, leaf, progress, table
from spherekit.cli.target import Connection, journal

if TYPE_CHECKING:
    from spherekit.compute.images import Image

__all__ = ["add"]

COLUMNS = [("name", "NAME"), ("cpus", "CPU"), ("memory_mb", "MEMORY_MB"),
           ("disk_bytes", "DISK_BYTES"), ("snapshot", "SNAPSHOT"), ("moref", "MOREF")]  # fmt: skip


def add(sub: Any) -> None:
    p = sub.add_parser("image", help="images (templates): ls, import, export")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    leaf(verbs, "ls", "list images").set_defaults(handler=ls)
    v = leaf(verbs, "import", "import an OVA / OVF (file or https URL) as an image")
    v.add_argument("source", help="a .ova, a .ovf, or an http(s) URL of one")
    v.add_argument("--name", help="the image's name (default: OVF name + content digest)")
    v.add_argument("--datastore", help="the datastore (default: the one with most free space)")
    v.add_argument("--plan", action="store_true", help="list the calls, make none")
    v.set_defaults(handler=import_cmd)
    v = leaf(verbs, "export", "export an image (or VM) to an .ova or a directory")
    v.add_argument("image")
    v.add_argument("destination", help="x.ova, or a directory for .ovf + .mf + disks")
    v.add_argument("--overwrite", action="store_true")
    v.set_defaults(handler=export)


def _row(i: Image) -> dict[str, Any]:
    return {
        "name": i.name, "moref": i.ref.value, "instance_uuid": i.instance_uuid,
        "cpus": i.cpus, "memory_mb": i.memory_mb, "disk_bytes": i.disk_bytes,
        "guest_id": i.guest_id, "snapshot": i.snapshot.value if i.snapshot else None,
    }  # fmt: skip


def ls(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import images

    rows = sorted((_row(i) for i in images.list_images(conn.session)), key=lambda r: r["name"])
    return Result(rows, table(rows, COLUMNS))


def import_cmd(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute.image_import import import_image

    with progress(f"import {args.source}") as bar:
        r = import_image(
            conn.session, args.source, name=args.name, datacenter=conn.target.datacenter,
            datastore=args.datastore, journal=journal(), plan=args.plan,
            on_progress=lambda pct, done, total: bar.transfer(done, total),
        )  # fmt: skip
    planned = [str(c) for c in r.planned]
    data: dict[str, Any] = {
        "name": r.name, "moref": r.ref.value, "digest": r.digest, "uploaded": r.uploaded,
        "bytes": r.bytes, "placement": str(r.placement) if r.placement else None,
        "warnings": r.warnings, "planned": planned,
    }  # fmt: skip
    if args.plan:
        return Result(data, "\n".join(planned))
    how = f"uploaded {r.bytes} bytes" if r.uploaded else "already there, nothing uploaded"
    return Result(data, f"{r.name} ({r.ref.value}): {how}")


def export(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.compute import images
    from spherekit.compute.image_import import export_image

    image = images.find_image(conn.session, args.image, templates_only=False)
    with progress(f"export {image.name}") as bar:
        e = export_image(conn.session, image, args.destination, overwrite=args.overwrite,
                         journal=journal(), on_progress=lambda p, d, t: bar.percent(p))  # fmt: skip
    data = {"path": str(e.path), "bytes": e.bytes,
            "files": [{"name": n, "size": s, "sha256": h} for n, s, h in e.files]}  # fmt: skip
    return Result(data, f"{e.path}: {len(e.files)} file(s), {e.bytes} bytes")
