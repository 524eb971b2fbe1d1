"""Bulk fetch: six properties of 10,000 VMs from one vcsim, spherekit against its peers.

    python -m benchmarks.bulk_fetch [--vms 10000] [--hosts 2] [--repeat 7] [--profile]

One vcsim (govmomi 0.24.2, ``tools/vcsim``) with ``--hosts`` standalone hosts of
``--vms / --hosts`` powered-on VMs each; every VM gets a guest IP address (``guest.ipAddress``
is otherwise unset in vcsim). Then, in the same process and interleaved per repetition
(the order rotates, so drift and noise fall on all of them alike):

spherekit
    ``spherekit.fetch(session, "VirtualMachine", PATHS)``: the answer's bytes are read by
    the compiled scanner (``spherekit/wire/_scan.c``), no XML tree is built.
spherekit-lxml
    the same call with the scanner switched off (``property._scan = None``): what a build
    without a C compiler does (lxml's parse, then ``property._rows`` on the tree).
pyVmomi
    the idiomatic code a competent pyVmomi user writes: ``CreateContainerView``, a
    ``FilterSpec`` of ``ObjectSpec`` + ``TraversalSpec`` + ``PropertySpec``,
    ``RetrievePropertiesEx`` then ``ContinueRetrievePropertiesEx`` while there is a token,
    values collected into dicts, ``DestroyView``.
floor
    the same three requests, byte for byte what spherekit sends (checked), as raw HTTP
    POSTs on one keep-alive httpx connection, each answer only parsed with
    ``lxml.etree.fromstring``; the view id and continuation token are read from the trees.
    Its result is the parsed trees.
floor+release
    the floor, then its trees dropped, including the allocator work that defers (about
    40 ms for this answer; spherekit, which drops its tree before it returns, pays it).

All of them create and destroy their own ContainerView in every repetition (that is what
``fetch`` and the idiomatic pyVmomi code do), so the floor does too. Before timing, the
results are checked to hold the same VMs with the same values. Each side has its own
logged-in session; logins are not timed. Between runs, untimed, garbage is collected and
vcsim is let go idle (see ``settle``).

Prints a table (median and min seconds, ratios) and writes ``benchmarks/results/
bulk_fetch.json`` (``--json``). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import io
import os
import pstats
import ssl
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
from lxml import etree

import spherekit
from benchmarks._report import add_json_flag, environment, save, summary, table
from spherekit import property as sk_property
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.wire import codec
from spherekit.wire.transport import HttpTransport, Request, Response
from tests.interop.vcsim import Vcsim

PATHS = [
    "name",
    "runtime.powerState",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "guest.ipAddress",
    "config.uuid",
]
MTYPE = "VirtualMachine"
_VIEW = "@@VIEW@@"  # placeholders in the floor's request templates
_TOKEN = "@@TOKEN@@"
_Q = "{urn:vim25}"

Values = dict[str, dict[str, str]]  # moref value -> {path: value as text}


# --- the three contenders -------------------------------------------------------------------


def spherekit_fetch(session: Session) -> list[tuple[MoRef, dict[str, Any]]]:
    return spherekit.fetch(session, MTYPE, PATHS)


def spherekit_lxml_fetch(session: Session) -> list[tuple[MoRef, dict[str, Any]]]:
    scanner = sk_property._scan
    sk_property._scan = None  # type: ignore[assignment]
    try:
        return spherekit.fetch(session, MTYPE, PATHS)
    finally:
        sk_property._scan = scanner


def pyvmomi_fetch(content: Any) -> list[tuple[Any, dict[str, Any]]]:
    """The idiomatic pyVmomi bulk read (as in pyvmomi-community-samples)."""
    from pyVmomi import vim, vmodl

    pc_types: Any = vmodl.query.PropertyCollector  # pyVmomi's classes are untyped
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        traversal = pc_types.TraversalSpec(
            name="traverseEntities", path="view", skip=False, type=vim.view.ContainerView
        )
        spec = pc_types.FilterSpec(
            objectSet=[pc_types.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[pc_types.PropertySpec(type=vim.VirtualMachine, pathSet=PATHS, all=False)],
        )
        collector = content.propertyCollector
        rows = []
        result = collector.RetrievePropertiesEx([spec], pc_types.RetrieveOptions())
        while result is not None:
            for oc in result.objects:
                rows.append((oc.obj, {p.name: p.val for p in oc.propSet}))
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(result.token)
        return rows
    finally:
        view.Destroy()


class Floor:
    """Raw HTTP POSTs of spherekit's own request bodies plus ``etree.fromstring``: the floor."""

    def __init__(self, sim: Vcsim, session: Session) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # vcsim's self-signed certificate; pyVmomi alike
        self.client = httpx.Client(verify=ctx, timeout=600.0, trust_env=False)
        self.url = sim.sdk_url
        self.headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"urn:vim25/{session.api_version}"',
        }
        c = session.content
        v = session._vindex  # the API version spherekit negotiated: the same bodies
        assert c.sessionManager is not None and c.viewManager is not None
        login = codec.encode_call(
            "Login", c.sessionManager, {"userName": sim.user, "password": sim.password}, v
        )
        answer = self.client.post(self.url, content=login, headers=self.headers)
        cookie = answer.headers.get("set-cookie", "").split(";", 1)[0]
        if answer.status_code != 200 or "vmware_soap_session" not in cookie:
            raise RuntimeError(f"floor: Login failed with HTTP {answer.status_code}")
        self.client.cookies.clear()
        self.headers["Cookie"] = cookie
        view = MoRef("ContainerView", _VIEW)
        self.create_body = codec.encode_call(
            "CreateContainerView", c.viewManager,
            {"container": c.rootFolder, "type": [MTYPE], "recursive": True}, v,
        )  # fmt: skip
        self.retrieve_body = codec.encode_call(
            "RetrievePropertiesEx", c.propertyCollector,
            {"specSet": [sk_property.filter_spec(MTYPE, PATHS, [view], view=True)],
             "options": _retrieve_options()}, v,
        )  # fmt: skip
        self.continue_body = codec.encode_call(
            "ContinueRetrievePropertiesEx", c.propertyCollector, {"token": _TOKEN}, v
        )
        self.destroy_body = codec.encode_call("DestroyView", view, {}, v)

    def post(self, body: bytes) -> etree._Element:
        answer = self.client.post(self.url, content=body, headers=self.headers)
        if answer.status_code != 200:
            raise RuntimeError(f"floor: HTTP {answer.status_code}: {answer.content[:300]!r}")
        return etree.fromstring(answer.content)

    def fetch(self) -> list[etree._Element]:
        """CreateContainerView, RetrievePropertiesEx (+ continuations), DestroyView."""
        view = self.post(self.create_body)[0][0][0].text or ""  # Envelope/Body/Response/returnval
        ref = codec.escape(view).encode()
        pages = [self.post(self.retrieve_body.replace(_VIEW.encode(), ref))]
        token = _token(pages[-1])
        while token:
            body = self.continue_body.replace(_TOKEN.encode(), codec.escape(token).encode())
            pages.append(self.post(body))
            token = _token(pages[-1])
        self.post(self.destroy_body.replace(_VIEW.encode(), ref))
        return pages

    def fetch_and_release(self) -> None:
        """The floor, then its trees dropped and the allocator work that defers (see settle)."""
        pages = self.fetch()
        del pages
        if _CONSOLIDATE is not None:
            _CONSOLIDATE()

    def close(self) -> None:
        self.client.close()


