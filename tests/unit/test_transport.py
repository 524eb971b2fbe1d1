"""The HTTP seam: TLS policy, pinning, error mapping, limits, wire-log redaction, mock."""

from __future__ import annotations

import io
import logging
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from httpcore._sync.connection_pool import PoolRequest

from spherekit import errors
from spherekit.wire import pool as pool_module
from spherekit.wire.transport import (
    USER_AGENT,
    HttpTransport,
    MockTransport,
    Request,
    Response,
    Transport,
    WireLog,
    parse_thumbprint,
)
from tests.unit.tlsutil import TestCerts, make_certs

SECRET = "hunter2-Pa55"
COOKIE = 'vmware_soap_session="52c0ffee-dead-beef"'
TICKET = "cst-VCT-52b3-clone-ticket"
SESSION_KEY = "52aa-session-key-bb"

TICKET_RESPONSE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    '<AcquireCloneTicketResponse xmlns="urn:vim25"><returnval>' + TICKET + "</returnval>"
    "</AcquireCloneTicketResponse></soapenv:Body></soapenv:Envelope>"
).encode()


def _post(path: str = "/sdk", body: bytes = b"<x/>", method: str = "RetrieveContent") -> Request:
    return Request("POST", path, {"Content-Type": "text/xml"}, body, soap_method=method)


# --- a tiny HTTP(S) server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.bodies: list[tuple[str, bytes]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.connections = 0
        self.finished = 0
        self.cond = threading.Condition()
        self.stop = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        with self.cond:
            self.connections += 1
        if self.tls is not None:  # handshake lazily, in the handler thread
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.cond:
            self.finished += 1
            self.cond.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # TLS rejections and client hang-ups are expected here

    def wait_finished(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.finished >= n, timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

    def _answer(self, body: bytes) -> None:
        srv = self.server
        with srv.cond:
            srv.bodies.append((self.path, body))
            srv.headers_seen.append(dict(self.headers.items()))
        status, headers, payload = 200, [("Content-Type", "text/xml")], b"<ok/>"
        if self.path == "/close":  # read the request, then hang up without answering
            self.close_connection = True
            return
        if self.path == "/slow":
            srv.stop.wait(5)
        elif self.path == "/fault":
            status, payload = 500, b"<soapenv:Fault>NotAuthenticated</soapenv:Fault>"
        elif self.path == "/ticket":
            headers.append(("Set-Cookie", f"{COOKIE}; Path=/; HttpOnly; Secure"))
            payload = TICKET_RESPONSE
        elif self.path == "/big":
            payload = b"x" * 2000
        elif self.path == "/bigstream":  # no Content-Length: the body ends at close
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"y" * 2000)
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def _serve(tls: ssl.SSLContext | None) -> Iterator[_Server]:
    srv = _Server(tls)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https(certs: TestCerts) -> Iterator[_Server]:
    with _serve(certs.server_context()) as srv:
        yield srv


@pytest.fixture
def plain() -> Iterator[_Server]:
    with _serve(None) as srv:
        yield srv


def _url(srv: _Server, scheme: str = "https") -> str:
    return f"{scheme}://127.0.0.1:{srv.port}/sdk"


# --- TLS policy ---------------------------------------------------------------------------------


def test_default_verification_rejects_self_signed_and_shows_thumbprint(
    https: _Server, certs: TestCerts
) -> None:
    with HttpTransport(_url(https)) as t, pytest.raises(errors.TLSError) as info:
        t.send(_post(body=SECRET.encode()))
    message = str(info.value)
    assert f"thumbprint='{certs.thumbprint}'" in message
    assert "ca_file=" in message and "insecure=True" in message
    assert info.value.maybe_sent is False
    assert info.value.method == "RetrieveContent"
    assert isinstance(info.value, errors.ConnectError)
    assert https.bodies == []


