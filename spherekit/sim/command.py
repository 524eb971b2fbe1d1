"""The ``sim`` commands: ``serve`` a simulator; ``reset`` and ``fault`` a running one.

The same code serves ``spherekit sim ...`` (spherekit.cli) and ``python -m spherekit.sim ...``.

``serve`` prints the SDK URL with the credentials as its first stdout line once the server
accepts connections (the certificate's SHA-256 thumbprint follows on stderr), and serves
until SIGINT or SIGTERM, then stops cleanly (with ``--state``, everything is flushed).
``reset`` and ``fault`` talk to a served simulator's control plane (``/_sim``, see
spherekit.sim.control) at ``--url`` (that first line; or ``$SPHEREKIT_SIM_URL``).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

from spherekit.errors import SpherekitError, TLSError

__all__ = ["OneLineParser", "add_commands", "main", "run"]


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:0), got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count (0 or more), got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds (0 or more), got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None


def _api_version(text: str) -> str:
    from spherekit.schema.registry import VERSIONS

    known = [v for v in VERSIONS if v[:1].isdigit() and v >= "6"]
    if text not in known:
        choices = ", ".join(known)
        raise argparse.ArgumentTypeError(f"unknown API version {text!r}; one of: {choices}")
    return text


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability from 0 to 1, got {text!r}")
    return value


def _field(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw  # a plain string


def add_commands(sub: Any) -> None:
    """Add ``serve``, ``reset`` and ``fault`` to an argparse subparsers object."""
    s = sub.add_parser("serve", help="serve a simulated vCenter", description=__doc__)
    s.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="address to listen on; port 0 picks a free port (default 127.0.0.1:0)",
    )
    s.add_argument("--no-tls", action="store_true", help="serve plain HTTP instead of HTTPS")
    from spherekit.sim.vpx import VpxModel  # (here: the CLI imports this module for its parser)

    m = VpxModel()
    for flag, attr, text in [
        ("--datacenters", "datacenters", "datacenters"),
        ("--clusters", "clusters", "clusters per datacenter"),
        ("--hosts", "hosts", "hosts per cluster"),
        ("--standalone-hosts", "standalone_hosts", "standalone hosts per datacenter"),
        ("--vms", "vms", "VMs per standalone host and per cluster resource pool"),
        ("--datastores", "datastores", "datastores per datacenter"),
        ("--folders", "folders", "datacenters placed in folders"),
        ("--portgroups", "portgroups", "distributed portgroups per datacenter"),
    ]:
        default = getattr(m, attr)
        s.add_argument(
            flag, type=_count, default=default, metavar="N", help=f"{text} (default {default})"
        )
    s.add_argument("--user", default="user", help="login user name (default: user)")
    s.add_argument("--password", default="pass", help="login password (default: pass)")
    s.add_argument("--seed", type=_seed, default=None, help="seed for UUIDs, MACs and addresses")
    s.add_argument(
        "--state",
        metavar="FILE",
        help="keep the simulator in this SQLite file (loaded if it exists; the inventory "
        "flags then do not apply); datastore files go to FILE.files",
    )
    s.add_argument(
        "--session-timeout",
        type=_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="idle sessions expire after this long; 0: never (default 1800)",
    )
    s.add_argument(
        "--task-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="how long each task runs (default 0)",
    )
    s.add_argument(
        "--esx", action="store_true", help="a standalone ESXi endpoint instead of vCenter"
    )
    s.add_argument(
        "--api-version",
        type=_api_version,
        default="8.0.2.0",
        metavar="VERSION",
        help="the vim25 version served, e.g. 7.0.0.0 for a server older than 7.0 U2 "
        "(default 8.0.2.0)",
    )
    s.set_defaults(run=_serve)

    def control_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--url",
            default=os.environ.get("SPHEREKIT_SIM_URL"),
            help="the simulator's URL with credentials, as serve prints it "
            "(default: $SPHEREKIT_SIM_URL)",
        )
        tls = p.add_mutually_exclusive_group()
        tls.add_argument("--thumbprint", help="the certificate's SHA-256 thumbprint (https)")
        tls.add_argument("--ca-file", help="a PEM file with the CA of the certificate (https)")
        tls.add_argument("--insecure", action="store_true", help="do not check the certificate")

    r = sub.add_parser("reset", help="reset a running simulator to its initial inventory")
    control_flags(r)
    r.add_argument("--seed", type=_seed, default=None, help="a new seed")
    r.set_defaults(run=_reset)

    f = sub.add_parser("fault", help="fault rules of a running simulator")
    fsub = f.add_subparsers(dest="fault_command", required=True, metavar="{add,list,remove,clear}")
    add = fsub.add_parser("add", help="add a fault rule (see spherekit.sim.faultrules)")
    control_flags(add)
    add.add_argument("--method", required=True, help='a vim25 method, or "*"')
    add.add_argument("--object", help="only calls on this moref value (e.g. vm-42)")
    add.add_argument("--probability", type=_probability, default=None, help="0..1 (default 1)")
    add.add_argument("--count", type=_count, default=None, help="fire this many times")
    add.add_argument(
        "--stage", choices=["call", "task"], default="call", help="fail the call or its task"
    )
    action = add.add_mutually_exclusive_group(required=True)
    action.add_argument("--fault", help="a vSphere fault type, e.g. InvalidState")
    action.add_argument("--delay", type=_seconds, help="delay the call by SECONDS")
    action.add_argument("--drop", action="store_true", help="close the connection unanswered")
    action.add_argument("--status", type=int, help="answer with this HTTP status (e.g. 503)")
    add.add_argument(
        "--field",
        type=_field,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a field of the fault (VALUE is JSON, or a plain string)",
    )
    add.add_argument("--message", help="the fault's message")
    add.set_defaults(run=_fault_add)
    for name, text, fn in [
        ("list", "list the fault rules", _fault_list),
        ("clear", "remove every fault rule", _fault_clear),
    ]:
        p = fsub.add_parser(name, help=text)
        control_flags(p)
        p.set_defaults(run=fn)
    rm = fsub.add_parser("remove", help="remove one fault rule")
    control_flags(rm)
    rm.add_argument("id", type=int, help="the rule's id")
    rm.set_defaults(run=_fault_remove)


# -- serve ----------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from spherekit.sim.simulator import Simulator
    from spherekit.sim.vpx import VpxModel

    host, port = args.listen
    model = VpxModel(
        datacenters=args.datacenters,
        clusters=args.clusters,
        hosts=args.hosts,
        standalone_hosts=args.standalone_hosts,
        vms=args.vms,
        datastores=args.datastores,
        folders=args.folders,
        portgroups=args.portgroups,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exists = args.state is not None and os.path.exists(args.state)
    sim = Simulator(
        model,
        user=args.user,
        password=args.password,
        seed=args.seed,
        session_timeout=args.session_timeout or None,
        task_delay=args.task_delay,
        state=args.state,
        host=host,
        port=port,
        tls=not args.no_tls,
        esx=args.esx,
        api_version=args.api_version,
    )
    # the inventory lives as long as the process: keep the collector from rescanning it
    # (a full collection over 10,000 VMs' objects would stall requests for ~0.1 s)
    gc.collect()
    gc.freeze()
    try:
        url = sim.start()
        print(url, flush=True)
        if sim.thumbprint:
            print(f"certificate SHA-256 thumbprint: {sim.thumbprint}", file=sys.stderr, flush=True)
        if exists:
            note = f"loaded {args.state} (the inventory flags do not apply to a saved state)"
            print(note, file=sys.stderr, flush=True)
        while not stop.wait(3600):
            pass
    finally:
        sim.stop()
    return 0


# -- the control plane's client -----------------------------------------------------------------


def _control(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    from spherekit.wire.transport import HttpTransport, Request

    if not args.url:
        raise SpherekitError("give the simulator's URL: --url (or $SPHEREKIT_SIM_URL)")
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpherekitError(f"--url must be an http(s) URL, not {args.url!r}")
    netloc = parts.netloc.rpartition("@")[2]
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else b""
    with HttpTransport(
        f"{parts.scheme}://{netloc}",
        insecure=args.insecure,
        ca_file=args.ca_file,
        thumbprint=args.thumbprint,
    ) as t:
        response = t.send(Request(method, f"/_sim{path}", headers, data))
    try:
        answer = json.loads(response.body)
    except ValueError:
        answer = None
    if response.status != 200:
        why = answer.get("error") if isinstance(answer, dict) else response.body[:200].decode()
        raise SpherekitError(f"the control plane answered {response.status}: {why}")
    return answer


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _reset(args: argparse.Namespace) -> int:
    _print(_control(args, "POST", "/reset", {"seed": args.seed} if args.seed is not None else {}))
    return 0


def _fault_add(args: argparse.Namespace) -> int:
    rule: dict[str, Any] = {"method": args.method, "stage": args.stage}
    for key in ("object", "probability", "count", "message"):
        if getattr(args, key) is not None:
            rule[key] = getattr(args, key)
    if args.fault:
        rule["fault"] = args.fault
        if args.field:
            rule["fields"] = dict(args.field)
    elif args.delay is not None:
        rule["delay"] = args.delay
    elif args.drop:
        rule["drop"] = True
    else:
        rule["status"] = args.status
    _print(_control(args, "POST", "/faults", rule))
    return 0


def _fault_list(args: argparse.Namespace) -> int:
    _print(_control(args, "GET", "/faults"))
    return 0


def _fault_clear(args: argparse.Namespace) -> int:
    _control(args, "DELETE", "/faults")
    return 0


def _fault_remove(args: argparse.Namespace) -> int:
    _control(args, "DELETE", f"/faults/{args.id}")
    return 0


# -- entry points --------------------------------------------------------------------------------


def run(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed ``sim`` command; errors are one line on stderr (exit status 1)."""
    try:
        code: int = args.run(args)
    except TLSError as exc:  # the fix in this command's flags, not in Python terms
        print(f"{prog}: error: {exc.in_flags()}", file=sys.stderr)
        return 1
    except (SpherekitError, ValueError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m spherekit.sim``."""
    parser = OneLineParser(prog="python -m spherekit.sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    add_commands(sub)
    args = parser.parse_args(argv)
    fault = getattr(args, "fault_command", None)
    return run(args, f"{parser.prog} {args.command}" + (f" {fault}" if fault else ""))
