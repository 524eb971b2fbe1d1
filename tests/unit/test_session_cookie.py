"""Resuming a session by its cookie: ``Session.cookie`` and ``connect(cookie=...)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spherekit import faults, vim
from spherekit.errors import UsageError
from spherekit.session import SERVICE_INSTANCE, connect
from tests.unit.fakevc import URL, FakeVC, user_session
from tests.unit.soap import Call
from tests.unit.test_session import NOW, assert_no_secret

SESSION_KEY = "session-1"  # the key FakeVC gives the first Login


def current_session(vc: FakeVC, *, unset: bool = False) -> Callable[[Call], Any]:
    """A RetrievePropertiesEx handler answering SessionManager.currentSession."""

    def handler(call: Call) -> vim.RetrieveResult:
        (spec,) = call.params["specSet"]
        assert spec.propSet[0].pathSet == ["currentSession"]
        mgr = spec.objectSet[0].obj
        assert mgr == vc.content.sessionManager
        props = [] if unset else [vim.DynamicProperty(name="currentSession",
                                                      val=user_session(SESSION_KEY))]  # fmt: skip
        return vim.RetrieveResult(objects=[vim.ObjectContent(obj=mgr, propSet=props)])

    return handler


@pytest.fixture
def vc() -> FakeVC:
    fake = FakeVC()
    fake.handlers["CurrentTime"] = lambda call: NOW
    fake.handlers["RetrievePropertiesEx"] = current_session(fake)
    return fake


def cookie_of(call: Call) -> str | None:
    return call.header("Cookie")


def test_cookie_is_set_by_login_and_cleared_by_logout(vc: FakeVC) -> None:
    s = vc.connect()
    cookie = s.cookie
    assert cookie is not None and cookie.startswith("vmware_soap_session=")
    s.close()
    assert s.cookie is None
    assert cookie_of(vc.calls("Logout")[0]) == cookie


def test_cookie_resumes_the_session_without_login(vc: FakeVC) -> None:
    first = vc.connect()
    cookie = first.cookie
    assert cookie is not None
    vc.reset_log()
    second = connect(URL, cookie=cookie, transport=vc.transport)  # no credentials at all
    assert vc.methods() == ["RetrieveServiceContent", "RetrievePropertiesEx"]
    assert second.cookie == cookie
    assert second.user_session is not None and second.user_session.key == SESSION_KEY
    assert second.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    assert cookie_of(vc.calls("CurrentTime")[0]) == cookie
    assert vc.count("Login") == 0
    second.close()
    assert vc.live == set()  # closing the resumed session logs it out on the server


def test_a_bare_cookie_value_is_accepted(vc: FakeVC) -> None:
    cookie = vc.connect().cookie
    assert cookie is not None
    value = cookie.partition("=")[2]
    s = connect(URL, cookie=value, transport=vc.transport)
    assert s.cookie == cookie
    assert cookie_of(vc.calls("RetrievePropertiesEx")[-1]) == cookie


def test_an_ended_session_raises_not_authenticated_and_never_logs_in(vc: FakeVC) -> None:
    cookie = vc.connect().cookie
    assert cookie is not None
    vc.expire()
    vc.reset_log()
    with pytest.raises(faults.NotAuthenticated) as info:
        # a password is given too, yet connect must not log in behind the caller's back
        vc.connect(cookie=cookie)
    assert vc.count("Login") == 0
    assert "no longer knows the session" in str(info.value)
    assert_no_secret(info.value, cookie.partition("=")[2])
    assert vc.transport.closed


def test_an_unset_current_session_counts_as_ended(vc: FakeVC) -> None:
    # vCenter answers currentSession unset (not a fault) for a cookie it does not know
    cookie = vc.connect().cookie
    assert cookie is not None
    vc.handlers["RetrievePropertiesEx"] = current_session(vc, unset=True)
    with pytest.raises(faults.NotAuthenticated):
        connect(URL, cookie=cookie, transport=vc.transport)


def test_resumed_session_with_a_password_logs_in_again_when_it_expires(vc: FakeVC) -> None:
    cookie = vc.connect().cookie
    assert cookie is not None
    s = vc.connect(cookie=cookie)  # user and password too
    assert vc.count("Login") == 1
    vc.expire()
    assert s.call(SERVICE_INSTANCE, "CurrentTime") == NOW
    assert vc.count("Login") == 2
    assert s.cookie != cookie


def test_resumed_session_without_a_password_does_not_log_in_again(vc: FakeVC) -> None:
    cookie = vc.connect().cookie
    assert cookie is not None
    s = connect(URL, cookie=cookie, transport=vc.transport)
    vc.expire()
    with pytest.raises(faults.NotAuthenticated):
        s.call(SERVICE_INSTANCE, "CurrentTime")
    assert vc.count("Login") == 1


def test_connect_needs_credentials_or_a_cookie() -> None:
    with pytest.raises(UsageError, match="cookie="):
        connect("https://vc.example.com/sdk", user="u")