def test_ca_file_accepts_the_server(https: _Server, certs: TestCerts) -> None:
    with HttpTransport(_url(https), ca_file=str(certs.ca_file)) as t:
        response = t.send(_post())
    assert (response.status, response.body) == (200, b"<ok/>")
    assert response.headers["content-type"] == "text/xml"


def test_ca_file_still_checks_the_host_name(tmp_path: Path) -> None:
    other = make_certs(tmp_path, "vc.example.com", loopback=False)  # not 127.0.0.1
    with _serve(other.server_context()) as srv:
        t = HttpTransport(_url(srv), ca_file=str(other.ca_file))
        with t, pytest.raises(errors.TLSError, match="mismatch") as info:
            t.send(_post())
    assert other.thumbprint in str(info.value)


@pytest.mark.parametrize("style", ["colons", "plain-lower"])
def test_correct_thumbprint_accepts(https: _Server, certs: TestCerts, style: str) -> None:
    pin = certs.thumbprint if style == "colons" else certs.thumbprint.replace(":", "").lower()
    with HttpTransport(_url(https), thumbprint=pin) as t:
        assert t.send(_post()).status == 200


def test_wrong_thumbprint_rejects_before_the_body_is_sent(https: _Server, certs: TestCerts) -> None:
    wrong = "AA:" * 31 + "AA"
    with HttpTransport(_url(https), thumbprint=wrong) as t, pytest.raises(errors.TLSError) as info:
        t.send(_post(body=f"<password>{SECRET}</password>".encode()))
    message = str(info.value)
    assert wrong in message and certs.thumbprint in message
    assert info.value.maybe_sent is False
    https.wait_finished(1)  # the server is done with the rejected connection
    assert https.bodies == []


def test_insecure_accepts_anything(https: _Server) -> None:
    with HttpTransport(_url(https), insecure=True) as t:
        assert t.send(_post()).status == 200


def test_https_url_against_plain_http_server(plain: _Server) -> None:
    with HttpTransport(_url(plain), insecure=True) as t, pytest.raises(errors.TLSError) as info:
        t.send(_post())
    assert "http://" in str(info.value)
    assert info.value.maybe_sent is False


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"insecure": True, "thumbprint": "AA" * 32}, "insecure"),
        ({"insecure": True, "ca_file": "/x.pem"}, "insecure"),
        ({"ca_file": "/x.pem", "thumbprint": "AA" * 32}, "not both"),
        ({"thumbprint": "ab:" * 19 + "ab"}, "SHA-256 is required"),
        ({"thumbprint": "zz" * 32}, "not hex"),
        ({"thumbprint": "ab" * 16}, "32"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"pool_size": 0}, "pool_size"),
    ],
)
def test_bad_tls_options(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(errors.UsageError, match=re.escape(needle)):
        HttpTransport("https://vc.example.com/sdk", **kwargs)


def test_parse_thumbprint_accepts_both_forms() -> None:
    assert parse_thumbprint("AB:" * 31 + "AB") == parse_thumbprint("ab" * 32) == b"\xab" * 32


# --- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("vc.example.com", "https://vc.example.com/sdk"),
        ("vc.example.com/sdk", "https://vc.example.com/sdk"),
        ("ftp://vc.example.com/sdk", "https://vc.example.com/sdk"),
        ("https:///sdk", "https://<host>/sdk"),
        ("https://vc.example.com:notaport/sdk", "https://<host>"),
        ("", "https://<host>/sdk"),
    ],
)
def test_bad_urls(url: str, fix: str) -> None:
    with pytest.raises(errors.UsageError) as info:
        HttpTransport(url)
    assert fix in str(info.value)


def test_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(errors.UsageError) as info:
        HttpTransport(f"https://root:{SECRET}@vc.example.com/sdk")
    assert SECRET not in str(info.value)


def test_base_url_and_path() -> None:
    with HttpTransport("https://VC.example.com:8443") as t:
        assert t.base_path == "/sdk"
        assert t.base_url == "https://VC.example.com:8443/sdk"


# --- error mapping ------------------------------------------------------------------------------


