"""Audit: events and tasks of an entity, the server's logs; reads only."""

from __future__ import annotations

import pytest

from spherekit import find
from spherekit.compute import Journal, audit
from spherekit.compute import power as pw
from spherekit.errors import UsageError
from spherekit.session import Session
from spherekit.sim import Simulator


def test_events_of_a_vm(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    pw.power_off(session, vm, journal)
    found = audit.events(session, vm)
    types = [e.type for e in found]
    assert types[-2:] == ["VmStoppingEvent", "VmPoweredOffEvent"]
    last = found[-1]
    assert last.vm == "DC0_H0_VM0" and last.user == "user" and last.time is not None
    assert "DC0_H0_VM0" in last.message and "powered off" in str(last)
    assert [e.key for e in found] == sorted(e.key for e in found)
    only = audit.events(session, vm, types=["VmPoweredOffEvent"], max_count=1)
    assert [e.type for e in only] == ["VmPoweredOffEvent"]
    dc = find.by_path(session, "/DC0")
    assert len(audit.events(session, dc, recursion="all", max_count=1000)) >= len(found)
    assert journal.entries()[-1].method == "task"  # the reads added nothing


def test_tasks_of_a_vm_with_a_failure(sim: Simulator, session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    pw.power_off(session, vm, journal)
    sim.control.add_fault({"method": "PowerOnVM_Task", "stage": "task", "fault": "InvalidState",
                           "message": "injected"})  # fmt: skip
    with pytest.raises(Exception, match="injected"):
        pw.power_on(session, vm, journal)
    found = audit.tasks(session, vm)
    assert [t.description_id for t in found][-2:] == [
        "VirtualMachine.powerOff", "VirtualMachine.powerOn"]  # fmt: skip
    off, on = found[-2:]
    assert off.state == "success" and off.error is None and off.entity == vm
    assert on.state == "error" and on.error is not None and "InvalidState" in on.error
    assert "powerOn on DC0_H0_VM0 error" in str(on)
    assert [t.description_id for t in audit.tasks(session, vm, max_count=1)] == [
        "VirtualMachine.powerOn"]  # fmt: skip
    assert audit.tasks(session, vm, states=["error"])[0].state == "error"


def test_server_logs(session: Session) -> None:
    descs = audit.log_descriptions(session)
    assert descs and descs[0].key == "vpxd:vpxd.log"
    chunk = audit.browse_log(session, start=1, lines=5)
    assert chunk.key == "vpxd:vpxd.log" and 0 < len(chunk.lines) <= 5
    last = audit.tail(session, lines=3)
    assert len(last.lines) == 3  # the log grows with every call, so its end moves on
    assert last.line_start >= chunk.line_start and last.line_end >= last.line_start + 2
    with pytest.raises(UsageError):
        audit.tail(session, lines=0)


def test_bad_arguments(session: Session) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    with pytest.raises(UsageError, match="recursion"):
        audit.events(session, vm, recursion="everything")
    with pytest.raises(UsageError, match="max_count"):
        audit.tasks(session, vm, max_count=0)