def _retrieve_options() -> Any:
    from spherekit.schema.vim25.data import RetrieveOptions

    return RetrieveOptions(maxObjects=None)  # what retrieve() sends without page_size


def _token(root: etree._Element) -> str | None:
    response = root[0][0]
    if len(response) == 0:
        return None
    last = response[0][-1]  # returnval's last child is the token, if any
    return last.text if last.tag == _Q + "token" else None


# --- correctness ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return str(value)  # str enums, ints and strings all print as their wire text


def spherekit_values(rows: list[tuple[MoRef, dict[str, Any]]]) -> Values:
    return {ref.value: {k: _text(v) for k, v in d.items()} for ref, d in rows}


def pyvmomi_values(rows: list[tuple[Any, dict[str, Any]]]) -> Values:
    return {obj._moId: {k: _text(v) for k, v in d.items()} for obj, d in rows}


def floor_values(pages: list[etree._Element]) -> Values:
    out: Values = {}
    for root in pages:
        for oc in root.iter(_Q + "objects"):
            obj = oc.find(_Q + "obj")
            assert obj is not None
            out[obj.text or ""] = {
                ps.findtext(_Q + "name") or "": ps.findtext(_Q + "val") or ""
                for ps in oc.iter(_Q + "propSet")
            }
    return out