def test_refused_port_is_connect_error_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        HttpTransport(f"http://127.0.0.1:{port}/sdk") as t,
        pytest.raises(errors.ConnectError) as i,
    ):
        t.send(_post())
    assert type(i.value) is errors.ConnectError
    assert i.value.maybe_sent is False
    assert f"cannot connect to 127.0.0.1:{port}" in str(i.value)
    assert "check the URL" in str(i.value)


def test_server_hangs_up_after_reading_request_maybe_sent(https: _Server, certs: TestCerts) -> None:
    t = HttpTransport(_url(https), thumbprint=certs.thumbprint)
    with t, pytest.raises(errors.TransportError) as info:
        t.send(_post("/close", b"<CreateVM_Task/>", "CreateVM_Task"))
    assert not isinstance(info.value, errors.ConnectError | errors.TimeoutError)
    assert info.value.maybe_sent is True
    assert info.value.method == "CreateVM_Task"
    assert https.bodies == [("/close", b"<CreateVM_Task/>")]


def test_read_timeout_maybe_sent(plain: _Server) -> None:
    t = HttpTransport(_url(plain, "http"), read_timeout=30)
    with t, pytest.raises(errors.TimeoutError) as info:
        t.send(_post("/slow"), timeout=0.2)  # the per-call timeout wins
    assert info.value.maybe_sent is True
    assert "0.2 s" in str(info.value)


def test_http_error_status_is_returned_not_raised(plain: _Server) -> None:
    with HttpTransport(_url(plain, "http")) as t:
        response = t.send(_post("/fault"))
    assert response.status == 500
    assert b"NotAuthenticated" in response.body


@pytest.mark.parametrize("path", ["/big", "/bigstream"])
def test_max_body(plain: _Server, path: str) -> None:
    with HttpTransport(_url(plain, "http"), max_body=1000) as t:
        with pytest.raises(errors.ProtocolError, match="max_body=1000") as info:
            t.send(_post(path))
        assert info.value.maybe_sent is True
        assert t.send(_post()).status == 200  # the transport is still usable
    with HttpTransport(_url(plain, "http"), max_body=2000) as t:
        assert len(t.send(_post(path)).body) == 2000


def test_send_after_close_is_usage_error() -> None:
    t = HttpTransport("https://vc.example.com/sdk")
    t.close()
    with pytest.raises(errors.UsageError):
        t.send(_post())


def test_relative_path_is_usage_error() -> None:
    with HttpTransport("https://vc.example.com/sdk") as t, pytest.raises(errors.UsageError):
        t.send(Request("GET", "sdk", {}))


# --- headers, pooling, threads ------------------------------------------------------------------


def test_operation_id_and_user_agent(plain: _Server) -> None:
    with HttpTransport(_url(plain, "http")) as t:
        for _ in range(5):
            t.send(_post())
        t.send(Request("GET", "/sdk/vimServiceVersions.xml", {"operationID": "mine-1"}))
    ids = [h.get("operationID") for h in plain.headers_seen]
    assert ids[-1] == "mine-1"
    assert all(i is not None and re.fullmatch(r"[0-9a-f]{8}", i) for i in ids[:-1])
    assert len(set(ids)) == len(ids)
    assert all(h.get("User-Agent") == USER_AGENT for h in plain.headers_seen)
    assert USER_AGENT.startswith("spherekit/")


def test_keep_alive_and_no_implicit_cookies(https: _Server, certs: TestCerts) -> None:
    with HttpTransport(_url(https), ca_file=str(certs.ca_file)) as t:
        response = t.send(_post("/ticket"))
        assert COOKIE in response.headers["Set-Cookie"]
        t.send(_post())
        t.send(_post())
    assert https.connections == 1
    assert all("Cookie" not in h for h in https.headers_seen)  # the session layer owns it


