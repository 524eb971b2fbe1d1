"""Create nodes: push-based task waits against the polling of the anchors, in the same run.

    python -m benchmarks.create_nodes [--nodes 100] [--task-delay 0.5] [--parallel 8]
                                      [--repeat 3] [--poll 0.5 2]

A served spherekit.sim (``python -m spherekit.sim serve --task-delay D`` in its own process,
so the server does not share the client's GIL) on 127.0.0.1 over HTTPS. Every task it runs
takes ``D`` seconds (a fifth of it queued, the rest running). Each contender clones
``DC0_H0_VM0`` ``--nodes`` times into a new folder, at most ``--parallel`` clones in flight
(a worker thread per slot: start the clone, wait for it, start the next), every
``CloneVM_Task`` started through :class:`spherekit.compute.ops.Operation` (journaled):

push
    ``op.wait([task])`` (``spherekit.task.wait_for_tasks``: a PropertyCollector filter and
    ``WaitForUpdatesEx``); its ``on_progress`` callback timestamps the moment the client
    sees the task reach ``success``.
create_nodes
    ``spherekit.compute.nodes_create.create_nodes`` (when it exists) with ``power_on=False,
    wait_ip=False``, the source first made a template (untimed), timed as a whole (its
    checks and bulk reads included). Its notice times come from its journal.
poll 0.5 s, poll 2 s
    the anchors' way (oslo.vmware's ``_poll_task`` with its default
    ``task_poll_interval=0.5``; Ansible, libcloud and others poll every 1-10 s): each task
    is read (``info.state``, one ``RetrievePropertiesEx``) every interval until it is done.
    The first read comes at a random offset in ``[0, interval)`` after the start (seeded),
    so the notice delay is not locked to the simulator's fixed task duration (real tasks
    vary; locked, every task would be noticed either at once or a full interval late).

Measured per contender: wall time (first start to last notice); the sum over tasks of the
server's ``info.completeTime - info.startTime`` (and of ``completeTime - queueTime``), read
in one bulk ``RetrievePropertiesEx`` afterwards; ``wall / (sum / parallel)`` (1.0 would be
perfect parallelism); the notice delay of every task, the client's ``datetime.now(UTC)``
when it sees success minus the server's ``completeTime`` (one machine, one clock) -> p50,
p90, p99, max (also from the journal: when the Operation journaled the task's outcome,
right after its wait returned; milliseconds); and the HTTP requests the client sent.

Between contenders the simulator is reset to its initial inventory (``POST /_sim/reset``:
the clones and tasks are gone) and the client logs in again. The contenders run in an
order that rotates with each repetition; medians over repetitions are reported. Results go
to ``benchmarks/results/create_nodes.json`` (``--json``). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib
import math
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import spherekit
from benchmarks._report import add_json_flag, environment, save, summary, table
from spherekit import find
from spherekit.compute import Journal, Operation
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.wire.transport import HttpTransport, Request, Response

SOURCE = "/DC0/vm/DC0_H0_VM0"
FOLDER = "/DC0/vm"
GROUP = "bench-create-nodes"
_TIMES = ["info.state", "info.queueTime", "info.startTime", "info.completeTime"]


# --- the lab --------------------------------------------------------------------------------


class Server:
    """``python -m spherekit.sim serve`` in a subprocess: its URL and thumbprint."""

    def __init__(self, task_delay: float) -> None:
        cmd = [sys.executable, "-m", "spherekit.sim", "serve", "--seed", "1",
               "--task-delay", str(task_delay)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.url = self.proc.stdout.readline().strip()  # printed once it accepts connections
        line = self.proc.stderr.readline().strip()
        if not self.url.startswith("https://") or "thumbprint:" not in line:
            self.stop()
            raise RuntimeError(f"the simulator did not start: {self.url!r} {line!r}")
        self.thumbprint = line.split("thumbprint:", 1)[1].strip()
        parts = urlsplit(self.url)
        self.origin = f"https://{parts.netloc.rpartition('@')[2]}"
        self.auth = base64.b64encode(f"{parts.username}:{parts.password}".encode()).decode()

    def reset(self) -> None:
        """Back to the initial inventory (clones, folders and tasks gone; sessions ended)."""
        headers = {"Authorization": f"Basic {self.auth}", "Content-Type": "application/json"}
        with HttpTransport(self.origin, thumbprint=self.thumbprint) as t:
            answer = t.send(Request("POST", "/_sim/reset", headers, b"{}"))
        if answer.status != 200:
            raise RuntimeError(f"reset answered {answer.status}: {answer.body[:200]!r}")

    def connect(self, pool_size: int) -> tuple[Session, Counting]:
        transport = Counting(HttpTransport(self.origin, thumbprint=self.thumbprint,
                                           pool_size=pool_size))  # fmt: skip
        return spherekit.connect(self.url, transport=transport), transport

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Counting:
    """A transport that counts the requests it sends (by SOAP method)."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner
        self.sent: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        with self._lock:
            key = request.soap_method or request.path
            self.sent[key] = self.sent.get(key, 0) + 1
        return self.inner.send(request, timeout=timeout)

    def close(self) -> None:
        self.inner.close()


