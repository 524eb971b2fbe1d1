"""Guest customization outcomes on servers before and after vSphere 7.0 U2.

A simulator serving API 7.0.0.0 reports no ``guest.customizationInfo``: the outcome comes
from the customization events (CustomizationSucceeded / CustomizationFailed kinds), read
through an EventHistoryCollector whose ``latestPage`` is watched. At 8.0.2.0 the
``customizationInfo`` status decides. Success and failure on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.cloudinit import Customization
from spherekit.compute.custom_events import MAX_COLLECTORS, reports_customization_info
from spherekit.compute.nodes import CustomizationFailed, list_nodes, wait_guests
from spherekit.compute.nodes_create import create_nodes
from spherekit.session import Session
from spherekit.sim import Simulator, VpxModel
from spherekit.wire.transport import Request, Response
from tests.compute.test_nodes import BadSecond

IMAGE = "DC0_H0_VM1"
OLD, NEW = "7.0.0.0", "8.0.2.0"


class Recording:
    """A transport wrapper that records the SOAP methods sent and can act before one."""

    def __init__(self, inner: Any, before: dict[str, Any] | None = None) -> None:
        self.inner = inner
        self.methods: list[str] = []
        self.before = dict(before or {})

    def send(self, request: Request, timeout: float | None = None) -> Response:
        method = request.soap_method or ""
        self.methods.append(method)
        act = self.before.pop(method, None)
        if act is not None:
            act()
        resp: Response = self.inner.send(request, timeout=timeout)
        return resp

    def close(self) -> None:
        self.inner.close()


def _start(version: str, model: VpxModel | None) -> Simulator:
    sim = Simulator(model, seed=1, guest_ip_delay=0.05, api_version=version)
    if os.environ.get("SPHEREKIT_SIM_MODE") == "served":
        sim.start()
    return sim


def _connect(sim: Simulator) -> Session:
    if sim.served:
        return spherekit.connect(sim.url, thumbprint=sim.thumbprint)
    return spherekit.connect(sim.inprocess_url, transport=sim.transport())


@pytest.fixture(params=[OLD, NEW])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(version: str, request: pytest.FixtureRequest) -> Iterator[Simulator]:
    marker = request.node.get_closest_marker("spherekit_sim")
    simulator = _start(version, VpxModel(**marker.kwargs) if marker else None)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def session(sim: Simulator) -> Iterator[Session]:
    s = _connect(sim)
    rec = Recording(s._transport)
    s._transport = rec
    try:
        yield s
    finally:
        try:
            s.close()
        except spherekit.SpherekitError:
            pass


def _methods(session: Session) -> list[str]:
    rec = session._transport
    assert isinstance(rec, Recording)
    return rec.methods


@pytest.fixture
def image(session: Session) -> str:
    vm = find.by_path(session, f"/DC0/vm/{IMAGE}")
    spherekit.wait_for_task(session, session.call(vm, "PowerOffVM_Task"))
    session.call(vm, "MarkAsTemplate")
    return IMAGE


def _info(session: Session, ref: spherekit.MoRef) -> Any:
    rows = spherekit.fetch(session, "VirtualMachine", ["guest"])
    return next(v for r, v in rows if r == ref)["guest"].customizationInfo


def _names(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"]))


def test_the_server_version_chooses_the_source(session: Session, version: str) -> None:
    assert session.api_version == version
    assert reports_customization_info(session) is (version == NEW)


def test_success_waits_for_the_outcome_then_the_customized_address(
    session: Session, version: str, image: str
) -> None:
    custom = Customization(ips=["10.9.0.7", "10.9.0.8"], gateway="10.9.0.1")
    nodes = create_nodes(session, image, 2, "ok", customization=custom, timeout=30)
    assert [(n.name, n.ip) for n in nodes] == [("ok-1", "10.9.0.7"), ("ok-2", "10.9.0.8")]
    info = _info(session, nodes[0].ref)
    methods = _methods(session)
    # both sources are watched: the events (one collector for the group's folder), and
    # customizationInfo where the server has it (older servers report none)
    assert methods.count("CreateCollectorForEvents") == 1
    assert methods.count("DestroyCollector") == 1
    assert "ReadNextEvents" in methods
    if version == OLD:
        assert info is None
    else:
        assert str(info.customizationStatus) == "TOOLSDEPLOYPKG_SUCCEEDED"


def test_failure_keeps_the_node_reports_and_journals_it(
    session: Session, version: str, image: str
) -> None:
    journal = Journal()
    before = _names(session)
    with pytest.raises(OperationFailed) as caught:
        create_nodes(
            session, image, 2, "bad", customization=BadSecond(), journal=journal, timeout=30
        )
    cause = caught.value.cause
    assert isinstance(cause, CustomizationFailed)
    assert list(cause.failed) == ["bad-2"]
    if version == OLD:  # told by the event vCenter posts
        assert cause.failed["bad-2"].startswith("CustomizationLinuxIdentityFailed: ")
        assert "setting up Linux identity" in cause.failed["bad-2"]
    else:  # told by customizationInfo.errorMsg
        assert cause.failed["bad-2"] == "invalid host name 'not_a_host_name!'"
    assert any("bad-2" in k for k in caught.value.kept)
    assert _names(session) == sorted([*before, "bad-2"])  # bad-1 undone, bad-2 kept
    (kept,) = list_nodes(session, "bad")
    assert kept.name == "bad-2" and kept.power_state == "poweredOn"
    entries = journal.entries()
    keep = [e for e in entries if e.method == "keep"]
    assert [(e.target, e.outcome) for e in keep] == [(str(kept.ref), "kept")]
    assert keep[0].detail == f"guest customization failed: {cause.failed['bad-2']}"
    undo = [e.target for e in entries if e.method == "undo"]
    assert any(t.startswith("destroy node bad-1") for t in undo)
    assert not any("bad-2" in t for t in undo)


@pytest.mark.parametrize("version", [OLD], indirect=True)
def test_event_collectors_lost_with_the_session_are_made_again(
    sim: Simulator, session: Session, image: str
) -> None:
    # the session expires just before the first read of the events: after the re-login
    # the collector is gone; the wait makes a new one and still sees the failure
    rec = session._transport
    assert isinstance(rec, Recording)
    rec.before["ReadNextEvents"] = sim.control.expire_sessions
    with pytest.raises(OperationFailed) as caught:
        create_nodes(session, image, 2, "relog", customization=BadSecond(), timeout=30)
    assert isinstance(caught.value.cause, CustomizationFailed)
    assert list(caught.value.cause.failed) == ["relog-2"]
    assert rec.methods.count("CreateCollectorForEvents") == 2
    assert rec.methods.count("Login") == 1  # the re-login (the first came before recording)


def _customize_and_boot(session: Session, refs: list[spherekit.MoRef], bad: set[int]) -> None:
    for i, ref in enumerate(refs):
        spherekit.wait_for_task(session, session.call(ref, "PowerOffVM_Task"))
        spec = Customization().spec(i, f"vm{i}", len(refs))
        if i in bad:
            assert isinstance(spec.identity, vim.CustomizationLinuxPrep)
            spec.identity.hostName = vim.CustomizationFixedName(name="-bad-")
        spherekit.wait_for_task(session, session.call(ref, "CustomizeVM_Task", spec=spec))
    for ref in refs:
        spherekit.wait_for_task(session, session.call(ref, "PowerOnVM_Task"))


@pytest.mark.parametrize("version", [OLD], indirect=True)
def test_vms_in_several_folders_get_one_collector_per_folder(session: Session) -> None:
    root = find.by_path(session, "/DC0/vm")
    other = session.call(root, "CreateFolder", name="other")
    refs = [find.by_path(session, f"/DC0/vm/{n}") for n in ("DC0_H0_VM0", "DC0_C0_RP0_VM0")]
    spherekit.wait_for_task(session, session.call(other, "MoveIntoFolder_Task", list=[refs[1]]))
    _customize_and_boot(session, refs, bad={1})
    _methods(session).clear()
    got = wait_guests(session, refs, timeout=30, customization=True)
    assert got[refs[0]][1] is None and got[refs[0]][0]
    assert (got[refs[1]][1] or "").startswith("CustomizationLinuxIdentityFailed")
    assert _methods(session).count("CreateCollectorForEvents") == 2


@pytest.mark.spherekit_sim(vms=MAX_COLLECTORS)
@pytest.mark.parametrize("version", [OLD], indirect=True)
def test_vms_spread_over_many_folders_share_one_collector(session: Session) -> None:
    root = find.by_path(session, "/DC0/vm")
    refs = [r for r, _ in spherekit.fetch(session, "VirtualMachine", ["name"])]
    refs = refs[: MAX_COLLECTORS + 1]
    assert len(refs) == MAX_COLLECTORS + 1
    for i, ref in enumerate(refs):  # more folders than collectors: one over the root, "all"
        folder = session.call(root, "CreateFolder", name=f"f{i}")
        spherekit.wait_for_task(session, session.call(folder, "MoveIntoFolder_Task", list=[ref]))
    _customize_and_boot(session, refs, bad={0})
    _methods(session).clear()
    got = wait_guests(session, refs, timeout=30, customization=True)
    assert [r for r in refs if got[r][1] is not None] == [refs[0]]
    assert _methods(session).count("CreateCollectorForEvents") == 1
