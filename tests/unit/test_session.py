"""Session: version negotiation, login and re-login, scoped retries, read-only mode, cookies.

Every test talks to :class:`~tests.unit.fakevc.FakeVC`, a few-method vCenter behind a
MockTransport, and counts the requests it saw.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import spherekit.session as session_mod
from spherekit import errors, faults, vim
from spherekit.errors import (
    ConnectError,
    OutcomeUnknown,
    ReadOnlyError,
    SpherekitError,
    TransportError,
    UsageError,
    VersionError,
)
from spherekit.schema import registry
from spherekit.schema.base import MoRef
from spherekit.session import SERVICE_INSTANCE, Session, connect
from spherekit.wire.transport import MockTransport, Request, Response
from tests.unit import soap
from tests.unit.fakevc import PASSWORD, USER, FakeVC
from tests.unit.soap import Call

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
VM = MoRef("VirtualMachine", "vm-42")
NEWEST = [v for v in registry.VERSIONS if v[0].isdigit()][-1]


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "READ_RETRY_DELAYS", (0.0, 0.001, 0.002))


@pytest.fixture
def vc() -> FakeVC:
    fake = FakeVC()
    fake.handlers["CurrentTime"] = lambda call: NOW
    return fake


@pytest.fixture
def session(vc: FakeVC) -> Iterator[Session]:
    s = vc.connect()
    vc.reset_log()
    yield s
    vc.on_unauthenticated = None
    s.close()


def soap_actions(vc: FakeVC) -> list[str | None]:
    return [c.header("SOAPAction") for c in vc.log]


def chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def assert_no_secret(e: BaseException, secret: str) -> None:
    for exc in chain(e):
        for text in (str(exc), repr(exc), *map(repr, exc.args)):
            assert secret not in text, f"{type(exc).__name__} shows the password: {text}"


# ---------------------------------------------------------------------------------------
# connecting and version negotiation


def test_connect_negotiates_the_version_from_vim_service_versions() -> None:
    vc = FakeVC(versions_xml="8.0.2.0", api_version="8.0.2.0")
    with vc.connect() as s:
        assert s.api_version == "8.0.2.0"
        assert vc.gets == ["/sdk/vimServiceVersions.xml"]
        assert vc.methods() == ["RetrieveServiceContent", "Login"]
        assert set(soap_actions(vc)) == {'"urn:vim25/8.0.2.0"'}
        assert s.content.about.apiType == "VirtualCenter"
        assert s.is_vcenter
        assert s.user_session is not None and s.user_session.userName == USER


def test_missing_versions_file_falls_back_to_about_api_version() -> None:
    vc = FakeVC(versions_xml=None, api_version="7.0.3.0")
    with vc.connect() as s:
        assert s.api_version == "7.0.3.0"
        assert vc.gets == ["/sdk/vimServiceVersions.xml"]  # answered 404
        vc.handlers["CurrentTime"] = lambda call: NOW
        vc.reset_log()
        assert s.call(SERVICE_INSTANCE, "CurrentTime") == NOW
        assert soap_actions(vc) == ['"urn:vim25/7.0.3.0"']


@pytest.mark.parametrize("xml", [True, False])
@pytest.mark.parametrize(
    ("server", "spoken"),
    [("99.0.0.0", NEWEST), ("8.0.2.7", "8.0.2.0"), ("6.7", "6.7"), ("8.0.3.0", "8.0.3.0")],
)
def test_negotiated_version_is_one_we_know(server: str, spoken: str, xml: bool) -> None:
    vc = FakeVC(versions_xml=server if xml else None, api_version=server)
    with vc.connect() as s:
        assert s.api_version == spoken
        assert vc.log[-1].header("SOAPAction") == f'"urn:vim25/{spoken}"'


def test_versions_file_that_is_not_xml_falls_back() -> None:
    vc = FakeVC(versions_xml="<<not xml", api_version="8.0.1.0")
    with vc.connect() as s:
        assert s.api_version == "8.0.1.0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("vc.example.com", "use https://vc.example.com/sdk"),
        ("ftp://vc.example.com/sdk", "scheme must be https"),
        ("https:///sdk", "has no host; use https://<host>/sdk"),
        ("https://", "has no host"),
    ],
)
def test_bad_urls_say_how_to_fix_them(url: str, expected: str) -> None:
    transport = MockTransport(lambda r: pytest.fail("nothing may be sent"))
    with pytest.raises(UsageError, match=expected):
        connect(url, user="u", password="p", transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "root:Sup3r-S3cret@vc.example.com",
        "ftp://root:Sup3r-S3cret@vc.example.com/sdk",
        "https://root:Sup3r-S3cret@/sdk",
    ],
)
def test_bad_urls_never_show_the_password(url: str) -> None:
    with pytest.raises(UsageError) as info:
        connect(url, transport=MockTransport(lambda r: pytest.fail("nothing may be sent")))
    assert "Sup3r-S3cret" not in str(info.value)
    assert "root:***@" in str(info.value)


def test_connect_needs_credentials() -> None:
    with pytest.raises(UsageError, match="user= and password="):
        connect("https://vc.example.com/sdk", user="u")


def test_credentials_in_the_url_are_used_and_unquoted(vc: FakeVC) -> None:
    url = f"https://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@vc.example.com/sdk"
    with connect(url, transport=vc.transport) as s:
        assert s.user_session is not None
    assert vc.calls("Login")[0].params["userName"] == USER  # the %40 became @ again


def test_wrong_password_raises_invalid_login_from_connect(vc: FakeVC) -> None:
    secret = "wrong-Pa55word-xyz"
    with pytest.raises(faults.InvalidLogin) as info:
        vc.connect(password=secret)
    e = info.value
    assert isinstance(e, faults.MethodFault) and isinstance(e, SpherekitError)
    assert e.method_name == "Login"
    assert "incorrect user name or password" in str(e)
    assert vc.transport.closed  # connect cleans up after itself
    assert vc.calls("Login")[0].params["password"] == secret  # it was sent ...
    assert_no_secret(e, secret)  # ... but never shown


@pytest.mark.parametrize(
    "failure",
    [
        errors.TimeoutError("read timed out", maybe_sent=True),
        ConnectError("connection refused"),
    ],
)
def test_password_never_appears_in_transport_errors_during_login(
    vc: FakeVC, failure: TransportError
) -> None:
    real = vc.transport.handler

    def handler(request: Request) -> Response:
        if b"<Login " in request.body:
            raise failure
        return real(request)

    vc.transport.handler = handler
    with pytest.raises(TransportError) as info:
        vc.connect()
    assert_no_secret(info.value, PASSWORD)


def test_context_manager_logs_out_and_closes(vc: FakeVC) -> None:
    with vc.connect() as s:
        assert len(vc.live) == 1
        s.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.methods()[-1] == "Logout"
    assert vc.live == set()
    assert vc.transport.closed


def test_logout_of_an_expired_session_is_quiet_and_does_not_log_in(vc: FakeVC) -> None:
    s = vc.connect()
    vc.expire()
    vc.reset_log()
    s.close()
    assert vc.methods() == ["Logout"]


# ---------------------------------------------------------------------------------------
# re-login


def test_expired_session_logs_in_once_and_resends_only_that_call(
    vc: FakeVC, session: Session
) -> None:
    assert session.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    first_cookie = vc.log[-1].header("Cookie")
    vc.expire()
    vc.reset_log()
    assert session.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    assert vc.methods() == ["CurrentTime", "Login", "CurrentTime"]
    assert vc.log[-1].header("Cookie") != first_cookie  # the new session's cookie
    vc.reset_log()
    session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.methods() == ["CurrentTime"]


def test_relogin_is_tried_once_per_call(vc: FakeVC, session: Session) -> None:
    def always_expired(call: Call) -> Any:
        raise vim.NotAuthenticated()

    vc.handlers["CurrentTime"] = always_expired
    with pytest.raises(faults.NotAuthenticated):
        session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.methods() == ["CurrentTime", "Login", "CurrentTime"]


def test_no_relogin_without_a_password(vc: FakeVC) -> None:
    s = Session(vc.transport)
    s.negotiate()
    with pytest.raises(faults.NotAuthenticated):
        s.call(SERVICE_INSTANCE, "CurrentTime")
    assert "Login" not in vc.methods()


def test_eight_threads_on_an_expired_session_log_in_exactly_once(
    vc: FakeVC, session: Session
) -> None:
    threads = 8
    # the server holds every stale request until all eight have arrived, so they all
    # fail together: the thundering herd a re-login lock must absorb
    herd = threading.Barrier(threads, timeout=5)

    def hold(call: Call) -> None:
        herd.wait()

    vc.on_unauthenticated = hold
    start = threading.Barrier(threads, timeout=5)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            start.wait()
            value = session.call(SERVICE_INSTANCE, "CurrentTime")
            with lock:
                results.append(value)
        except BaseException as e:
            with lock:
                errors.append(e)

    vc.expire()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in workers)
    assert errors == []
    assert results == [NOW] * threads
    assert vc.count("Login") == 1
    assert vc.count("CurrentTime") == 2 * threads  # each failed once, then succeeded


# ---------------------------------------------------------------------------------------
# network errors and retries


def flaky(vc: FakeVC, method: str, failures: list[BaseException], result: Any = None) -> None:
    """``method`` raises each of ``failures`` in turn (before the server acts), then works."""
    real = vc.transport.handler
    pending = list(failures)

    def handler(request: Request) -> Response:
        if f"<{method} ".encode() in request.body:
            vc.log.append(soap.parse_call(request))
            if pending:
                raise pending.pop(0)
            return soap.ok(method, result)
        return real(request)

    vc.transport.handler = handler


def test_read_is_retried_after_a_network_error(vc: FakeVC, session: Session) -> None:
    flaky(vc, "CurrentTime", [errors.TimeoutError("read timed out", maybe_sent=True)] * 2, NOW)
    assert session.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    assert vc.count("CurrentTime") == 3


def test_write_that_may_have_been_sent_is_not_resent(vc: FakeVC, session: Session) -> None:
    cause = errors.TimeoutError("read timed out after 120 s", maybe_sent=True)
    flaky(vc, "PowerOnVM_Task", [cause], MoRef("Task", "task-1"))
    with pytest.raises(OutcomeUnknown) as info:
        session.call(VM, "PowerOnVM_Task")
    e = info.value
    assert vc.count("PowerOnVM_Task") == 1
    assert "the outcome is unknown" in str(e)
    assert "not re-sent" in str(e) and "PowerOnVM_Task" in str(e)
    assert e.method == "PowerOnVM_Task" and e.maybe_sent
    assert e.__cause__ is cause


def test_write_whose_request_never_left_is_retried(vc: FakeVC, session: Session) -> None:
    flaky(vc, "PowerOnVM_Task", [ConnectError("connection refused")], MoRef("Task", "task-1"))
    assert session.call(VM, "PowerOnVM_Task") == MoRef("Task", "task-1")
    assert vc.count("PowerOnVM_Task") == 2


def test_mapped_httpx_errors_follow_the_same_rules(vc: FakeVC, session: Session) -> None:
    flaky(vc, "CurrentTime", [httpx.ReadTimeout("slow")], NOW)
    assert session.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    flaky(vc, "PowerOnVM_Task", [httpx.ReadTimeout("slow")], MoRef("Task", "task-1"))
    with pytest.raises(OutcomeUnknown):
        session.call(VM, "PowerOnVM_Task")


def test_retries_are_capped(vc: FakeVC, session: Session) -> None:
    flaky(vc, "CurrentTime", [errors.TimeoutError("down", maybe_sent=True)] * 10, NOW)
    with pytest.raises(errors.TimeoutError, match="down"):
        session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.count("CurrentTime") == 1 + len(session_mod.READ_RETRY_DELAYS)
    flaky(vc, "PowerOnVM_Task", [ConnectError("refused")] * 10, MoRef("Task", "task-1"))
    with pytest.raises(ConnectError):
        session.call(VM, "PowerOnVM_Task")
    assert vc.count("PowerOnVM_Task") == 1 + len(session_mod.READ_RETRY_DELAYS)


def test_garbage_answer_to_a_write_is_not_resent(vc: FakeVC, session: Session) -> None:
    def garbage(call: Call) -> Response:
        return Response(200, soap.XML_HEADERS, b"<soapenv:Envelope><truncated")

    vc.handlers["PowerOnVM_Task"] = garbage
    with pytest.raises(OutcomeUnknown, match="outcome is unknown"):
        session.call(VM, "PowerOnVM_Task")
    assert vc.count("PowerOnVM_Task") == 1


def test_error_page_for_a_read_is_retried(vc: FakeVC, session: Session) -> None:
    answers = [Response(503, {"Content-Type": "text/html"}, b"<html>busy</html>")]

    def busy_once(call: Call) -> Any:
        return answers.pop() if answers else NOW

    vc.handlers["CurrentTime"] = busy_once
    assert session.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    assert vc.count("CurrentTime") == 2


def test_faults_are_not_retried(vc: FakeVC, session: Session) -> None:
    def powered_on(call: Call) -> Any:
        raise vim.InvalidPowerState(existingState=vim.VirtualMachinePowerState.poweredOn)

    vc.handlers["PowerOnVM_Task"] = powered_on
    with pytest.raises(faults.InvalidState) as info:
        session.call(VM, "PowerOnVM_Task")
    assert info.value.method_name == "PowerOnVM_Task"
    assert vc.count("PowerOnVM_Task") == 1


# ---------------------------------------------------------------------------------------
# checks before sending


def test_mistakes_are_refused_before_anything_is_sent(vc: FakeVC, session: Session) -> None:
    disk = vim.VirtualDisk(key=1, capacityInKB=1)
    disk.capacityInKB = None  # type: ignore[assignment]
    spec = vim.VirtualMachineConfigSpec(deviceChange=[vim.VirtualDeviceConfigSpec(device=disk)])
    with pytest.raises(UsageError, match=r"deviceChange\[0\]\.device\.capacityInKB"):
        session.call(VM, "ReconfigVM_Task", spec=spec)
    with pytest.raises(UsageError, match="did you mean PowerOnVM_Task"):
        session.call(VM, "PowerOnVm_Task")
    with pytest.raises(UsageError, match="is a method of VirtualMachine"):
        session.call(MoRef("HostSystem", "host-1"), "PowerOnVM_Task")
    with pytest.raises(UsageError, match="must be a MoRef or a handle"):
        session.call("vm-42", "PowerOnVM_Task")  # type: ignore[arg-type]
    assert vc.log == []


def test_method_newer_than_the_server_is_refused_before_sending() -> None:
    vc = FakeVC(versions_xml="6.5", api_version="6.5")
    with vc.connect() as s:
        vc.reset_log()
        with pytest.raises(VersionError, match=r"EmitSyslogMark appeared in API 8\.0\.0\.2.*6\.5"):
            s.call(MoRef("DiagnosticManager", "DiagMgr"), "EmitSyslogMark", message="x")
        with pytest.raises(VersionError, match="simultaneousThreads"):
            vim.VirtualMachine(s, "vm-1").ReconfigVM_Task(
                spec=vim.VirtualMachineConfigSpec(simultaneousThreads=2)
            )
        assert vc.log == []


# ---------------------------------------------------------------------------------------
# read-only sessions


def test_read_only_session_refuses_writes_before_sending(vc: FakeVC) -> None:
    with vc.connect(read_only=True) as s:
        vc.reset_log()
        vm = vim.VirtualMachine(s, "vm-42")
        with pytest.raises(ReadOnlyError, match="PowerOnVM_Task changes server state"):
            vm.PowerOnVM_Task()
        with pytest.raises(ReadOnlyError, match="read_only=True"):
            vm.ReconfigVM_Task(spec=vim.VirtualMachineConfigSpec(numCPUs=2))
        with pytest.raises(UsageError):  # ReadOnlyError is a UsageError
            s.call(VM, "PowerOnVM_Task")
        assert vc.log == []


def test_read_only_session_allows_reads_and_watches(vc: FakeVC) -> None:
    view = MoRef("ContainerView", "session[1]view-1")
    vc.handlers["CreateContainerView"] = lambda call: view
    vc.handlers["RetrievePropertiesEx"] = lambda call: None
    vc.handlers["WaitForUpdatesEx"] = lambda call: None
    vc.handlers["CreatePropertyCollector"] = lambda call: MoRef("PropertyCollector", "pc-2")
    vc.handlers["CreateFilter"] = lambda call: MoRef("PropertyFilter", "f-1")
    vc.handlers["DestroyView"] = lambda call: None
    with vc.connect(read_only=True) as s:
        assert s.read_only
        pc = s.content.propertyCollector
        got = s.call(
            s.content.viewManager,  # type: ignore[arg-type]
            "CreateContainerView",
            container=s.content.rootFolder,
            type=["VirtualMachine"],
            recursive=True,
        )
        assert got == view
        spec = vim.PropertyFilterSpec(
            propSet=[vim.PropertySpec(type="VirtualMachine", pathSet=["name"])],
            objectSet=[vim.ObjectSpec(obj=VM)],
        )
        s.call(pc, "RetrievePropertiesEx", specSet=[spec], options=vim.RetrieveOptions())
        collector = s.call(pc, "CreatePropertyCollector")
        s.call(collector, "CreateFilter", spec=spec, partialUpdates=False)
        s.call(collector, "WaitForUpdatesEx", version="", options=vim.WaitOptions())
        s.call(view, "DestroyView")
    assert vc.methods() == [
        "RetrieveServiceContent",
        "Login",
        "CreateContainerView",
        "RetrievePropertiesEx",
        "CreatePropertyCollector",
        "CreateFilter",
        "WaitForUpdatesEx",
        "DestroyView",
        "Logout",
    ]


# ---------------------------------------------------------------------------------------
# cookies


def test_the_session_cookie_is_sent_back(vc: FakeVC, session: Session) -> None:
    session.call(SERVICE_INSTANCE, "CurrentTime")
    cookie = vc.log[-1].header("Cookie")
    assert cookie is not None and cookie.startswith('vmware_soap_session="session-')
    assert cookie.split("=", 1)[1] in vc.live


def test_a_new_set_cookie_replaces_the_old_one(vc: FakeVC, session: Session) -> None:
    def rotate(call: Call) -> Response:
        vc.live.add('"rotated-1"')
        return soap.ok(
            "CurrentTime", NOW, {"Set-Cookie": 'vmware_soap_session="rotated-1"; Path=/; HttpOnly'}
        )

    vc.handlers["CurrentTime"] = rotate
    session.call(SERVICE_INSTANCE, "CurrentTime")
    vc.handlers["CurrentTime"] = lambda call: NOW
    session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.log[-1].header("Cookie") == 'vmware_soap_session="rotated-1"'


def test_session_cookie_is_found_among_several_set_cookies(vc: FakeVC, session: Session) -> None:
    headers = httpx.Headers(
        [
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Set-Cookie", "vmware_client=VMware; Path=/"),
            ("Set-Cookie", 'vmware_soap_session="rotated-2"; Path=/; HttpOnly; Secure'),
        ]
    )

    def rotate(call: Call) -> Response:
        vc.live.add('"rotated-2"')
        return Response(200, headers, soap.result_body("CurrentTime", NOW))

    vc.handlers["CurrentTime"] = rotate
    session.call(SERVICE_INSTANCE, "CurrentTime")
    vc.handlers["CurrentTime"] = lambda call: NOW
    session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.log[-1].header("Cookie") == 'vmware_soap_session="rotated-2"'


def test_other_cookies_do_not_replace_the_session_cookie(vc: FakeVC, session: Session) -> None:
    session.call(SERVICE_INSTANCE, "CurrentTime")
    before = vc.log[-1].header("Cookie")
    vc.handlers["CurrentTime"] = lambda call: soap.ok(
        "CurrentTime", NOW, {"Set-Cookie": "tracking=1; Path=/"}
    )
    session.call(SERVICE_INSTANCE, "CurrentTime")
    session.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.log[-1].header("Cookie") == before


# ---------------------------------------------------------------------------------------
# handles and keepalive


def test_handles_call_through_the_session(vc: FakeVC, session: Session) -> None:
    vc.handlers["PowerOnVM_Task"] = lambda call: MoRef("Task", "task-9")
    task = vim.VirtualMachine(session, "vm-42").PowerOnVM_Task()
    assert isinstance(task, vim.Task)
    assert task.ref == MoRef("Task", "task-9")
    assert vc.log[-1].this == VM
    handle = session.handle(MoRef("HostSystem", "host-1"))
    assert type(handle) is vim.HostSystem


def test_keepalive_calls_current_time_until_closed(vc: FakeVC) -> None:
    ticked = threading.Event()

    def tick(call: Call) -> Any:
        ticked.set()
        return NOW

    vc.handlers["CurrentTime"] = tick
    s = vc.connect(keepalive=0.01)
    assert ticked.wait(5)
    s.close()
    assert s._keepalive is not None
    s._keepalive.join(timeout=5)
    assert not s._keepalive.is_alive()
