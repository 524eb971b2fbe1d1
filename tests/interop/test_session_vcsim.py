"""Session behaviour against vcsim: expiry, re-login, retries, read-only mode, keepalive.

The proof that a vCenter expiring an idle session mid-run is invisible to the caller, that
re-login retries only the one call that failed, that a read cut off by the network is
re-sent while a write is not, and that a keepalive prevents expiry.

vcsim departures from a real vCenter that these tests account for:

- ``-session-idle-timeout`` is checked by a timer per session, every timeout period, so
  a session dies between one and two periods after its last call (a real vCenter's
  default is 30 minutes, checked more finely). Tests sleep past two periods.
- ``RetrievePropertiesEx`` (and ``RetrieveProperties``, ``RetrieveServiceContent``) succeed
  without a session in vcsim; a real vCenter answers ``NotAuthenticated``. ``fetch`` still
  meets the expired session, at its first call (``CreateContainerView``).
- A ``WaitForUpdatesEx`` in progress does not count as activity: vcsim expires the session
  under a long poll, and still answers that poll. Property collectors are per session, so
  after a re-login the old collector is ``ManagedObjectNotFound``.
- Tasks complete inside the call that creates them, so a write whose answer is lost has
  already taken effect by the time the client notices.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import spherekit
from spherekit import errors, vim
from spherekit.session import SERVICE_INSTANCE
from spherekit.task import wait_for_task
from tests.interop.conftest import ProxyFactory, Recorder, VcsimFactory, connect_sim
from tests.interop.vcsim import Vcsim

#: longer than two periods of a 1 s idle timeout: the session is certainly gone
PAST_EXPIRY = 2.6

FETCH_CALLS = ["CreateContainerView", "RetrievePropertiesEx", "DestroyView"]


def names(s: spherekit.Session) -> dict[str, Any]:
    return {v["name"]: ref for ref, v in spherekit.fetch(s, "VirtualMachine", ["name"])}


def recorder(rec: Recorder | None) -> Recorder:
    assert rec is not None
    return rec


def test_expired_session_is_renewed_and_only_the_failed_call_is_retried(
    vcsim_factory: VcsimFactory,
) -> None:
    sim = vcsim_factory(session_idle_timeout="1s", cluster=0)
    s, r = connect_sim(sim, recorder=True)
    rec = recorder(r)
    with s:
        before = spherekit.fetch(s, "VirtualMachine", ["name", "config.uuid"])
        generation, cookie = s._login_generation, s._cookie
        time.sleep(PAST_EXPIRY)

        mark = len(rec.log)
        after = spherekit.fetch(s, "VirtualMachine", ["name", "config.uuid"])
        assert after == before  # the caller noticed nothing

        # one re-login, a new cookie, and only the call that failed was sent again
        assert s._login_generation == generation + 1
        assert s._cookie is not None and s._cookie != cookie
        sent = rec.log[mark:]
        assert [(e.name, e.status) for e in sent] == [
            ("CreateContainerView", 500),  # NotAuthenticated
            ("Login", 200),
            ("CreateContainerView", 200),
            ("RetrievePropertiesEx", 200),
            ("DestroyView", 200),
        ]
        assert sent[0].cookie == cookie and sent[1].cookie is None
        assert all(e.cookie == s._cookie for e in sent[2:])


def test_expiry_under_many_threads_logs_in_once(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(session_idle_timeout="1s", cluster=0)
    s, r = connect_sim(sim, recorder=True)
    rec = recorder(r)
    with s:
        expected = names(s)
        time.sleep(PAST_EXPIRY)
        mark = len(rec.log)
        results: list[dict[str, Any]] = []
        failures: list[BaseException] = []

        def work() -> None:
            try:
                results.append(names(s))
            except BaseException as e:  # reported below, on the test's thread
                failures.append(e)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failures == []
        assert results == [expected] * 6
        assert rec.names(mark).count("Login") == 1  # under a lock shared by all threads
        assert s._login_generation == 1


def test_watch_recovers_when_its_session_expires(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(session_idle_timeout="1s", cluster=0)
    s, r = connect_sim(sim, recorder=True)
    rec = recorder(r)
    with s, spherekit.Watch(s) as w:
        vm = names(s)["DC0_H0_VM0"]
        w.watch(vm, ["runtime.powerState"])
        first = w.wait(1)
        assert first is not None  # the initial state: poweredOn
        old_collector = w._collector
        time.sleep(PAST_EXPIRY)  # the watcher's session (and its collector) die

        # someone else powers the VM off meanwhile
        other, _ = connect_sim(sim)
        with other:
            wait_for_task(other, vim.VirtualMachine(other, vm).PowerOffVM_Task(), timeout=10)

        mark = len(rec.log)
        seen = None
        for update in w.updates(timeout=10):
            values = {c.name: c.val for c in update.changeSet or ()}
            if values.get("runtime.powerState") == "poweredOff":
                seen = update
                break
        assert seen is not None and seen.obj == vm
        # delivered as a fresh full update by a collector built for the new session
        assert seen.kind == "enter"
        assert w._collector is not None and w._collector != old_collector
        assert s._login_generation == 1
        assert rec.names(mark) == [
            "WaitForUpdatesEx",  # NotAuthenticated: log in again, re-send this call
            "Login",
            "WaitForUpdatesEx",  # ManagedObjectNotFound: the collector died with the session
            "CreatePropertyCollector",
            "CreateFilter",
            "WaitForUpdatesEx",
        ]


def test_wait_for_survives_expiry_during_its_long_poll(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(session_idle_timeout="1s", cluster=0)
    s, r = connect_sim(sim, recorder=True)
    rec = recorder(r)
    with s:
        vm = names(s)["DC0_H0_VM1"]
        other, other_r = connect_sim(sim, recorder=True)
        other_rec = recorder(other_r)
        with other:
            other_mark = len(other_rec.log)
            # fires while wait_for's WaitForUpdatesEx is blocked and its session has expired
            # (vcsim departure: a real vCenter counts a long poll as activity)
            timer = threading.Timer(PAST_EXPIRY, vim.VirtualMachine(other, vm).PowerOffVM_Task)
            mark = len(rec.log)
            timer.start()
            try:
                state = spherekit.wait_for(
                    s, vm, "runtime.powerState", lambda v: v == "poweredOff", timeout=15
                )
            finally:
                timer.join()
        assert state == "poweredOff"
        # the other session had expired too: its write was refused with NotAuthenticated
        # (so not executed) and is re-sent after the re-login, the one safe re-send of a write
        assert [(e.name, e.status) for e in other_rec.log[other_mark:]] == [
            ("PowerOffVM_Task", 500),
            ("Login", 200),
            ("PowerOffVM_Task", 200),
            ("Logout", 200),
        ]
        sent = [(e.name, e.status) for e in rec.log[mark:]]
        assert sent[:4] == [
            ("CreatePropertyCollector", 200),
            ("CreateFilter", 200),
            ("WaitForUpdatesEx", 200),  # the current state: poweredOn
            ("WaitForUpdatesEx", 200),  # the long poll, answered after the session died
        ]
        # closing the watch met the expired session: its collector died with it, so
        # close() does not log in again just to destroy it
        assert sent[4:] == [("DestroyPropertyCollector", 500)]  # NotAuthenticated, ignored
        assert s._login_generation == 0
        assert names(s)["DC0_H0_VM1"] == vm  # and the next real call logs in again
        assert s._login_generation == 1


def test_a_read_cut_off_after_reaching_the_server_is_re_sent(
    vcsim: Vcsim, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory(vcsim)
    with spherekit.connect(
        proxy.sdk_url, user=vcsim.user, password=vcsim.password, thumbprint=proxy.thumbprint
    ) as s:
        expected = spherekit.fetch(s, "VirtualMachine", ["name", "config.uuid"])
        mark = len(proxy.requests)
        proxy.drop_next("RetrievePropertiesEx")
        rows = spherekit.fetch(s, "VirtualMachine", ["name", "config.uuid"])
        assert rows == expected
        assert proxy.dropped == ["RetrievePropertiesEx"]
        # the read reached the server twice; the calls around it once each
        assert proxy.requests[mark:] == [
            "CreateContainerView",
            "RetrievePropertiesEx",
            "RetrievePropertiesEx",
            "DestroyView",
        ]


def test_a_write_cut_off_is_not_re_sent(
    vcsim_factory: VcsimFactory, proxy_factory: ProxyFactory
) -> None:
    sim = vcsim_factory(cluster=0)
    proxy = proxy_factory(sim)
    with spherekit.connect(
        proxy.sdk_url, user=sim.user, password=sim.password, thumbprint=proxy.thumbprint
    ) as s:
        vm = names(s)["DC0_H0_VM0"]
        proxy.drop_next("PowerOffVM_Task")
        with pytest.raises(errors.OutcomeUnknown) as caught:
            vim.VirtualMachine(s, vm).PowerOffVM_Task()
        assert caught.value.maybe_sent is True
        assert caught.value.method == "PowerOffVM_Task"
        assert "not re-sent" in str(caught.value)
        assert proxy.count("PowerOffVM_Task") == 1
        # the outcome really was unknown to the client: the server did power the VM off
        state = spherekit.wait_for(
            s, vm, "runtime.powerState", lambda v: v == "poweredOff", timeout=10
        )
        assert state == "poweredOff"
        assert proxy.count("PowerOffVM_Task") == 1


def test_read_only_session_refuses_writes_before_sending(
    vcsim: Vcsim, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory(vcsim)
    with spherekit.connect(
        proxy.sdk_url,
        user=vcsim.user,
        password=vcsim.password,
        insecure=True,  # through the proxy, as with thumbprint= in the tests above
        read_only=True,
    ) as s:
        vm = vim.VirtualMachine(s, names(s)["DC0_H0_VM0"])
        with pytest.raises(errors.ReadOnlyError, match="read-only") as caught:
            vm.PowerOnVM_Task()
        assert isinstance(caught.value, errors.UsageError)
        with pytest.raises(errors.ReadOnlyError):
            vm.Destroy_Task()
        assert proxy.count("PowerOnVM_Task") == 0
        assert proxy.count("Destroy_Task") == 0
        # reads work, and so does the view a fetch creates and destroys
        rows = spherekit.fetch(s, "VirtualMachine", ["runtime.powerState"])
        assert len(rows) == 4
        assert proxy.count("RetrievePropertiesEx") >= 2


def test_keepalive_keeps_an_idle_session(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(session_idle_timeout="2s", cluster=0, vm=0)
    s, r = connect_sim(sim, recorder=True)
    rec = recorder(r)
    with s:
        cookie = s._cookie
        mark = len(rec.log)
        s.start_keepalive(0.5)
        time.sleep(3)
        s.call(SERVICE_INSTANCE, "CurrentTime")
        assert s._cookie == cookie
        assert s._login_generation == 0
        sent = rec.log[mark:]
        assert "Login" not in [e.name for e in sent]
        assert all(e.status == 200 for e in sent)  # never NotAuthenticated
        assert [e.name for e in sent].count("CurrentTime") >= 4  # the keepalive's calls
