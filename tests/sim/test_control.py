"""The control plane, from Python (``sim.control``) and over HTTP (``/_sim``), and fault rules."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import spherekit
from spherekit import faults
from spherekit.errors import TransportError
from spherekit.schema.base import MoRef
from spherekit.sim import Simulator
from spherekit.sim.faultrules import FaultRule
from spherekit.wire.transport import Request, Response

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(seed=1)
    yield simulator
    simulator.stop()


def connect(sim: Simulator, user: str = "user", password: str = "pass") -> spherekit.Session:
    return spherekit.connect(
        sim.inprocess_url, user=user, password=password, transport=sim.transport()
    )


def control(
    sim: Simulator, method: str, path: str, body: Any = None, auth: str = "user:pass"
) -> tuple[int, Any]:
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
    data = json.dumps(body).encode() if body is not None else b""
    answer: Response = sim.transport().send(Request(method, f"/_sim{path}", headers, data))
    return answer.status, json.loads(answer.body)


def soap(method: str) -> bytes:
    """A request for ``ServiceInstance.method()`` (no parameters)."""
    return (
        '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv='
        '"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        f'<{method} xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this>'
        f"</{method}></soapenv:Body></soapenv:Envelope>"
    ).encode()


def first_vm(s: spherekit.Session) -> MoRef:
    return sorted(r for r, _v in spherekit.fetch(s, "VirtualMachine", ["name"]))[0]


def test_the_control_plane_needs_the_admin_credentials(sim: Simulator) -> None:
    for auth in ("user:wrong", "other:pass", "user"):
        status, answer = control(sim, "GET", "", auth=auth)
        assert status == 401 and "basic auth" in answer["error"]
    answer_ = sim.transport().send(Request("GET", "/_sim", {}, b""))
    assert answer_.status == 401 and ("www-authenticate", answer_.headers.get("www-authenticate"))
    status, answer = control(sim, "GET", "")
    assert status == 200 and answer["seed"] == 1 and answer["faults"] == []


def test_reset_restores_the_initial_inventory_and_ends_sessions(sim: Simulator) -> None:
    s = connect(sim)
    vm = first_vm(s)
    name = sim.backend.registry.prop(vm, "name")
    spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="changed"), timeout=10)
    sim.control.add_fault({"method": "PowerOnVM_Task", "fault": "InvalidState"})
    sim.control.set_task_delays({"CloneVM_Task": 2.0})
    status, answer = control(sim, "POST", "/reset", {})
    assert status == 200 and answer["faults"] == [] and answer["task_delays"] == {}
    assert answer["sessions"] == 0
    # the client logs in again by itself (its session ended) and sees the initial inventory
    names = {r: v["name"] for r, v in spherekit.fetch(s, "VirtualMachine", ["name"])}
    assert names[vm] == name  # same moref, original name
    s.close()


def test_reset_with_a_seed_and_seed_alone(sim: Simulator) -> None:
    other = Simulator(seed=42)
    try:
        expected = sorted(
            other.backend.registry.prop(r, "config").uuid
            for r in other.backend.registry.of_type("VirtualMachine")
        )
    finally:
        other.stop()
    assert control(sim, "POST", "/reset", {"seed": 42})[0] == 200
    reg = sim.backend.registry
    assert sorted(reg.prop(r, "config").uuid for r in reg.of_type("VirtualMachine")) == expected
    status, _ = control(sim, "POST", "/seed", {"seed": 7})
    assert status == 200
    first = reg.uuid()
    sim.control.seed(7)
    assert reg.uuid() == first
    assert control(sim, "POST", "/seed", {"seed": "x"})[0] == 400


def test_per_method_task_delays(sim: Simulator) -> None:
    s = connect(sim)
    vm = first_vm(s)
    status, delays = control(sim, "POST", "/task-delays", {"PowerOffVM_Task": 0.4})
    assert status == 200 and delays == {"PowerOffVM_Task": 0.4}
    start = time.monotonic()
    task = s.call(vm, "PowerOffVM_Task")
    spherekit.wait_for_task(s, task, timeout=10)
    assert time.monotonic() - start >= 0.4
    # other methods keep the default (0): a rename is done at once
    spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="quick"), timeout=10)
    assert control(sim, "POST", "/task-delays", {"PowerOffVM_Task": None})[1] == {}
    assert control(sim, "POST", "/task-delays", {"Login": 1})[0] == 400
    assert control(sim, "POST", "/task-delays", {"PowerOnVM_Task": -1})[0] == 400
    s.close()


def test_expire_sessions_now() -> None:
    sim = Simulator(users={"alice": ("secret", "ReadOnly")})
    admin, alice = connect(sim), connect(sim, "alice", "secret")

    def users() -> list[str]:
        return sorted(x.user for x in sim.backend.sessions.all())

    assert users() == ["alice", "user"]
    status, answer = control(sim, "POST", "/sessions/expire", {"user": "alice"})
    assert (status, answer) == (200, {"expired": 1})
    assert users() == ["user"]
    # alice's client notices (NotAuthenticated) and logs in again, as after idle expiry
    assert spherekit.fetch(alice, "Datacenter", ["name"])
    assert users() == ["alice", "user"]
    assert sim.control.expire_sessions() == 2
    assert users() == []
    admin.close()
    alice.close()
    sim.stop()


def test_a_fault_rule_fails_the_call(sim: Simulator) -> None:
    s = connect(sim)
    vm = first_vm(s)
    status, rule = control(
        sim, "POST", "/faults", {"method": "PowerOffVM_Task", "fault": "InvalidState", "count": 1}
    )
    assert status == 200 and rule["id"] == 1 and rule["hits"] == 0
    with pytest.raises(faults.InvalidState, match="injected"):
        s.call(vm, "PowerOffVM_Task")
    # the count is used up: the next call goes through
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
    assert control(sim, "GET", "/faults")[1] == []
    s.close()


def test_a_fault_rule_fails_the_task_with_the_fault_fields(sim: Simulator) -> None:
    s = connect(sim)
    vm = first_vm(s)
    sim.control.add_fault(
        {
            "method": "PowerOffVM_Task",
            "stage": "task",
            "object": vm.value,
            "fault": "NoPermission",
            "fields": {"privilegeId": "VirtualMachine.Interact.PowerOff"},
        }
    )
    task = s.call(vm, "PowerOffVM_Task")  # the call itself succeeds
    with pytest.raises(faults.NoPermission) as caught:
        spherekit.wait_for_task(s, task, timeout=10)
    assert caught.value.privilegeId == "VirtualMachine.Interact.PowerOff"
    assert caught.value.object == vm
    assert sim.backend.registry.prop(vm, "runtime").powerState == "poweredOn"  # not done
    # other objects are not matched
    other = sorted(r for r, _v in spherekit.fetch(s, "VirtualMachine", ["name"]))[1]
    spherekit.wait_for_task(s, s.call(other, "PowerOffVM_Task"), timeout=10)
    s.close()


def test_delay_drop_and_503(sim: Simulator) -> None:
    s = connect(sim)
    sim.control.add_fault({"method": "CurrentTime", "delay": 0.3, "count": 1})
    start = time.monotonic()
    s.call(MoRef("ServiceInstance", "ServiceInstance"), "CurrentTime")
    assert time.monotonic() - start >= 0.3
    # a read is retried after a lost connection (house rule 5): one drop goes unnoticed
    once = sim.control.add_fault({"method": "CurrentTime", "drop": True, "count": 1})
    s.call(MoRef("ServiceInstance", "ServiceInstance"), "CurrentTime")
    assert once.hits == 1 and sim.control.faults.list() == []
    sim.control.add_fault({"method": "CurrentTime", "drop": True, "count": 1})
    with pytest.raises(TransportError, match="closed the connection"):
        sim.transport().send(Request("POST", "/sdk", {}, soap("CurrentTime")))
    sim.control.add_fault({"method": "RetrieveServiceContent", "status": 503, "count": 1})
    body = soap("RetrieveServiceContent")
    answer = sim.transport().send(Request("POST", "/sdk", {}, body))
    assert answer.status == 503
    assert sim.transport().send(Request("POST", "/sdk", {}, body)).status == 200
    s.close()


def test_probability_is_reproducible_with_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        sim = Simulator(seed=seed)
        try:
            s = connect(sim)
            sim.control.add_fault(
                {"method": "CurrentTime", "fault": "InvalidState", "probability": 0.5}
            )
            out = []
            for _ in range(24):
                try:
                    s.call(MoRef("ServiceInstance", "ServiceInstance"), "CurrentTime")
                    out.append(False)
                except faults.InvalidState:
                    out.append(True)
            s.close()
            return out
        finally:
            sim.stop()

    first = pattern(3)
    assert first == pattern(3)
    assert 0 < sum(first) < 24


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ({"fault": "InvalidState"}, "method"),
        ({"method": "NoSuchMethod", "fault": "InvalidState"}, "not a vim25 method"),
        ({"method": "PowerOnVM_Task"}, "exactly one of"),
        ({"method": "PowerOnVM_Task", "fault": "InvalidState", "delay": 1}, "exactly one of"),
        ({"method": "PowerOnVM_Task", "fault": "NotAFault"}, "not a vSphere fault"),
        ({"method": "PowerOnVM_Task", "fault": "InvalidState", "fields": {"x": 1}}, "no field"),
        ({"method": "CurrentTime", "stage": "task", "delay": 1}, "needs a \\*_Task"),
        ({"method": "PowerOnVM_Task", "stage": "task", "drop": True}, "acts on calls"),
        ({"method": "PowerOnVM_Task", "probability": 2, "drop": True}, "probability"),
        ({"method": "PowerOnVM_Task", "status": 200}, "HTTP error status"),
        ({"method": "PowerOnVM_Task", "drop": True, "colour": "red"}, "unknown"),
    ],
)
def test_bad_rules_are_refused(sim: Simulator, rule: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        FaultRule.from_json(rule)
    status, answer = control(sim, "POST", "/faults", rule)
    assert status == 400 and answer["error"]


def test_rules_are_listed_and_removed(sim: Simulator) -> None:
    a = sim.control.add_fault({"method": "*", "delay": 0.0001})
    status, rules = control(
        sim,
        "POST",
        "/faults",
        [
            {
                "method": "PowerOnVM_Task",
                "fault": "TaskInProgress",
                "fields": {"task": "Task:task-1"},
                "message": "busy",
            },
            {"method": "PowerOffVM_Task", "status": 503},
        ],
    )
    assert status == 200 and [r["id"] for r in rules] == [2, 3]
    assert [r["id"] for r in control(sim, "GET", "/faults")[1]] == [a.id, 2, 3]
    assert control(sim, "DELETE", "/faults/2")[0] == 200
    assert control(sim, "DELETE", "/faults/2")[0] == 404
    assert [r["id"] for r in control(sim, "GET", "/faults")[1]] == [1, 3]
    assert control(sim, "DELETE", "/faults")[0] == 200
    assert sim.control.faults.list() == []
    assert control(sim, "GET", "/nothing")[0] == 404
    assert control(sim, "GET", "/reset")[0] == 405


def test_a_rule_missing_a_required_reference_of_another_type_is_refused(sim: Simulator) -> None:
    # TaskInProgress.task must name a Task: the call's target (a VM) cannot stand in for it,
    # so the rule is refused when it is added instead of failing when it fires
    status, body = control(
        sim, "POST", "/faults", {"method": "PowerOnVM_Task", "fault": "TaskInProgress"}
    )
    assert status == 400
    assert "TaskInProgress.task" in body["error"] and "fields" in body["error"]
