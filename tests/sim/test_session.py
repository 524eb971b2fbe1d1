"""Sessions: login, cookies, NotAuthenticated, logout, expiry, the session list."""

from __future__ import annotations

import time

import pytest

import spherekit
from spherekit import faults
from spherekit.session import SERVICE_INSTANCE, Session
from tests.sim.conftest import SimFactory, Target, container_view


def anonymous(sim: Target) -> Session:
    """A session that negotiated the version but never logged in."""
    s = Session(sim.transport())  # no credentials: it cannot log in again by itself
    s.negotiate()
    return s


def test_about_says_vcenter_8(session: spherekit.Session) -> None:
    about = session.content.about
    assert about.apiType == "VirtualCenter"
    assert about.apiVersion == "8.0.2.0" == session.api_version
    assert about.name == "VMware vCenter Server"
    assert about.instanceUuid
    assert session.is_vcenter


def test_wrong_password_is_invalid_login(sim: Target) -> None:
    with pytest.raises(faults.InvalidLogin) as info:
        sim.connect(password="wrong")
    assert "incorrect user name or password" in str(info.value)
    with pytest.raises(faults.InvalidLogin):
        sim.connect(user="nobody")


def test_calls_without_a_session_are_not_authenticated(sim: Target) -> None:
    s = anonymous(sim)
    # allowed anonymously, as on vCenter
    assert s.content.rootFolder.value == "group-d1"
    assert s.call(SERVICE_INSTANCE, "CurrentTime") is not None
    with pytest.raises(faults.NotAuthenticated) as info:
        container_view(s, s.content.rootFolder, [])
    assert info.value.object == s.content.viewManager
    with pytest.raises(faults.NotAuthenticated):
        spherekit.fetch(s, "VirtualMachine", ["name"])


def test_login_sets_a_secret_cookie_that_is_not_the_session_key(sim: Target) -> None:
    s = sim.connect()
    assert s.user_session is not None
    cookie = s._cookie or ""
    assert cookie.startswith("vmware_soap_session=")
    assert s.user_session.key not in cookie
    assert s.user_session.userName == "user"


def test_current_session_and_session_list(sim: Target) -> None:
    a, b = sim.connect(), sim.connect()
    mgr = a.content.sessionManager
    assert mgr is not None
    ((_ref, row),) = spherekit.property.retrieve(
        a,
        spherekit.property.filter_spec("SessionManager", ["currentSession", "sessionList"], [mgr]),
    )
    assert a.user_session is not None and b.user_session is not None
    assert row["currentSession"].key == a.user_session.key
    keys = {us.key for us in row["sessionList"]}
    assert {a.user_session.key, b.user_session.key} <= keys
    assert a.call(mgr, "SessionIsActive", sessionID=b.user_session.key, userName="user")
    assert not a.call(mgr, "SessionIsActive", sessionID="nope", userName="user")


def test_logout_ends_the_session(sim: Target) -> None:
    s = sim.connect()
    cookie = s._cookie
    mgr = s.content.sessionManager
    assert mgr is not None
    s.call(mgr, "Logout")
    raw = anonymous(sim)
    raw._cookie = cookie  # the old cookie no longer works
    with pytest.raises(faults.NotAuthenticated):
        container_view(raw, s.content.rootFolder, [])


def test_terminated_session_is_relogged_by_the_client(sim: Target) -> None:
    admin, victim = sim.connect(), sim.connect()
    mgr = admin.content.sessionManager
    assert mgr is not None and victim.user_session is not None
    old_key = victim.user_session.key
    admin.call(mgr, "TerminateSession", sessionId=[old_key])
    # the client hears NotAuthenticated, logs in again and re-sends only that call
    assert len(spherekit.fetch(victim, "VirtualMachine", ["name"])) == 4
    assert victim.user_session is not None and victim.user_session.key != old_key
    with pytest.raises(faults.NotFound):
        admin.call(mgr, "TerminateSession", sessionId=["no-such-session"])


def test_idle_sessions_expire(sim_factory: SimFactory) -> None:
    sim = sim_factory(session_timeout=0.3)
    s = sim.connect()
    cookie = s._cookie
    time.sleep(0.4)
    raw = anonymous(sim)
    raw._cookie = cookie
    with pytest.raises(faults.NotAuthenticated):
        spherekit.fetch(raw, "VirtualMachine", ["name"])
    # spherekit's session notices and logs in again by itself
    assert len(spherekit.fetch(s, "VirtualMachine", ["name"])) == 4


def test_a_session_owns_its_views_and_collectors(sim: Target) -> None:
    a, b = sim.connect(), sim.connect()
    view = container_view(a, a.content.rootFolder, ["VirtualMachine"])
    assert view.value.startswith("session[")
    # another session cannot use it
    with pytest.raises(faults.ManagedObjectNotFound):
        b.call(view, "DestroyView")
    mgr = a.content.sessionManager
    assert mgr is not None
    a.call(mgr, "Logout")
    assert view not in sim.backend.registry
