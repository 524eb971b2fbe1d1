"""compute.vms: one VM created or cloned, checked before the first write, undone on failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.endpoint import NeedsVCenter
from spherekit.compute.ops import default_progress
from spherekit.compute.placement import PlacementError, PlacementSpec
from spherekit.compute.vms import NameTaken, clone_vm, create_vm
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator


def _vms(session: Session) -> dict[str, MoRef]:
    return {str(v["name"]): r for r, v in spherekit.fetch(session, "VirtualMachine", ["name"])}


def test_create_and_clone(session: Session, journal: Journal) -> None:
    made = create_vm(session, "one", journal, cpus=2, memory_mb=512, disk_gb=1.5,
                     network="VM Network", power_on=True)  # fmt: skip
    assert made.vm == _vms(session)["one"] and made.power_state == "poweredOn"
    assert made.placement.names["network"] == "VM Network"
    copy = clone_vm(session, made.vm, "two", journal,
                    placement=PlacementSpec(host="DC0_H0"))  # fmt: skip
    assert copy.vm == _vms(session)["two"] and copy.source == made.vm
    assert copy.placement.names["host"] == "DC0_H0" and "host" not in copy.placement.chosen
    host = spherekit.fetch(session, "VirtualMachine", ["runtime.host"], root=None)
    assert dict(host)[copy.vm]["runtime.host"] == copy.placement.host
    assert [e.method for e in journal.entries() if e.outcome == "started"] == [
        "CreateVM_Task", "PowerOnVM_Task", "CloneVM_Task"]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"cpus": 0}, UsageError, "cpus must be more than 0"),
        ({"memory_mb": 1022}, UsageError, "multiple of 4"),
        ({"disk_gb": 0}, UsageError, "disk_gb must be more than 0"),
        ({"disk_gb": True}, UsageError, "must be a number"),
        ({"guest_id": "ubuntu"}, UsageError, "unknown guest OS id"),
        ({"network": "nope"}, PlacementError, "unknown network 'nope'"),
        ({"placement": PlacementSpec(pool="nope")}, PlacementError, "unknown resource pool"),
    ],
)
def test_create_refuses_before_writing(
    session: Session, journal: Journal, kwargs: dict[str, Any], error: type[Exception],
    words: str,
) -> None:  # fmt: skip
    before = _vms(session)
    with pytest.raises(error, match=words):
        create_vm(session, "x", journal, **kwargs)
    with pytest.raises(NameTaken, match="DC0_H0_VM0"):
        create_vm(session, "DC0_H0_VM0", journal)
    with pytest.raises(UsageError, match="not empty"):
        create_vm(session, " ", journal)
    assert _vms(session) == before and journal.entries() == []


def test_a_failed_power_on_destroys_the_clone(
    session: Session, sim: Simulator, journal: Journal
) -> None:
    before = _vms(session)
    sim.control.add_fault({"method": "PowerOnVM_Task", "stage": "task",
                           "fault": "InsufficientResourcesFault", "count": 1})  # fmt: skip
    src = before["DC0_H0_VM0"]
    with pytest.raises(OperationFailed) as caught:
        clone_vm(session, src, "doomed", journal, power_on=True)
    assert isinstance(caught.value.cause, faults.InsufficientResourcesFault)
    assert _vms(session) == before
    undo = [e for e in journal.entries() if e.method == "undo"]
    assert [e.outcome for e in undo] == ["undo ok"] and "doomed" in undo[0].target


def test_linked_clone_needs_a_snapshot_and_plans_write_nothing(
    session: Session, journal: Journal
) -> None:
    src = _vms(session)["DC0_H0_VM0"]
    with pytest.raises(UsageError, match="no snapshot"):
        clone_vm(session, src, "l", journal, linked=True)
    plan = clone_vm(session, src, "p", journal, power_on=True, plan=True)
    assert plan.vm is None and [c.method for c in plan.planned] == ["CloneVM_Task",
                                                                    "PowerOnVM_Task"]  # fmt: skip
    assert "p" not in _vms(session)
    assert {e.outcome for e in journal.entries()} == {"planned"}


def test_operations_report_progress_to_the_default_callback(
    session: Session, sim: Simulator, journal: Journal
) -> None:
    seen: list[tuple[str, int | None, str | None]] = []
    sim.control.set_task_delays({"CloneVM_Task": 0.5})
    token = default_progress.set(lambda t, pct, st: seen.append((t.value, pct, st)))
    try:
        clone_vm(session, _vms(session)["DC0_H0_VM0"], "c", journal)
    finally:
        default_progress.reset(token)
    assert seen and seen[-1][2] == "success"
    assert len({t for t, _, _ in seen}) == 1
    assert any(st == "running" and pct is not None and 0 < pct < 100 for _, pct, st in seen)


@pytest.fixture
def esx() -> Iterator[Session]:
    sim = Simulator(esx=True, seed=1)
    s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    try:
        yield s
    finally:
        s.close()
        sim.stop()


def test_clone_needs_vcenter(esx: Session) -> None:
    vm = find.by_path(esx, "/ha-datacenter/vm/ha-host_VM0")
    with pytest.raises(NeedsVCenter, match="cloning a VM needs vCenter"):
        clone_vm(esx, vm, "c", Journal())