class _Recorder:
    """A transport that remembers the bodies it sent (to compare with the floor's)."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str | None, bytes]] = []

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        self.sent.append((request.soap_method, request.body))
        return self.inner.send(request, timeout=timeout)

    def close(self) -> None:
        self.inner.close()


def check_same_requests(sim: Vcsim, floor: Floor) -> None:
    """The floor sends exactly the bytes spherekit.fetch sends (view id aside)."""
    recorder = _Recorder(HttpTransport(sim.sdk_url, thumbprint=sim.thumbprint_sha256()))
    with spherekit.connect(
        sim.sdk_url, user=sim.user, password=sim.password, transport=recorder
    ) as s:
        del recorder.sent[:]
        spherekit_fetch(s)
        sent = dict(recorder.sent)
    # the view id spherekit got is the target of its DestroyView
    view = etree.fromstring(sent["DestroyView"])[0][0][0].text or ""
    ref = codec.escape(view).encode()
    expected = {
        "CreateContainerView": floor.create_body,
        "RetrievePropertiesEx": floor.retrieve_body.replace(_VIEW.encode(), ref),
        "DestroyView": floor.destroy_body.replace(_VIEW.encode(), ref),
    }
    for method, body in expected.items():
        if sent.get(method) != body:
            raise AssertionError(f"the floor's {method} body differs from spherekit's")


def check_same_values(sk: Values, pv: Values, fl: Values, vms: int) -> int:
    for name, got in (("spherekit", sk), ("pyVmomi", pv), ("floor", fl)):
        if len(got) != vms:
            raise AssertionError(f"{name} returned {len(got)} VMs, expected {vms}")
    if sk != fl:
        raise AssertionError("spherekit's values differ from the floor's")
    if pv != fl:
        raise AssertionError("pyVmomi's values differ from the floor's")
    return sum(len(d) for d in fl.values())


# --- the lab --------------------------------------------------------------------------------


def start_vcsim(vms: int, hosts: int, pin: bool) -> tuple[Vcsim, dict[str, Any]]:
    """Start the lab; with ``pin``, vcsim on the last CPU and this process on the others.

    Pinned, the two sides run as if on separate machines: vcsim's garbage collector (a few
    hundred ms of CPU after every other bulk read, much of it in Go's idle-time mark
    workers) cannot take the client's CPU while the client parses, which would otherwise
    penalise whichever client parses longest. vcsim inherits the affinity when it starts,
    so Go sizes GOMAXPROCS to its one CPU (moving its threads after start, with GOMAXPROCS
    still 2, made a collection that overlaps a request far more costly for that request).
    """
    if vms % hosts:
        raise SystemExit(f"--vms ({vms}) must be a multiple of --hosts ({hosts})")
    cpus = sorted(os.sched_getaffinity(0))
    pin = pin and len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, cpus[-1:])
    t0 = time.perf_counter()
    try:
        sim = Vcsim(startup_timeout=900.0).start(
            dc=1, cluster=0, standalone_host=hosts, vm=vms // hosts, ds=1
        )
    finally:
        if pin:
            os.sched_setaffinity(0, cpus[:-1])
    info = {
        "flags": f"-dc=1 -cluster=0 -standalone-host={hosts} -vm={vms // hosts} -ds=1",
        "startup_seconds": round(time.perf_counter() - t0, 2),
        "cpus": {"vcsim": cpus[-1:], "clients": cpus[:-1]} if pin else "not pinned",
    }
    return sim, info


def vcsim_pid(sim: Vcsim) -> int:
    proc = sim._proc
    assert proc is not None
    return proc.pid


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for text in f:
            if text.startswith("VmRSS:"):
                return int(text.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc, in clock ticks)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def give_ips(session: Session, vms: int) -> None:
    """Set guest.ipAddress of every VM (vcsim's ``SET.guest.ipAddress`` extraConfig)."""
    from spherekit.schema.vim25.data import OptionValue, VirtualMachineConfigSpec

    rows = spherekit.fetch(session, MTYPE, ["name"])
    for i, (ref, _) in enumerate(sorted(rows, key=lambda r: r[1]["name"])):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        spec = VirtualMachineConfigSpec(
            extraConfig=[OptionValue(key="SET.guest.ipAddress", value=ip)]
        )
        session.call(ref, "ReconfigVM_Task", spec=spec)
    for _ in range(100):  # the reconfigure tasks finish in the background
        have = spherekit.fetch(session, MTYPE, ["guest.ipAddress"])
        if sum(1 for _, d in have if "guest.ipAddress" in d) == vms:
            return
        time.sleep(0.2)
    raise RuntimeError("vcsim did not take the guest IP addresses")


def hosts_of(session: Session) -> dict[str, int]:
    count: dict[str, int] = {}
    for _, d in spherekit.fetch(session, MTYPE, ["runtime.host"]):
        host = d["runtime.host"].value
        count[host] = count.get(host, 0) + 1
    return count


# --- where the time goes --------------------------------------------------------------------


def _consolidator() -> Callable[[], None] | None:
    """A function that makes glibc consolidate its fastbins now (None: not glibc)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
        malloc, free = libc.malloc, libc.free
    except (OSError, AttributeError):
        return None
    malloc.restype = ctypes.c_void_p
    free.argtypes = [ctypes.c_void_p]

    def consolidate() -> None:
        # a "large" request (>= 1 KiB) consolidates the fastbins first; it is below the
        # mmap threshold, and nothing is given back to the OS (unlike malloc_trim)
        free(malloc(4096))

    return consolidate


_CONSOLIDATE = _consolidator()


def settle(pid: int | None = None) -> None:
    """Let both sides finish the previous run's work, so no run pays for the one before.

    - Python garbage is collected, and glibc consolidates its heap: freeing a large lxml
      tree leaves ~10^5 small chunks in its fastbins, and the next malloc of a KiB or more
      consolidates them all (~40 ms here). Without this, the floor (whose trees are freed
      after its timed window) would hand that bill to whoever runs next.
    - vcsim (``pid``) is waited for until it is idle: a bulk read makes Go collect garbage
      for a few hundred ms afterwards, which would slow the next request down, and the
      next run after the quick floor would pay for it more often than the others.
    """
    gc.collect()
    if _CONSOLIDATE is not None:
        _CONSOLIDATE()
    if pid is not None:
        deadline = time.monotonic() + 5.0
        busy = cpu_seconds(pid)
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = cpu_seconds(pid)
            if now == busy:  # not one clock tick in 100 ms
                return
            busy = now


def breakdown(floor: Floor, repeat: int, pid: int) -> dict[str, dict[str, float]]:
    """Where one RetrievePropertiesEx of the benchmark goes, measured with the floor's client.

    view_calls: CreateContainerView + DestroyView round trips; server: request sent until
    the first byte of the answer (vcsim collects and encodes the whole answer before it
    writes any of it); receive: first to last byte; parse: ``etree.fromstring``; parse_sk:
    spherekit's hardened parser (``codec.response_payload``; the two parses alternate in
    order); decode_sk: spherekit's ``property._rows`` on that tree; release: dropping the
    tree, including the allocator work it defers (what ``settle`` forces); scan_sk: what
    spherekit does instead with the scanner, ``property._scanned`` on the bytes (rows
    built, then dropped).
    """
    names = ("view_calls", "server", "receive", "parse", "parse_sk", "decode_sk", "release",
             "scan_sk")  # fmt: skip
    samples: dict[str, list[float]] = {k: [] for k in names}
    clock = time.perf_counter
    for rep in range(repeat):
        settle(pid)
        t0 = clock()
        view = floor.post(floor.create_body)[0][0][0].text or ""
        t1 = clock()
        ref = codec.escape(view).encode()
        body = floor.retrieve_body.replace(_VIEW.encode(), ref)
        with floor.client.stream("POST", floor.url, content=body, headers=floor.headers) as r:
            chunks = r.iter_raw()
            first = next(chunks)
            t2 = clock()
            data = b"".join([first, *chunks])
        t3 = clock()
        floor.post(floor.destroy_body.replace(_VIEW.encode(), ref))
        t4 = clock()
        samples["view_calls"].append((t1 - t0) + (t4 - t3))
        samples["server"].append(t2 - t1)  # includes sending the small request
        samples["receive"].append(t3 - t2)
        for which in ("parse", "parse_sk") if rep % 2 else ("parse_sk", "parse"):
            settle()
            t5 = clock()
            if which == "parse":
                etree.fromstring(data)
                t6 = clock()
            else:
                payload = codec.response_payload("RetrievePropertiesEx", data)
                t6 = clock()
                sk_property._rows(payload, [], [])
                t7 = clock()
                del payload
                if _CONSOLIDATE is not None:
                    _CONSOLIDATE()
                samples["decode_sk"].append(t7 - t6)
                samples["release"].append(clock() - t7)
            samples[which].append(t6 - t5)
        settle()
        t8 = clock()
        rows: list[Any] = []
        sk_property._scanned("RetrievePropertiesEx", data, rows, [])
        del rows
        samples["scan_sk"].append(clock() - t8)
        del data
    return {k: summary(v) for k, v in samples.items()}


def profile(session: Session, runs: int, pid: int) -> str:
    prof = cProfile.Profile()
    for _ in range(runs):
        settle(pid)
        prof.enable()
        spherekit_fetch(session)
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


# --- main -----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from pyVim.connect import Disconnect, SmartConnect

    print(f"starting vcsim with {args.vms} VMs on {args.hosts} hosts ...", flush=True)
    sim, lab = start_vcsim(args.vms, args.hosts, pin=not args.no_pin)
    try:
        pid = vcsim_pid(sim)
        session = spherekit.connect(
            sim.sdk_url, user=sim.user, password=sim.password,
            thumbprint=sim.thumbprint_sha256(), read_timeout=600.0,
        )  # fmt: skip
        lab["hosts"] = sorted(hosts_of(session).values())
        if not args.no_ips:
            t0 = time.perf_counter()
            give_ips(session, args.vms)
            lab["set_ips_seconds"] = round(time.perf_counter() - t0, 2)
        lab["vcsim_rss_mib"] = round(rss_mib(pid))
        print(f"vcsim: {lab}", flush=True)

        si = SmartConnect(  # type: ignore[no-untyped-call]
            host=sim.host, port=sim.port, user=sim.user, pwd=sim.password,
            disableSslCertValidation=True,
        )  # fmt: skip
        content = si.RetrieveContent()
        floor = Floor(sim, session)

        contenders: dict[str, Callable[[], Any]] = {
            "spherekit": lambda: spherekit_fetch(session),
            "spherekit-lxml": lambda: spherekit_lxml_fetch(session),
            "pyVmomi": lambda: pyvmomi_fetch(content),
            "floor": floor.fetch,
            "floor+release": floor.fetch_and_release,
        }

        # correctness first (also the warm-up: lazy imports, connections, caches)
        check_same_requests(sim, floor)
        if sk_property._scan is None:
            raise SystemExit("the compiled scanner is not built: pip install -e . first")
        if spherekit_values(spherekit_lxml_fetch(session)) != spherekit_values(
            spherekit_fetch(session)
        ):
            raise AssertionError("spherekit's two paths read different values")
        values = check_same_values(
            spherekit_values(spherekit_fetch(session)),
            pyvmomi_values(pyvmomi_fetch(content)),
            floor_values(floor.fetch()),
            args.vms,
        )
        lab["values"] = values
        print(f"checked: all three return the same {args.vms} VMs and {values} values",
              flush=True)  # fmt: skip

        names = list(contenders)
        wall: dict[str, list[float]] = {n: [] for n in names}
        client_cpu: dict[str, list[float]] = {n: [] for n in names}
        server_cpu: dict[str, list[float]] = {n: [] for n in names}
        for rep in range(args.repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                settle(pid)
                s0, c0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
                result = contenders[name]()
                t1, c1, s1 = time.perf_counter(), time.process_time(), cpu_seconds(pid)
                del result
                wall[name].append(t1 - t0)
                client_cpu[name].append(c1 - c0)
                server_cpu[name].append(s1 - s0)
            print(f"  repetition {rep + 1}/{args.repeat}: "
                  + ", ".join(f"{n} {_ms(wall[n][-1])}" for n in names), flush=True)  # fmt: skip

        phases = breakdown(floor, args.repeat, pid)
        prof = profile(session, 3, pid) if args.profile else None
        lab["vcsim_rss_mib_after"] = round(rss_mib(pid))
        floor.close()
        Disconnect(si)  # type: ignore[no-untyped-call]
        session.close()
    finally:
        sim.stop()

    def paired(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(wall[a], wall[b], strict=True))

    med = {n: statistics.median(wall[n]) for n in names}
    record: dict[str, Any] = {
        "benchmark": "bulk_fetch",
        "what": f"{args.vms} VMs x {len(PATHS)} properties: " + ", ".join(PATHS),
        "repeat": args.repeat,
        "lab": lab,
        "environment": environment(),
        "seconds": {n: summary(wall[n]) for n in names},
        "client_cpu_seconds": {n: summary(client_cpu[n]) for n in names},
        # CPU vcsim used inside each window; its garbage collector runs whenever it is due,
        # so this moves between windows and is not comparable run by run
        "vcsim_cpu_seconds": {n: summary(server_cpu[n]) for n in names},
        "samples": wall,
        "ratios": {
            "pyvmomi_over_spherekit": med["pyVmomi"] / med["spherekit"],
            "pyvmomi_over_spherekit_lxml": med["pyVmomi"] / med["spherekit-lxml"],
            "spherekit_lxml_over_floor": med["spherekit-lxml"] / med["floor"],
            "spherekit_over_floor": med["spherekit"] / med["floor"],
            "pyvmomi_over_floor": med["pyVmomi"] / med["floor"],
            "spherekit_over_floor_with_release": med["spherekit"] / med["floor+release"],
            "paired_pyvmomi_over_spherekit": paired("pyVmomi", "spherekit"),
            "paired_spherekit_over_floor": paired("spherekit", "floor"),
        },
        "targets": {"pyvmomi_over_spherekit_min": 3.5, "spherekit_over_floor_max": 1.15},
        "phases_seconds": phases,
    }
    if prof is not None:
        print(prof)
    return record


def report(record: dict[str, Any]) -> str:
    sec, cpu = record["seconds"], record["client_cpu_seconds"]
    rows = [
        [n, _ms(sec[n]["median"]), _ms(sec[n]["min"]), _ms(cpu[n]["median"]),
         f"{sec[n]['median'] / sec['floor']['median']:.2f}x"]
        for n in ("spherekit", "spherekit-lxml", "pyVmomi", "floor", "floor+release")
    ]  # fmt: skip
    r, t = record["ratios"], record["targets"]
    lines = [
        f"bulk fetch: {record['what']} ({record['repeat']} repetitions, interleaved)",
        "",
        table(["", "median", "min", "client CPU", "vs floor"], rows),
        "",
        f"pyVmomi / spherekit: {r['pyvmomi_over_spherekit']:.2f}x "
        f"(paired {r['paired_pyvmomi_over_spherekit']:.2f}x; target >= "
        f"{t['pyvmomi_over_spherekit_min']}x)",
        f"spherekit / floor:   {r['spherekit_over_floor']:.3f}x "
        f"(paired {r['paired_spherekit_over_floor']:.3f}x; target <= "
        f"{t['spherekit_over_floor_max']}x)",
        f"pyVmomi / floor:     {r['pyvmomi_over_floor']:.2f}x",
        f"without the scanner: pyVmomi / spherekit-lxml {r['pyvmomi_over_spherekit_lxml']:.2f}x, "
        f"spherekit-lxml / floor {r['spherekit_lxml_over_floor']:.3f}x",
        f"spherekit / (floor+release): {r['spherekit_over_floor_with_release']:.3f}x",
        "",
        "one RetrievePropertiesEx, phase by phase (medians):",
    ]
    lines += [f"  {k:<10} {_ms(v['median']):>7}" for k, v in record["phases_seconds"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bulk_fetch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--vms", type=int, default=10_000, help="VMs in total (default 10000)")
    parser.add_argument("--hosts", type=int, default=2, help="standalone hosts (default 2)")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--no-ips", action="store_true", help="leave guest.ipAddress unset")
    parser.add_argument("--profile", action="store_true", help="cProfile spherekit's fetch")
    parser.add_argument(
        "--no-pin", action="store_true",
        help="do not pin vcsim and the clients to separate CPUs",
    )  # fmt: skip
    add_json_flag(parser, "bulk_fetch")
    args = parser.parse_args(argv)
    record = run(args)
    print()
    print(report(record))
    save(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
