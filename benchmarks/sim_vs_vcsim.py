"""spherekit.sim against govmomi's vcsim: the same 10,000-VM inventory, the same bulk read.

    python -m benchmarks.sim_vs_vcsim [--vms-per-host 5000] [--hosts 2] [--repeat 7]

Both simulators run as subprocesses on 127.0.0.1, over HTTPS, with the same inventory:
one datacenter, no cluster, ``--hosts`` standalone hosts of ``--vms-per-host`` powered-on
VMs each, one datastore.

spherekit.sim
    ``python -m spherekit.sim serve --datacenters 1 --clusters 0 --standalone-hosts 2
    --vms 5000 --datastores 1 --session-timeout 0``
vcsim
    ``tools/vcsim`` (govmomi 0.24.2) with ``-dc=1 -cluster=0 -standalone-host=2 -vm=5000
    -ds=1`` (started by ``benchmarks.bulk_fetch.start_vcsim``)

Measured:

startup
    process start to the URL line on stdout (the inventory is built by then), with
    ``--startups`` starts of each, interleaved; the last start of each is kept for the reads.
raw read
    the bulk read of the six properties as the issue defines it: one ``RetrievePropertiesEx``
    POST (and ``ContinueRetrievePropertiesEx`` while there is a token; neither server pages
    a request without ``maxObjects``, and none is sent), the bytes fully received, each
    answer parsed with ``lxml.etree.fromstring``. The body is spherekit's codec output
    (``property.filter_spec`` + ``codec.encode_call``), identical for both servers (checked).
    One keep-alive httpx client per server, logged in, with one ContainerView created before
    the timing; the timed window is the POSTs and the parses only.
pyVmomi
    ``benchmarks.bulk_fetch.pyvmomi_fetch`` against each server: the idiomatic read
    (ContainerView, RetrievePropertiesEx, ContinueRetrievePropertiesEx while there is a
    token, values into dicts, DestroyView), so its window includes the view's two calls.
memory
    VmRSS (and the peak, VmHWM) of each server process from ``/proc/<pid>/status``, after
    start-up and after all the reads.

Before timing, both inventories are checked: ``hosts x vms-per-host`` VMs split evenly over
the hosts, and which of the six properties each server returns (neither gives its initial
VMs a ``guest.ipAddress``; each returns what it has); pyVmomi must read the same values as
the raw read from each server. The four contenders then run interleaved in a rotating
order; before each run, untimed, both servers are let go idle and the client collects its
garbage (``benchmarks.bulk_fetch.settle``), then one tiny call (``CurrentTime``) goes over
the contender's connection, so every timed read starts on an open keep-alive connection
(spherekit.sim closes connections idle for 5 s; see ``touch_pyvmomi``). With two CPUs or
more, both servers are pinned to the last CPU and the client to the others (``--no-pin``
turns that off).

Prints a table and writes ``benchmarks/results/sim_vs_vcsim.json`` (``--json``). See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import queue
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import httpx
from lxml import etree

import spherekit
from benchmarks._report import add_json_flag, environment, save, summary, table
from benchmarks.bulk_fetch import (
    _CONSOLIDATE,
    _VIEW,
    MTYPE,
    PATHS,
    _ms,
    _retrieve_options,
    _token,
    cpu_seconds,
    floor_values,
    hosts_of,
    pyvmomi_fetch,
    pyvmomi_values,
    rss_mib,
    settle,
    start_vcsim,
    vcsim_pid,
)
from spherekit import property as sk_property
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.wire import codec
from tests.interop.vcsim import Vcsim, build

_Q = "{urn:vim25}"
TARGET_TIME_RATIO = 1.5  # spherekit.sim's raw read at most 1.5x vcsim's
SERVERS = ("spherekit.sim", "vcsim")


# --- the servers ----------------------------------------------------------------------------


class SkSim:
    """``python -m spherekit.sim serve`` as a subprocess (as tests/interop/vcsim.py runs vcsim)."""

    def __init__(self, argv: Sequence[str], startup_timeout: float = 900.0) -> None:
        self.argv = list(argv)
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self.url = ""

    def start(self) -> SkSim:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True,
        )  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout).strip()
        except queue.Empty:
            line = ""
        if "://" not in line:
            log = self.stderr_text()
            self.stop()
            raise RuntimeError(f"spherekit.sim did not report its URL: {line!r}\n{log}")
        self.url = line
        return self

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        fd = self._stderr.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def user(self) -> str:
        return unquote(urlsplit(self.url).username or "")

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.url).password or "")

    @property
    def sdk_url(self) -> str:
        return f"https://{self.host}:{self.port}/sdk"


def sk_argv(hosts: int, vms_per_host: int) -> list[str]:
    return [
        sys.executable, "-m", "spherekit.sim", "serve", "--listen", "127.0.0.1:0",
        "--datacenters", "1", "--clusters", "0", "--standalone-hosts", str(hosts),
        "--vms", str(vms_per_host), "--datastores", "1", "--session-timeout", "0",
    ]  # fmt: skip


def start_sk(hosts: int, vms_per_host: int, pin: bool) -> tuple[SkSim, float]:
    """Start spherekit.sim; pinned like ``start_vcsim`` (the child inherits the affinity)."""
    cpus = sorted(os.sched_getaffinity(0))
    pin = pin and len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, cpus[-1:])
    t0 = time.perf_counter()
    try:
        sim = SkSim(sk_argv(hosts, vms_per_host)).start()
    finally:
        if pin:
            os.sched_setaffinity(0, cpus[:-1])
    return sim, time.perf_counter() - t0


@contextmanager
def tmpdir_for_children(path: str) -> Iterator[None]:
    """Start servers with ``TMPDIR=path``: vcsim writes a directory and files for each VM
    under it (its datastore), and a vcsim stopped by SIGKILL (``Vcsim.stop`` after 10 s,
    while it removes 10,000 of them) would leave them in /tmp; see :func:`wipe`."""
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = path
    try:
        yield
    finally:
        if old is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = old


def wipe(path: str) -> None:
    """Remove what a stopped server left in its ``TMPDIR``."""
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def user_sys(pid: int) -> tuple[float, float]:
    """User and system CPU seconds a process has used (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def hwm_mib(pid: int) -> float:
    """The peak resident set (VmHWM) of a process, MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for text in f:
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) / 1024
    return float("nan")


def thumbprint(host: str, port: int) -> str:
    pem = ssl.get_server_certificate((host, port))
    digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


# --- the raw read ---------------------------------------------------------------------------


class RawReader:
    """One keep-alive httpx client, logged in, with one ContainerView of all VMs.

    :meth:`read` is the issue's raw bulk read: the RetrievePropertiesEx POST (and its
    continuations), answers fully received, each parsed with ``etree.fromstring``.
    """

    def __init__(self, sdk_url: str, user: str, password: str, session: Session) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # self-signed certificates; pyVmomi alike
        self.client = httpx.Client(verify=ctx, timeout=600.0, trust_env=False)
        self.url = sdk_url
        self.pages = 0  # pages and bytes of the last read
        self.bytes = 0
        self.headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"urn:vim25/{session.api_version}"',
        }
        c = session.content
        v = session._vindex  # the API version spherekit negotiated with this server
        assert c.sessionManager is not None and c.viewManager is not None
        login = codec.encode_call(
            "Login", c.sessionManager, {"userName": user, "password": password}, v
        )
        answer = self.client.post(self.url, content=login, headers=self.headers)
        cookie = answer.headers.get("set-cookie", "").split(";", 1)[0]
        if answer.status_code != 200 or "vmware_soap_session" not in cookie:
            raise RuntimeError(f"raw read: Login failed with HTTP {answer.status_code}")
        self.client.cookies.clear()
        self.headers["Cookie"] = cookie
        create = codec.encode_call(
            "CreateContainerView", c.viewManager,
            {"container": c.rootFolder, "type": [MTYPE], "recursive": True}, v,
        )  # fmt: skip
        self.view = self.post(create)[0][0][0].text or ""  # Envelope/Body/Response/returnval
        # the request with a placeholder for the view: the same template for both servers
        self.template = codec.encode_call(
            "RetrievePropertiesEx", c.propertyCollector,
            {"specSet": [sk_property.filter_spec(MTYPE, PATHS, [MoRef("ContainerView", _VIEW)],
                                                 view=True)],
             "options": _retrieve_options()}, v,
        )  # fmt: skip
        self.retrieve_body = self.template.replace(_VIEW.encode(), codec.escape(self.view).encode())
        self.touch_body = codec.encode_call(
            "CurrentTime", MoRef("ServiceInstance", "ServiceInstance"), {}, v
        )
        self.continue_template = codec.encode_call(
            "ContinueRetrievePropertiesEx", c.propertyCollector, {"token": "@@TOKEN@@"}, v
        )

    def post(self, body: bytes) -> etree._Element:
        answer = self.client.post(self.url, content=body, headers=self.headers)
        if answer.status_code != 200:
            raise RuntimeError(f"raw read: HTTP {answer.status_code}: {answer.content[:300]!r}")
        data = answer.content  # fully received
        self.bytes += len(data)
        return etree.fromstring(data)

    def read(self) -> list[etree._Element]:
        self.pages = self.bytes = 0
        pages = [self.post(self.retrieve_body)]
        token = _token(pages[-1])
        while token:
            body = self.continue_template.replace(b"@@TOKEN@@", codec.escape(token).encode())
            pages.append(self.post(body))
            token = _token(pages[-1])
        self.pages = len(pages)
        return pages

    def touch(self) -> bool:
        """A tiny untimed call, so the timed read starts on an open connection (httpx
        replaces a connection the server closed by itself; this makes it do so now)."""
        self.client.post(self.url, content=self.touch_body, headers=self.headers)
        return False

    def phases(self) -> dict[str, float]:
        """One read split up: request sent until the first byte of the answer (the server's
        work), first to last byte (receive), ``etree.fromstring`` (parse). One page only."""
        clock = time.perf_counter
        t0 = clock()
        with self.client.stream(
            "POST", self.url, content=self.retrieve_body, headers=self.headers
        ) as answer:
            chunks = answer.iter_raw()
            first = next(chunks)
            t1 = clock()
            data = b"".join([first, *chunks])
        t2 = clock()
        root = etree.fromstring(data)
        t3 = clock()
        if _token(root):
            raise RuntimeError("phases: the server paged its answer")
        return {"server": t1 - t0, "receive": t2 - t1, "parse": t3 - t2}

    def close(self) -> None:
        self.client.close()


# --- correctness ----------------------------------------------------------------------------


def inventory(pages: list[etree._Element], session: Session) -> dict[str, Any]:
    """What one server holds: VMs per host, and how many VMs have each of the six paths."""
    values = floor_values(pages)
    present = Counter(path for d in values.values() for path in d)
    missing = sum(1 for root in pages for _ in root.iter(_Q + "missingSet"))
    return {
        "vms": len(values),
        "vms_per_host": sorted(hosts_of(session).values()),
        "present": {p: present.get(p, 0) for p in PATHS},
        "missing_sets": missing,
        "power_states": dict(Counter(d.get("runtime.powerState", "") for d in values.values())),
    }


def check(name: str, inv: dict[str, Any], expect: list[int]) -> None:
    if inv["vms"] != sum(expect) or inv["vms_per_host"] != expect:
        raise AssertionError(
            f"{name} holds {inv['vms']} VMs ({inv['vms_per_host']} per host), expected {expect}"
        )


# --- main -----------------------------------------------------------------------------------


def touch_pyvmomi(si: Any) -> bool:
    """An untimed ``CurrentTime`` before pyVmomi's timed read; True if it had to reconnect.

    spherekit.sim (uvicorn's default ``timeout_keep_alive``) closes a keep-alive connection
    after 5 s idle; pyVmomi keeps pooled connections for 900 s and does not retry, so its
    next call fails with ``RemoteDisconnected`` (and drops its pool; the call after that
    connects anew). Without this, pyVmomi's read from spherekit.sim would fail, or pay a
    new TLS connection inside its timed window, whenever the previous call was > 5 s ago.
    """
    try:
        si.CurrentTime()
    except (ConnectionError, http.client.HTTPException):
        si.CurrentTime()
        return True
    return False


def settle_all(pids: Sequence[int]) -> None:
    """``settle`` for every server (each is let go idle), then the client's heap."""
    for pid in pids:
        settle(pid)
    settle()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from pyVim.connect import Disconnect, SmartConnect

    hosts, per_host = args.hosts, args.vms_per_host
    vms = hosts * per_host
    pin = not args.no_pin and len(os.sched_getaffinity(0)) >= 2
    cpus = sorted(os.sched_getaffinity(0))
    build()  # not timed: compiled once, cached
    print(f"starting both simulators with {hosts} hosts x {per_host} VMs "
          f"({args.startups} starts each) ...", flush=True)  # fmt: skip
    startup: dict[str, list[float]] = {n: [] for n in SERVERS}
    startup_cpu: dict[str, list[tuple[float, float]]] = {n: [] for n in SERVERS}
    tmp = {n: tempfile.mkdtemp(prefix=f"sim-vs-vcsim-{n}-") for n in SERVERS}
    rss_ready: dict[str, float] = {}
    sk: SkSim | None = None
    vc: Vcsim | None = None
    readers: list[RawReader] = []
    sessions: list[Session] = []
    sis: list[Any] = []
    try:
        for i in range(args.startups):
            last = i == args.startups - 1
            for name in SERVERS if i % 2 == 0 else SERVERS[::-1]:
                if name == "vcsim":
                    with tmpdir_for_children(tmp[name]):
                        vc, info = start_vcsim(vms, hosts, pin)
                    startup[name].append(info["startup_seconds"])
                    rss_ready[name] = rss_mib(vcsim_pid(vc))
                    startup_cpu[name].append(user_sys(vcsim_pid(vc)))
                    if not last:
                        vc.stop()
                        wipe(tmp[name])
                else:
                    with tmpdir_for_children(tmp[name]):
                        sk, seconds = start_sk(hosts, per_host, pin)
                    startup[name].append(seconds)
                    rss_ready[name] = rss_mib(sk.pid)
                    startup_cpu[name].append(user_sys(sk.pid))
                    if not last:
                        sk.stop()
                        wipe(tmp[name])
                print(f"  {name} up in {startup[name][-1]:.2f} s, "
                      f"VmRSS {rss_ready[name]:.0f} MiB", flush=True)  # fmt: skip
        assert sk is not None and vc is not None
        pids = {"spherekit.sim": sk.pid, "vcsim": vcsim_pid(vc)}
        where: dict[str, SkSim | Vcsim] = {"spherekit.sim": sk, "vcsim": vc}

        # name -> (server, the timed read, its untimed touch just before; see touch_pyvmomi)
        contenders: dict[str, tuple[str, Callable[[], Any], Callable[[], bool]]] = {}
        checks: dict[str, Any] = {}
        bodies: dict[str, bytes] = {}
        answer: dict[str, dict[str, int]] = {}
        for name in SERVERS:
            srv = where[name]
            session = spherekit.connect(
                srv.sdk_url, user=srv.user, password=srv.password,
                thumbprint=thumbprint(srv.host, srv.port), read_timeout=600.0,
            )  # fmt: skip
            sessions.append(session)
            reader = RawReader(srv.sdk_url, srv.user, srv.password, session)
            readers.append(reader)
            si = SmartConnect(  # type: ignore[no-untyped-call]
                host=srv.host, port=srv.port, user=srv.user, pwd=srv.password,
                disableSslCertValidation=True,
            )  # fmt: skip
            sis.append(si)
            content = si.RetrieveContent()

            # correctness first (also the warm-up of both clients on this server)
            pages = reader.read()
            answer[name] = {"pages": reader.pages, "bytes": reader.bytes}
            inv = inventory(pages, session)
            check(name, inv, [per_host] * hosts)
            raw_values = floor_values(pages)
            del pages
            if pyvmomi_values(pyvmomi_fetch(content)) != raw_values:
                raise AssertionError(f"pyVmomi's values from {name} differ from the raw read's")
            inv["api_version"] = session.api_version
            checks[name] = inv
            bodies[name] = reader.template
            contenders[f"raw read: {name}"] = (name, reader.read, reader.touch)
            contenders[f"pyVmomi: {name}"] = (
                name, partial(pyvmomi_fetch, content), partial(touch_pyvmomi, si)
            )  # fmt: skip
            print(f"checked {name}: {inv}", flush=True)
        same_body = bodies["spherekit.sim"] == bodies["vcsim"]
        if not same_body:
            print("note: the RetrievePropertiesEx bodies differ between the servers", flush=True)

        names = list(contenders)
        wall: dict[str, list[float]] = {n: [] for n in names}
        client_cpu: dict[str, list[float]] = {n: [] for n in names}
        server_cpu: dict[str, list[float]] = {n: [] for n in names}
        reconnects: Counter[str] = Counter()
        for rep in range(args.repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                server, fn, touch = contenders[name]
                pid = pids[server]
                settle_all(list(pids.values()))
                reconnects[name] += touch()
                s0, c0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
                result = fn()
                t1, c1, s1 = time.perf_counter(), time.process_time(), cpu_seconds(pid)
                del result
                if _CONSOLIDATE is not None:
                    _CONSOLIDATE()  # the trees' deferred frees, not billed to the next run
                wall[name].append(t1 - t0)
                client_cpu[name].append(c1 - c0)
                server_cpu[name].append(s1 - s0)
            print(f"  repetition {rep + 1}/{args.repeat}: "
                  + ", ".join(f"{n} {_ms(wall[n][-1])}" for n in names), flush=True)  # fmt: skip

        # where the raw read's time goes, per server (after the timed runs; alternating)
        phase_samples: dict[str, dict[str, list[float]]] = {n: {} for n in SERVERS}
        by_name = dict(zip(SERVERS, readers, strict=True))
        for rep in range(args.repeat):
            for name in SERVERS if rep % 2 == 0 else SERVERS[::-1]:
                settle_all(list(pids.values()))
                by_name[name].touch()
                for phase, seconds in by_name[name].phases().items():
                    phase_samples[name].setdefault(phase, []).append(seconds)
                settle()

        memory = {
            n: {"ready_rss_mib": round(rss_ready[n], 1),
                "after_rss_mib": round(rss_mib(pids[n]), 1),
                "peak_rss_mib": round(hwm_mib(pids[n]), 1)}
            for n in SERVERS
        }  # fmt: skip
    finally:
        for si in sis:
            Disconnect(si)  # type: ignore[no-untyped-call]
        for reader in readers:
            reader.close()
        for session in sessions:
            session.close()
        if sk is not None:
            sk.stop()
        if vc is not None:
            vc.stop()
        for path in tmp.values():
            shutil.rmtree(path, ignore_errors=True)

    def med(n: str) -> float:
        return statistics.median(wall[n])

    def paired(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(wall[a], wall[b], strict=True))

    raw_sk, raw_vc = "raw read: spherekit.sim", "raw read: vcsim"
    pv_sk, pv_vc = "pyVmomi: spherekit.sim", "pyVmomi: vcsim"
    return {
        "benchmark": "sim_vs_vcsim",
        "what": f"{vms} VMs ({hosts} standalone hosts x {per_host}) x {len(PATHS)} "
        "properties: " + ", ".join(PATHS),
        "repeat": args.repeat,
        "lab": {
            "spherekit.sim": " ".join(sk_argv(hosts, per_host)[1:]),
            "vcsim": f"-dc=1 -cluster=0 -standalone-host={hosts} -vm={per_host} -ds=1",
            "cpus": {"servers": cpus[-1:], "client": cpus[:-1]} if pin else "not pinned",
            "same_request_body": same_body,
            "answers": answer,
        },
        "environment": environment(),
        "inventory": checks,
        "startup_seconds": {n: summary(startup[n]) for n in SERVERS},
        "startup_samples": startup,
        # CPU each server had used when it reported its URL: user and system (vcsim's system
        # time is mostly writing its datastore: a directory and files for every VM)
        "startup_cpu_seconds": {
            n: {
                "user": summary([u for u, _ in startup_cpu[n]]),
                "system": summary([k for _, k in startup_cpu[n]]),
            }
            for n in SERVERS
        },
        "memory_mib": memory,
        "seconds": {n: summary(wall[n]) for n in names},
        "client_cpu_seconds": {n: summary(client_cpu[n]) for n in names},
        "server_cpu_seconds": {n: summary(server_cpu[n]) for n in names},
        "samples": wall,
        # timed runs whose untimed touch found pyVmomi's pooled connection closed by the
        # server (see touch_pyvmomi)
        "pyvmomi_reconnects": {n: reconnects[n] for n in names if n.startswith("pyVmomi")},
        # the raw read split up (medians of --repeat more reads): server = request to first
        # byte, receive = first to last byte, parse = etree.fromstring
        "raw_read_phases_seconds": {
            n: {k: summary(v) for k, v in phase_samples[n].items()} for n in SERVERS
        },
        "ratios": {
            "raw_sim_over_vcsim": med(raw_sk) / med(raw_vc),
            "paired_raw_sim_over_vcsim": paired(raw_sk, raw_vc),
            "pyvmomi_sim_over_vcsim": med(pv_sk) / med(pv_vc),
            "rss_sim_over_vcsim": memory["spherekit.sim"]["after_rss_mib"]
            / memory["vcsim"]["after_rss_mib"],
            "startup_sim_over_vcsim": statistics.median(startup["spherekit.sim"])
            / statistics.median(startup["vcsim"]),
        },
        "targets": {"raw_sim_over_vcsim_max": TARGET_TIME_RATIO, "rss_sim_over_vcsim_max": 1.0},
    }


def report(record: dict[str, Any]) -> str:
    sec, cpu, srv = (record[k] for k in ("seconds", "client_cpu_seconds", "server_cpu_seconds"))
    rows = [
        [n, _ms(sec[n]["median"]), _ms(sec[n]["min"]), _ms(sec[n]["max"]),
         _ms(cpu[n]["median"]), _ms(srv[n]["median"])]
        for n in sec
    ]  # fmt: skip
    mem, start, inv = record["memory_mib"], record["startup_seconds"], record["inventory"]
    scpu = record["startup_cpu_seconds"]
    server_rows = [
        [n, f"{start[n]['median']:.2f} s",
         f"{scpu[n]['user']['median']:.1f} + {scpu[n]['system']['median']:.1f} s",
         f"{mem[n]['ready_rss_mib']:.0f} MiB",
         f"{mem[n]['after_rss_mib']:.0f} MiB", f"{mem[n]['peak_rss_mib']:.0f} MiB",
         f"{record['lab']['answers'][n]['bytes'] / 1e6:.2f} MB"]
        for n in SERVERS
    ]  # fmt: skip
    server_header = ["server", "startup", "its CPU (user + sys)", "RSS ready", "RSS after"]
    server_table = table([*server_header, "RSS peak", "answer"], server_rows)
    phases = record["raw_read_phases_seconds"]
    phase_rows = [[n, *(_ms(phases[n][k]["median"]) for k in ("server", "receive", "parse"))]
                  for n in SERVERS]  # fmt: skip
    r, t = record["ratios"], record["targets"]
    ok = {True: "met", False: "MISSED"}
    lines = [
        f"sim vs vcsim: {record['what']} ({record['repeat']} repetitions, interleaved)",
        "",
        table(["", "median", "min", "max", "client CPU", "server CPU"], rows),
        "",
        server_table,
        "",
        "the raw read, phase by phase (medians):",
        table(["server", "to first byte", "receive", "parse"], phase_rows),
        "",
        f"raw read, spherekit.sim / vcsim: {r['raw_sim_over_vcsim']:.2f}x "
        f"(paired {r['paired_raw_sim_over_vcsim']:.2f}x; target <= "
        f"{t['raw_sim_over_vcsim_max']}x: "
        f"{ok[r['raw_sim_over_vcsim'] <= t['raw_sim_over_vcsim_max']]})",
        f"RSS after the reads, spherekit.sim / vcsim: {r['rss_sim_over_vcsim']:.2f}x "
        f"(target <= {t['rss_sim_over_vcsim_max']}: "
        f"{ok[r['rss_sim_over_vcsim'] <= t['rss_sim_over_vcsim_max']]})",
        f"pyVmomi, spherekit.sim / vcsim: {r['pyvmomi_sim_over_vcsim']:.2f}x",
        f"startup, spherekit.sim / vcsim: {r['startup_sim_over_vcsim']:.2f}x",
        "untimed reconnects before pyVmomi's reads (server closed the idle connection): "
        + ", ".join(f"{n} {c}" for n, c in record["pyvmomi_reconnects"].items()),
        "",
        "VMs with each property: "
        + "; ".join(f"{n}: " + ", ".join(f"{p} {c}" for p, c in inv[n]["present"].items())
                    for n in SERVERS),
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sim_vs_vcsim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--vms-per-host", type=int, default=5000, help="(default 5000)")
    parser.add_argument("--hosts", type=int, default=2, help="standalone hosts (default 2)")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument(
        "--startups", type=int, default=3,
        help="starts of each server, interleaved; the last ones serve the reads (default 3)",
    )  # fmt: skip
    parser.add_argument(
        "--no-pin", action="store_true",
        help="do not pin the servers and the client to separate CPUs",
    )  # fmt: skip
    add_json_flag(parser, "sim_vs_vcsim")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.vms_per_host < 1 or args.repeat < 1 or args.startups < 1:
        parser.error("--hosts, --vms-per-host, --repeat and --startups must be 1 or more")
    record = run(args)
    print()
    print(report(record))
    save(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
