"""Audit of issue 3, "Bad input" and "never a Python traceback on the wire", against the
served simulator (uvicorn, HTTPS): every bad request gets a SOAP fault or a 4xx quickly,
memory stays bounded, and everyone else keeps being served.

Always served, whatever SPHEREKIT_SIM_MODE says: these are properties of the HTTP server.
Memory is the process's peak resident size (the simulator runs in a thread of this
process); an expanded entity or a body read whole would add hundreds of megabytes.
"""

from __future__ import annotations

import http.client
import resource
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.schema.base import MoRef
from spherekit.session import SERVICE_INSTANCE
from spherekit.sim import Simulator, methods
from spherekit.sim import http as sim_http
from spherekit.wire import codec

pytestmark = pytest.mark.timeout(120)

ENV = (
    '<?xml version="1.0" encoding="UTF-8"?>{dtd}<soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{body}'
    "</soapenv:Body></soapenv:Envelope>"
)
#: "quickly": far below any client's timeout (a hang guard, not a benchmark)
QUICK = 5.0


def envelope(body: str, dtd: str = "") -> bytes:
    return ENV.format(dtd=dtd, body=body).encode()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1) as s:
        yield s


@pytest.fixture
def session(sim: Simulator) -> Iterator[spherekit.Session]:
    with spherekit.connect(sim.url, thumbprint=sim.thumbprint) as s:
        yield s


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def connection(sim: Simulator, timeout: float = 30.0) -> http.client.HTTPSConnection:
    port = sim._served().port
    context = ssl.create_default_context(cafile=sim.ca_file)
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)


def post(sim: Simulator, body: Any, cookie: str | None = None, **headers: str) -> tuple[int, bytes]:
    conn = connection(sim)
    try:
        h = {"Content-Type": "text/xml; charset=utf-8", **headers}
        if cookie:
            h["Cookie"] = cookie
        conn.request("POST", "/sdk", body=body, headers=h, encode_chunked="Content-Length" not in h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def fault(status: int, body: bytes) -> Exception:
    """The SOAP fault in a 500 answer, as the client raises it; never a traceback."""
    assert status == 500, (status, body[:300])
    assert b"Traceback" not in body and b'File "' not in body, body
    try:
        codec.response_payload("X", body, status)
    except Exception as exc:
        return exc
    raise AssertionError(f"no fault in {body[:300]!r}")


def still_serving(s: spherekit.Session) -> None:
    assert len(spherekit.fetch(s, "VirtualMachine", ["name"])) == 4


# -- 2. bad requests get faults ------------------------------------------------------------------


def bad_requests(vm: str) -> list[tuple[str, bytes, type[Exception], dict[str, Any]]]:
    def call(method: str, this: str, inner: str = "") -> bytes:
        return envelope(f'<{method} xmlns="urn:vim25">{this}{inner}</{method}>')

    vm_this = f'<_this type="VirtualMachine">{vm}</_this>'
    return [
        ("not XML", b"this is not xml", faults.InvalidRequest, {}),
        ("truncated", envelope("<CurrentTime>")[:-20], faults.InvalidRequest, {}),
        ("no body", envelope(""), faults.InvalidRequest, {}),
        ("unknown method", call("NoSuchMethod", vm_this), faults.MethodNotFound,
         {"method": "NoSuchMethod"}),
        ("no _this", call("CurrentTime", ""), faults.InvalidRequest, {}),
        ("unknown parameter", call("PowerOnVM_Task", vm_this, "<force>1</force>"),
         faults.InvalidRequest, {}),
        ("missing parameter", call("ReconfigVM_Task", vm_this), faults.InvalidRequest, {}),
        ("missing field", call("ReconfigVM_Task", vm_this,
         "<spec><deviceChange><operation>add</operation></deviceChange></spec>"),
         faults.InvalidRequest, {}),
        ("not an int", call("ReconfigVM_Task", vm_this, "<spec><numCPUs>two</numCPUs></spec>"),
         faults.InvalidRequest, {}),
        ("not a boolean", call("ReconfigVM_Task", vm_this,
         "<spec><cpuHotAddEnabled>maybe</cpuHotAddEnabled></spec>"), faults.InvalidRequest, {}),
        ("not an enum value", call("ReconfigVM_Task", vm_this,
         "<spec><deviceChange><operation>frob</operation><device xsi:type=\"VirtualDisk\">"
         "<key>1</key></device></deviceChange></spec>"), faults.InvalidRequest, {}),
        ("reference of another type", call("PowerOnVM_Task", vm_this,
         '<host type="Datastore">datastore-1</host>'), faults.InvalidType, {"argument": "host"}),
        ("data object of another type", call("ReconfigVM_Task", vm_this,
         '<spec xsi:type="HostConfigSpec"></spec>'), faults.InvalidType, {"argument": "spec"}),
        ("bad argument", call("CreateContainerView", '<_this type="ViewManager">ViewManager'
         '</_this>', '<container type="Folder">group-d1</container><type>NoSuchType</type>'
         "<recursive>true</recursive>"), faults.InvalidArgument, {"invalidProperty": "type"}),
    ]  # fmt: skip


def test_bad_requests_get_faults_and_others_keep_being_served(
    sim: Simulator, session: spherekit.Session
) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0").value
    for name, body, kind, fields in bad_requests(vm):
        start = time.monotonic()
        err = fault(*post(sim, body, session._cookie))
        assert time.monotonic() - start < QUICK, name
        assert type(err) is kind, (name, err)
        for attr, value in fields.items():
            assert getattr(err, attr) == value, (name, attr)
        still_serving(session)


def billion_laughs(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)
    ]
    dtd = "<!DOCTYPE lolz [" + "".join(entities) + "]>"
    this = f'<_this type="ServiceInstance">&lol{levels - 1};</_this>'
    return envelope(
        f'<RetrieveServiceContent xmlns="urn:vim25">{this}</RetrieveServiceContent>', dtd
    )