def test_concurrent_sends(plain: _Server) -> None:
    # More threads than connections: stresses the pool race of encode/httpcore#1110, which
    # failed this test with EBADF (or hung until the read timeout) before the fix.
    def send(_: int) -> int:
        return t.send(_post()).status

    t = HttpTransport(_url(plain, "http"), pool_size=4, read_timeout=5)
    with t, ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(600)))
    assert statuses == [200] * 600
    assert plain.connections <= 4


class _IdleLookingConnection(httpcore.ConnectionInterface):
    """A connection just handed to a request that has not started on it: it still reports
    IDLE, and its socket already looks readable (the answer is arriving)."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def info(self) -> str:
        return "fake"

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return True

    def is_available(self) -> bool:
        return True

    def has_expired(self) -> bool:
        return True

    def is_idle(self) -> bool:
        return True

    def is_closed(self) -> bool:
        return False


@pytest.mark.parametrize("keepalive", [1, 0])
def test_pool_never_closes_a_connection_claimed_by_a_request(keepalive: int) -> None:
    # encode/httpcore#1110: upstream closes this connection under the request (EBADF, or a
    # hang until the read timeout); the transport's pool must not.
    pool = pool_module.ConnectionPool(max_connections=1, max_keepalive_connections=keepalive)
    connection = _IdleLookingConnection()
    claimed = PoolRequest(httpcore.Request("POST", "http://127.0.0.1:1/sdk"))
    claimed.assign_to_connection(connection)
    queued = PoolRequest(httpcore.Request("POST", "http://127.0.0.1:1/sdk"))
    pool._connections = [connection]
    pool._requests = [claimed, queued]
    assert pool._assign_requests_to_connections() == []
    assert pool._connections == [connection]
    assert queued.is_queued()  # not given the same connection, and no room for another
    pool._requests = [queued]  # once released it is judged normally again
    assert pool._assign_requests_to_connections() == [connection]


def test_http_transport_uses_the_fixed_pool() -> None:
    with HttpTransport("https://vc.example.com/sdk") as t:
        pool = getattr(t._client._transport, "_pool", None)
    assert isinstance(pool, pool_module.ConnectionPool)


# --- wire log -----------------------------------------------------------------------------------


def test_wire_log_redacts_secrets_over_the_wire(https: _Server, certs: TestCerts) -> None:
    stream = io.StringIO()
    log = WireLog(stream)
    body = (
        '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
        f"<userName>administrator@vsphere.local</userName><password>{SECRET}</password></Login>"
    ).encode()
    request = Request(
        "POST", "/ticket", {"Cookie": COOKIE, "Content-Type": "text/xml"}, body, "Login"
    )
    with HttpTransport(_url(https), thumbprint=certs.thumbprint, wire_log=log) as t:
        t.send(request)
        with pytest.raises(errors.TransportError):
            t.send(_post("/close"))
    text = stream.getvalue()
    for secret in (SECRET, COOKIE, "52c0ffee", TICKET):
        assert secret not in text
    for visible in ("administrator@vsphere.local", "POST /ticket Login", "<<< 200", "!!! POST"):
        assert visible in text
    assert "Cookie: ***" in text and "set-cookie: ***" in text
    assert re.search(r"operationID=[0-9a-f]{8}", text)


def test_redact_body_rules() -> None:
    log = WireLog(io.StringIO(), secret_fields={"guestSecret"})
    body = (
        f'<ns1:password xsi:type="xsd:string">{SECRET}</ns1:password>'
        f"<newPassword>{SECRET}1</newPassword>"
        f"<adminPassword><value>{SECRET}2</value><plainText>true</plainText></adminPassword>"
        f'<val xsi:type="UserSession"><key>{SESSION_KEY}</key><userName>bob</userName></val>'
        f"<UserSession><key>{SESSION_KEY}</key></UserSession>"
        f"<AcquireGenericServiceTicketResponse><returnval><id>{TICKET}</id>"
        "</returnval></AcquireGenericServiceTicketResponse>"
        f"<guestSecret>{SECRET}3</guestSecret><password/>"
        "<key>vm-42</key>"
    )
    login = f"<LoginResponse><returnval><key>{SESSION_KEY}</key></returnval></LoginResponse>"
    text = log.redact_body(body + login)
    assert SECRET not in text and SESSION_KEY not in text and TICKET not in text
    assert '<ns1:password xsi:type="xsd:string">***</ns1:password>' in text
    assert "<userName>bob</userName>" in text and "<key>vm-42</key>" in text


def test_redact_body_truncation_and_unterminated() -> None:
    log = WireLog(io.StringIO(), body_limit=40)
    padding = "<a>" + "x" * 30 + "</a>"
    text = log.redact_body(f"{padding}<password>{SECRET}</password>" + "<b/>" * 50)
    assert SECRET not in text and SECRET[:3] not in text
    assert "more characters" in text
    # a body cut by the server mid-secret is withheld from the secret on
    unterminated = WireLog(io.StringIO()).redact_body(f"<ok/><password>{SECRET}")
    assert unterminated.startswith("<ok/>") and SECRET not in unterminated
    # JSON bodies too
    assert SECRET not in WireLog(io.StringIO()).redact_body(f'{{"password": "{SECRET}"}}')


def test_wire_log_to_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("spherekit.test.wire")
    log = WireLog(logger)
    request = Request("POST", "/sdk", {"Authorization": "Basic c2VjcmV0"}, b"<a/>", "Fetch")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        log.log_request(request)
        log.log_response(request, Response(200, {"Set-Cookie": COOKIE}, b"<b/>"), duration=0.01)
    assert "c2VjcmV0" not in caplog.text and COOKIE not in caplog.text
    assert ">>> POST /sdk Fetch" in caplog.text and "<<< 200" in caplog.text


def test_wire_log_rejects_bad_secret_field_names() -> None:
    with pytest.raises(errors.UsageError):
        WireLog(io.StringIO(), secret_fields={"not a name"})


# --- mock transport -----------------------------------------------------------------------------


def test_mock_transport_records_and_answers() -> None:
    def handler(request: Request) -> Response:
        return Response(200, {"Content-Type": "text/xml"}, b"<ok/>")

    mock = MockTransport(handler)
    transport: Transport = mock
    response = transport.send(_post(), timeout=300)
    assert response.headers["content-type"] == "text/xml"  # case-insensitive
    assert [r.soap_method for r in mock.requests] == ["RetrieveContent"]
    assert mock.timeouts == [300]
    transport.close()
    with pytest.raises(errors.UsageError):
        transport.send(_post())


@pytest.mark.parametrize(
    ("raised", "expected", "maybe_sent"),
    [
        (httpx.ReadTimeout("slow"), errors.TimeoutError, True),
        (httpx.ConnectTimeout("slow"), errors.TimeoutError, False),
        (httpx.ConnectError("refused"), errors.ConnectError, False),
        (httpx.RemoteProtocolError("gone"), errors.TransportError, True),
        (ConnectionResetError(104, "Connection reset by peer"), errors.TransportError, True),
        (errors.ConnectError("as given"), errors.ConnectError, False),
    ],
)
def test_mock_transport_maps_errors(
    raised: Exception, expected: type[errors.TransportError], maybe_sent: bool
) -> None:
    def handler(request: Request) -> Response:
        raise raised

    with pytest.raises(expected) as info:
        MockTransport(handler).send(_post())
    assert type(info.value) is expected
    assert info.value.maybe_sent is maybe_sent
    assert not isinstance(info.value, httpx.HTTPError)


def test_mock_transport_lets_test_bugs_through() -> None:
    def handler(request: Request) -> Response:
        raise KeyError("bug in the test")

    with pytest.raises(KeyError):
        MockTransport(handler).send(_post())


def test_tls_files_exist(certs: TestCerts) -> None:
    assert all(Path(p).is_file() for p in (certs.ca_file, certs.cert_file, certs.key_file))