# --- the contenders -------------------------------------------------------------------------


@dataclass
class Run:
    """What one contender's run observed."""

    wall: float = 0.0
    noticed: dict[MoRef, datetime] = field(default_factory=dict)  # task -> client saw success
    tasks: list[MoRef] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    journal: Journal = field(default_factory=Journal)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, task: MoRef) -> None:
        with self._lock:
            self.tasks.append(task)

    def notice(self, task: MoRef) -> None:
        now = datetime.now(UTC)
        with self._lock:
            self.noticed.setdefault(task, now)


def clone_spec() -> Any:
    from spherekit.schema.vim25.data import VirtualMachineCloneSpec, VirtualMachineRelocateSpec

    return VirtualMachineCloneSpec(
        location=VirtualMachineRelocateSpec(), powerOn=False, template=False
    )


def _slots(n: int, parallel: int, one: Callable[[int], None]) -> float:
    """Run ``one(i)`` for i < n on ``parallel`` threads; the wall time in seconds."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel, thread_name_prefix="bench-slot") as pool:
        for f in [pool.submit(one, i) for i in range(n)]:
            f.result()
    return time.perf_counter() - t0


def push(session: Session, n: int, parallel: int, **_: Any) -> Run:
    run = Run()
    vm, folder = find.by_path(session, SOURCE), find.by_path(session, FOLDER)

    def on_progress(task: MoRef, percent: int | None, state: str | None) -> None:
        if state in ("success", "error"):
            run.notice(task)

    with Operation(session, run.journal, "bench: create nodes", on_progress=on_progress) as op:
        group = op.write(folder, "CreateFolder", name=GROUP)
        spec = clone_spec()

        def one(i: int) -> None:
            task = op.start(vm, "CloneVM_Task", folder=group, name=f"node-{i:03d}", spec=spec)
            run.add(task)
            op.wait([task])

        run.wall = _slots(n, parallel, one)
    return run


def poll(session: Session, n: int, parallel: int, *, interval: float, seed: int) -> Run:
    run = Run()
    vm, folder = find.by_path(session, SOURCE), find.by_path(session, FOLDER)
    rng = random.Random(seed)
    offsets = [rng.uniform(0, interval) for _ in range(n)]
    with Operation(session, run.journal, "bench: create nodes (polled)") as op:
        group = op.write(folder, "CreateFolder", name=GROUP)
        spec = clone_spec()

        def one(i: int) -> None:
            task = op.start(vm, "CloneVM_Task", folder=group, name=f"node-{i:03d}", spec=spec)
            run.add(task)
            spec_state = filter_spec("Task", ["info.state"], [task])
            time.sleep(offsets[i])  # the anchors' way, measured here: a sleep loop
            while True:
                ((_, values),) = retrieve(session, spec_state)
                if values["info.state"] in ("success", "error"):
                    run.notice(task)
                    return
                time.sleep(interval)

        run.wall = _slots(n, parallel, one)
    return run


def create_nodes_api() -> Callable[..., Any] | None:
    """``spherekit.compute.nodes_create.create_nodes`` if it exists (written concurrently)."""
    try:
        module = importlib.import_module("spherekit.compute.nodes_create")
    except ImportError:
        return None
    fn = getattr(module, "create_nodes", None)
    return fn if callable(fn) else None


def via_create_nodes(session: Session, n: int, parallel: int, **_: Any) -> Run:
    """The compute layer's own ``create_nodes`` (no power-on, no IP wait), timed as a whole.

    Its image must be a template: the source VM is powered off and marked as one first
    (untimed). Its notice times come from its journal (see :func:`journal_notices`).
    """
    from spherekit.compute.images import mark_template
    from spherekit.task import wait_for_task

    fn = create_nodes_api()
    assert fn is not None
    vm = find.by_path(session, SOURCE)
    ((_vm, values),) = retrieve(
        session, filter_spec("VirtualMachine", ["runtime.powerState"], [vm])
    )
    if str(values["runtime.powerState"]) != "poweredOff":
        wait_for_task(session, session.call(vm, "PowerOffVM_Task"))
    mark_template(session, vm)
    run = Run()
    t0 = time.perf_counter()
    fn(session, vm, n, GROUP, power_on=False, wait_ip=False, parallel=parallel,
       journal=run.journal)  # fmt: skip
    run.wall = time.perf_counter() - t0
    run.tasks = [t for t, _ in journal_notices(run.journal, started=True)]
    return run


def journal_notices(journal: Journal, *, started: bool = False) -> list[tuple[MoRef, datetime]]:
    """From a journal: (task, when its outcome was journaled) — or when it was started.

    An Operation journals a task's outcome right after ``wait_for_tasks`` returns (after
    the notice and the ``DestroyPropertyCollector`` of its watch); times have milliseconds.
    """
    out = []
    for e in journal.entries():
        if e.task is None:
            continue
        wanted = (e.method == "CloneVM_Task" and e.outcome == "started") if started else (
            e.method == "task" and e.outcome == "ok")  # fmt: skip
        if wanted:
            kind, _, value = e.task.partition(":")
            out.append((MoRef(kind, value), datetime.fromisoformat(e.time)))
    return out


# --- measuring ------------------------------------------------------------------------------


def server_times(session: Session, run: Run) -> dict[MoRef, dict[str, Any]]:
    """Every clone task's state and times, in one bulk read."""
    return dict(retrieve(session, filter_spec("Task", _TIMES, run.tasks)))


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def measure(run: Run, times: dict[MoRef, dict[str, Any]], parallel: int) -> dict[str, Any]:
    bad = [t for t, v in times.items() if v.get("info.state") != "success"]
    if bad:
        raise RuntimeError(f"{len(bad)} clone tasks did not succeed: {bad[:5]}")

    def secs(v: dict[str, Any], a: str, b: str) -> float:
        return float((v[b] - v[a]).total_seconds())

    running = sum(secs(v, "info.startTime", "info.completeTime") for v in times.values())
    total = sum(secs(v, "info.queueTime", "info.completeTime") for v in times.values())
    out: dict[str, Any] = {
        "tasks": len(times),
        "wall": run.wall,
        "server_sum_running": running,
        "server_sum_queued_to_done": total,
        "wall_over_ideal_running": run.wall / (running / parallel),
        "wall_over_ideal_queued_to_done": run.wall / (total / parallel),
        "requests": sum(run.requests.values()),
        "requests_by_method": dict(sorted(run.requests.items())),
    }
    journaled = dict(journal_notices(run.journal))
    for key, noticed in (("notice", run.noticed), ("notice_journal", journaled)):
        if not noticed:
            continue
        if len(noticed) != len(times):
            raise RuntimeError(f"{key}: {len(noticed)} of {len(times)} tasks")
        delays = [(noticed[t] - v["info.completeTime"]).total_seconds()
                  for t, v in times.items()]  # fmt: skip
        out[key] = {f"p{p}": percentile(delays, p) for p in (50, 90, 99)}
        out[key]["max"] = max(delays)
        out[key]["min"] = min(delays)
    return out