def external_entity(url: str) -> bytes:
    dtd = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{url}">]>'
    this = '<_this type="ServiceInstance">&xxe;</_this>'
    return envelope(
        f'<RetrieveServiceContent xmlns="urn:vim25">{this}</RetrieveServiceContent>', dtd
    )


def test_entity_expansion_and_external_entities_are_refused(
    sim: Simulator, session: spherekit.Session
) -> None:
    # something listening, to see whether the parser fetches an external DTD or entity
    fetched = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]

    def accept() -> None:
        try:
            listener.accept()[0].close()
            fetched.set()
        except OSError:
            pass

    watcher = threading.Thread(target=accept)
    watcher.start()
    before = peak_mb()
    bodies = [
        billion_laughs(),
        external_entity("file:///etc/passwd"),
        external_entity(f"http://127.0.0.1:{port}/x"),
        envelope("<CurrentTime/>", f'<!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/evil.dtd">'),
        envelope("<CurrentTime/>", f'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p">%p;]>'),
    ]  # fmt: skip
    try:
        for body in bodies:
            start = time.monotonic()
            status, answer = post(sim, body, session._cookie)
            assert time.monotonic() - start < QUICK
            err = fault(status, answer)
            assert isinstance(err, faults.InvalidRequest)
            assert b"root:" not in answer and b"lollol" not in answer
            still_serving(session)
        # ten of each at once, while others go on working
        with ThreadPoolExecutor(10) as pool:
            answers = pool.map(lambda b: post(sim, b), bodies * 10)
            still_serving(session)
            for status, answer in answers:
                assert isinstance(fault(status, answer), faults.InvalidRequest)
    finally:
        watcher.join()
        listener.close()
    assert not fetched.is_set(), "the parser fetched an external entity"
    assert peak_mb() - before < 100


def test_oversized_bodies_are_refused_unread(
    sim: Simulator, session: spherekit.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a declared length over the limit: 413 before a byte of the body is sent
    conn = connection(sim, timeout=QUICK)
    try:
        conn.putrequest("POST", "/sdk")
        conn.putheader("Content-Type", "text/xml")
        conn.putheader("Content-Length", str(10 * 1024**3))
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 413 and b"too large" in r.read()
    finally:
        conn.close()
    still_serving(session)
    # a chunked body (no length) is cut off at the limit: 64 MB sent, not kept
    monkeypatch.setattr(sim_http, "MAX_BODY", 1024 * 1024)
    before = peak_mb()
    chunk = b"<" * (1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield chunk

    try:
        status, answer = post(sim, chunks(), session._cookie)
        assert status == 413 and b"too large" in answer
    except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
        pass  # the server may close before the client has sent it all: that is a refusal too
    assert peak_mb() - before < 48
    still_serving(session)


def test_a_stalled_upload_does_not_hold_up_others(
    sim: Simulator, session: spherekit.Session
) -> None:
    stalled = connection(sim)
    try:
        stalled.putrequest("POST", "/sdk")
        stalled.putheader("Content-Type", "text/xml")
        stalled.putheader("Content-Length", "100000")
        stalled.endheaders()
        stalled.send(b"<soapenv:Envelope")  # ... and never the rest
        garbage = socket.create_connection(("127.0.0.1", sim._served().port))
        garbage.sendall(b"\x16\x03\x01 not a TLS hello\r\n\r\n")  # not even TLS
        with ThreadPoolExecutor(8) as pool:
            for _ in pool.map(lambda _i: still_serving(session), range(16)):
                pass
        garbage.close()
    finally:
        stalled.close()
    still_serving(session)


# -- 3. a crash is a fault (or a 500), never a traceback -----------------------------------------


def test_handler_crashes_are_faults_without_tracebacks(
    sim: Simulator, session: spherekit.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(ctx: Any, this: MoRef) -> None:
        raise RuntimeError("internal detail")

    def bad_result(ctx: Any, this: MoRef) -> object:
        return object()  # cannot be encoded as CurrentTime's dateTime

    def crash_in_task(ctx: Any, this: MoRef) -> MoRef:
        ref: MoRef = ctx.backend.tasks.start(ctx, this, "PowerOffVM_Task", "x", lambda: 1 / 0)
        return ref

    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    for handler in (boom, bad_result):
        monkeypatch.setitem(methods._HANDLERS, ("ServiceInstance", "CurrentTime"), (handler, None))
        body = codec.encode_call("CurrentTime", SERVICE_INSTANCE, {})
        err = fault(*post(sim, body, session._cookie))
        assert isinstance(err, faults.SystemError)
        still_serving(session)
    # a crash inside a task's work fails the task with SystemError
    monkeypatch.setitem(
        methods._HANDLERS, ("VirtualMachine", "PowerOffVM_Task"), (crash_in_task, None)
    )
    with pytest.raises(faults.SystemError) as info:
        spherekit.wait_for_task(session, session.call(vm, "PowerOffVM_Task"), timeout=10)
    assert "ZeroDivisionError" in (info.value.reason or "")

    # a crash in an HTTP endpoint other than /sdk: a plain 500, the details in the log
    def broken_route(backend: Any, request: Any) -> Any:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(sim_http, "_ROUTES", [("/audit-broken", broken_route), *sim_http._ROUTES])
    conn = connection(sim)
    try:
        conn.request("GET", "/audit-broken/x")
        r = conn.getresponse()
        text = r.read()
    finally:
        conn.close()
    assert r.status == 500 and b"Traceback" not in text and b"internal detail" not in text
    still_serving(session)
