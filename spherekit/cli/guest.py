"""``spherekit guest run|upload|download``: programs and files in a guest (VMware Tools).

Guest credentials: ``--guest-user`` / ``--guest-password`` or ``$SPHEREKIT_GUEST_USER`` /
``$SPHEREKIT_GUEST_PASSWORD``. They never reach the journal.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from spherekit.cli.output import Result, leaf, progress
from spherekit.cli.target import Connection, journal
from spherekit.cli.vm import vm_arg
from spherekit.errors import UsageError

__all__ = ["add"]


def _creds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--guest-user", default=os.environ.get("SPHEREKIT_GUEST_USER"))
    p.add_argument("--guest-password", default=os.environ.get("SPHEREKIT_GUEST_PASSWORD"))


def add(sub: Any) -> None:
    p = sub.add_parser("guest", help="in the guest: run, upload, download")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    v = leaf(verbs, "run", "run a program, print its output, exit with its exit code")
    v.add_argument("vm")
    v.add_argument("program")
    v.add_argument("args", nargs="*", help="its arguments (after -- when they start with -)")
    v.add_argument("--timeout", type=float, default=300.0)
    _creds(v)
    v.set_defaults(handler=run)
    v = leaf(verbs, "upload", "copy a local file into the guest")
    v.add_argument("vm")
    v.add_argument("source")
    v.add_argument("guest_path")
    v.add_argument("--overwrite", action="store_true")
    _creds(v)
    v.set_defaults(handler=upload)
    v = leaf(verbs, "download", "copy a file out of the guest")
    v.add_argument("vm")
    v.add_argument("guest_path")
    v.add_argument("dest")
    v.add_argument("--overwrite", action="store_true")
    _creds(v)
    v.set_defaults(handler=download)


def _user(args: argparse.Namespace) -> tuple[str, str]:
    if not args.guest_user or args.guest_password is None:
        raise UsageError("guest commands need --guest-user and --guest-password "
                         "(or $SPHEREKIT_GUEST_USER / $SPHEREKIT_GUEST_PASSWORD)")  # fmt: skip
    return args.guest_user, args.guest_password


def run(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import guest

    user, password = _user(args)
    r = guest.run(conn.session, vm_arg(conn, args.vm), args.program, args.args, user=user,
                  password=password, timeout=args.timeout, journal=journal())  # fmt: skip
    data = {"exit_code": r.exit_code, "stdout": r.stdout, "stderr": r.stderr, "pid": r.pid}
    if not getattr(args, "json", False) and r.stderr:
        sys.stderr.write(r.stderr)
    return Result(data, r.stdout.rstrip("\n"), code=r.exit_code or 0)


def upload(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import guest

    user, password = _user(args)
    ref = vm_arg(conn, args.vm)
    with progress(f"upload {os.path.basename(args.source)}") as bar:
        t = guest.upload(conn.session, ref, args.source, args.guest_path,
                         user=user, password=password, overwrite=args.overwrite,
                         journal=journal(), on_progress=bar.transfer)  # fmt: skip
    size = t.size if t is not None else None
    return Result({"path": args.guest_path, "bytes": size}, f"{args.guest_path}: {size} bytes")


def download(conn: Connection, args: argparse.Namespace) -> Result:
    from spherekit.transfer import guest

    user, password = _user(args)
    ref = vm_arg(conn, args.vm)
    with progress(f"download {args.guest_path}") as bar:
        t = guest.download(conn.session, ref, args.guest_path, args.dest,
                           user=user, password=password, overwrite=args.overwrite,
                           journal=journal(), on_progress=bar.transfer)  # fmt: skip
    return Result(
        {"path": args.dest, "bytes": t.size, "sha256": t.sha256}, f"{args.dest}: {t.size} bytes"
    )