Contender = Callable[..., Run]


def contenders(polls: Sequence[float]) -> dict[str, tuple[Contender, dict[str, Any]]]:
    out: dict[str, tuple[Contender, dict[str, Any]]] = {"push": (push, {})}
    if create_nodes_api() is not None:
        out["create_nodes"] = (via_create_nodes, {})
    for i, interval in enumerate(polls):
        out[f"poll {interval:g} s"] = (poll, {"interval": interval, "seed": 1000 + i})
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    print(f"starting spherekit.sim serve --task-delay {args.task_delay} ...", flush=True)
    server = Server(args.task_delay)
    todo = contenders(args.poll)
    names = list(todo)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    try:
        for rep in range(args.repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                if name in errors:
                    continue
                server.reset()
                gc.collect()
                session, counter = server.connect(pool_size=args.parallel + 4)
                try:
                    fn, extra = todo[name]
                    counter.sent.clear()
                    try:
                        r = fn(session, args.nodes, args.parallel, **extra)
                    except Exception as e:  # create_nodes is written concurrently
                        if name != "create_nodes":
                            raise
                        errors[name] = f"{type(e).__name__}: {e}"
                        print(f"  {name}: skipped ({errors[name]})", flush=True)
                        continue
                    r.requests = dict(counter.sent)
                    results[name].append(measure(r, server_times(session, r), args.parallel))
                finally:
                    session.close()
                m = results[name][-1]
                notice = m.get("notice") or m.get("notice_journal")
                text = (
                    f", notice p50 {_ms(notice['p50'])} p99 {_ms(notice['p99'])}" if notice else ""
                )
                print(f"  repetition {rep + 1}/{args.repeat} {name}: wall {m['wall']:.2f} s, "
                      f"x{m['wall_over_ideal_running']:.2f} ideal{text}", flush=True)  # fmt: skip
    finally:
        server.stop()
    return record(args, {n: v for n, v in results.items() if v}, errors)


def record(
    args: argparse.Namespace, results: dict[str, list[dict[str, Any]]], errors: dict[str, str]
) -> dict[str, Any]:
    def med(name: str, *path: str) -> float:
        vals = []
        for m in results[name]:
            v: Any = m
            for p in path:
                v = v[p]
            vals.append(float(v))
        return statistics.median(vals)

    medians: dict[str, dict[str, Any]] = {}
    for name, ms in results.items():
        medians[name] = {
            "wall": summary([m["wall"] for m in ms]),
            "server_sum_running": med(name, "server_sum_running"),
            "server_sum_queued_to_done": med(name, "server_sum_queued_to_done"),
            "wall_over_ideal_running": med(name, "wall_over_ideal_running"),
            "wall_over_ideal_queued_to_done": med(name, "wall_over_ideal_queued_to_done"),
            "requests": med(name, "requests"),
        }
        for key in ("notice", "notice_journal"):
            if key in ms[0]:
                medians[name][key] = {k: med(name, key, k) for k in ms[0][key]}
    ratios: dict[str, Any] = {}
    p = medians["push"]["notice"]
    for name, m in medians.items():
        if name.startswith("poll"):
            ratios[f"{name} / push"] = {
                "notice_p50": m["notice"]["p50"] / p["p50"],
                "notice_p99": m["notice"]["p99"] / p["p99"],
                "wall": m["wall"]["median"] / medians["push"]["wall"]["median"],
            }
    return {
        "benchmark": "create_nodes",
        "what": f"{args.nodes} clones of DC0_H0_VM0, at most {args.parallel} in flight, "
        f"every task {args.task_delay} s on a served spherekit.sim",
        "nodes": args.nodes,
        "task_delay": args.task_delay,
        "parallel": args.parallel,
        "repeat": args.repeat,
        "environment": environment(),
        "medians": medians,
        "ratios": ratios,
        "skipped": errors,
        "runs": results,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def report(rec: dict[str, Any]) -> str:
    rows = []
    for name, m in rec["medians"].items():
        n = m.get("notice")
        rows.append([
            name, f"{m['wall']['median']:.2f} s", f"{m['server_sum_running']:.1f} s",
            f"{m['wall_over_ideal_running']:.2f}", f"{m['wall_over_ideal_queued_to_done']:.2f}",
            *([_ms(n[k]) for k in ("p50", "p90", "p99", "max")] if n else ["-"] * 4),
            f"{m['requests']:.0f}",
        ])  # fmt: skip
    header = ["", "wall", "server sum", "wall/ideal", "(queued)", "notice p50", "p90", "p99",
              "max", "requests"]  # fmt: skip
    lines = [
        f"create nodes: {rec['what']} ({rec['repeat']} repetitions, medians)",
        "",
        table(header, rows),
        "",
    ]
    journaled = [
        [name, *(_ms(m["notice_journal"][k]) for k in ("p50", "p90", "p99", "max"))]
        for name, m in rec["medians"].items()
        if "notice_journal" in m
    ]
    if journaled:
        lines += [
            "notice delay by the journal (outcome journaled after the wait returns; ms):",
            "",
            table(["", "p50", "p90", "p99", "max"], journaled),
            "",
        ]
    for name, r in rec["ratios"].items():
        lines.append(f"{name}: notice p50 {r['notice_p50']:.0f}x, p99 {r['notice_p99']:.0f}x, "
                     f"wall {r['wall']:.2f}x")  # fmt: skip
    for name, why in rec["skipped"].items():
        lines.append(f"{name}: skipped ({why})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.create_nodes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--nodes", type=int, default=100, help="clones per run (default 100)")
    parser.add_argument("--task-delay", type=float, default=0.5,
                        help="seconds every simulator task takes (default 0.5)")  # fmt: skip
    parser.add_argument("--parallel", type=int, default=8,
                        help="clones in flight at most (default 8; the simulator runs 8 "
                        "tasks at once)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--poll", type=float, nargs="+", default=[0.5, 2.0],
                        help="the pollers' intervals (default 0.5 2)")  # fmt: skip
    add_json_flag(parser, "create_nodes")
    args = parser.parse_args(argv)
    if args.nodes < 1 or args.parallel < 1 or args.repeat < 1 or args.task_delay < 0:
        parser.error("--nodes, --parallel and --repeat are at least 1; --task-delay >= 0")
    rec = run(args)
    print()
    print(report(rec))
    save(args.json, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
