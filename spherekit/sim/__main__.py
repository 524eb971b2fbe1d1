"""``python -m spherekit.sim serve``: serve a simulated vCenter until SIGINT or SIGTERM.

The first line on stdout is the SDK URL with the credentials, printed once the server
accepts connections; the SHA-256 thumbprint of its certificate follows on stderr.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Sequence

from spherekit.sim.simulator import Simulator
from spherekit.sim.vpx import VpxModel

__all__ = ["main"]


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT (e.g. 127.0.0.1:0), got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a count (0 or more), got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spherekit.sim", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve a simulated vCenter")
    s.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="address to listen on; port 0 picks a free port (default 127.0.0.1:0)",
    )
    s.add_argument("--no-tls", action="store_true", help="serve plain HTTP instead of HTTPS")
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
        s.add_argument(
            flag,
            type=_count,
            default=getattr(m, attr),
            metavar="N",
            help=f"{text} (default {getattr(m, attr)})",
        )
    s.add_argument("--user", default="user", help="login user name (default: user)")
    s.add_argument("--password", default="pass", help="login password (default: pass)")
    s.add_argument("--seed", type=int, default=None, help="seed for UUIDs and MACs")
    s.add_argument(
        "--session-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="idle sessions expire after this long; 0: never (default 1800)",
    )
    s.add_argument(
        "--task-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long each task runs (default 0)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    sim = Simulator(
        model,
        user=args.user,
        password=args.password,
        seed=args.seed,
        session_timeout=args.session_timeout or None,
        task_delay=args.task_delay,
        host=host,
        port=port,
        tls=not args.no_tls,
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
        while not stop.wait(3600):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
