"""Power operations: idempotence, guest shutdown with its fallbacks, reboot, faults."""

from __future__ import annotations

import pytest

from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed
from spherekit.compute import power as pw
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.sim import vm_power as sim_power
from spherekit.task import wait_for_task


def _vm(session: Session, name: str = "DC0_H0_VM0") -> MoRef:
    return find.by_path(session, f"/DC0/vm/{name}")


def _methods(journal: Journal) -> list[tuple[str, str]]:
    return [(e.method, e.outcome) for e in journal.entries()]


def _with_tools(session: Session, journal: Journal) -> MoRef:
    """A running VM whose guest runs VMware Tools (the inventory's VMs report no guest
    until their next boot)."""
    vm = _vm(session)
    pw.power_off(session, vm, journal)
    pw.power_on(session, vm, journal)
    journal._entries.clear()
    return vm


def test_power_on_of_a_running_vm_is_a_no_op(session: Session, journal: Journal) -> None:
    result = pw.power_on(session, _vm(session), journal)
    assert not result.changed and result.methods == []
    assert "nothing to do" in str(result)
    assert journal.entries() == []


def test_power_off_then_on(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    off = pw.power_off(session, vm, journal)
    assert (off.before, off.after, off.changed) == ("poweredOn", "poweredOff", True)
    assert pw.power_state(session, vm) == "poweredOff"
    assert not pw.power_off(session, vm, journal).changed
    on = pw.power_on(session, vm, journal)
    assert on.methods == ["PowerOnVM_Task"] and pw.power_state(session, vm) == "poweredOn"
    assert _methods(journal) == [("PowerOffVM_Task", "started"), ("task", "ok"),
                                 ("PowerOnVM_Task", "started"), ("task", "ok")]  # fmt: skip


def test_plan_lists_the_call_and_changes_nothing(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    result = pw.power_off(session, vm, journal, plan=True)
    assert [c.method for c in result.planned] == ["PowerOffVM_Task"]
    assert pw.power_state(session, vm) == "poweredOn"
    assert [e.outcome for e in journal.entries()] == ["planned"]


def test_suspend_resume_and_refusals(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    assert pw.suspend(session, vm, journal).after == "suspended"
    assert not pw.suspend(session, vm, journal).changed
    with pytest.raises(UsageError, match="suspended; power it on"):
        pw.reboot(session, vm, journal)
    with pytest.raises(UsageError, match=r"cannot reset .* suspended"):
        pw.reset(session, vm, journal)
    assert pw.power_on(session, vm, journal).before == "suspended"
    assert pw.reset(session, vm, journal).methods == ["ResetVM_Task"]


def test_shutdown_guest_with_tools_waits_for_the_guest(session: Session, journal: Journal) -> None:
    vm = _with_tools(session, journal)
    result = pw.shutdown_guest(session, vm, journal, timeout=10)
    assert result.methods == ["ShutdownGuest"] and result.fallback is None
    assert pw.power_state(session, vm) == "poweredOff"
    assert _methods(journal) == [("ShutdownGuest", "ok")]


def test_shutdown_guest_without_tools_powers_off_and_says_so(
    session: Session, journal: Journal
) -> None:
    vm = _vm(session)
    spec = vim.VirtualMachineConfigSpec(
        extraConfig=[vim.OptionValue(key="guestinfo.sim.tools", value="none")]
    )
    pw.power_off(session, vm, journal)
    wait_for_task(session, session.call(vm, "ReconfigVM_Task", spec=spec))
    pw.power_on(session, vm, journal)
    journal._entries.clear()
    with pytest.raises(UsageError, match="VMware Tools are not running"):
        pw.shutdown_guest(session, vm, journal, fallback=False)
    result = pw.shutdown_guest(session, vm, journal)
    assert result.methods == ["PowerOffVM_Task"]
    assert result.fallback is not None and "Tools are not running" in result.fallback
    assert "fallback" in str(result)
    assert pw.power_state(session, vm) == "poweredOff"
    assert _methods(journal) == [("PowerOffVM_Task", "started"), ("task", "ok")]


def test_shutdown_guest_falls_back_after_the_timeout(
    session: Session, journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = _with_tools(session, journal)
    monkeypatch.setattr(sim_power, "GUEST_DELAY", 5.0)  # a guest slow to shut down
    result = pw.shutdown_guest(session, vm, journal, timeout=0.3)
    assert result.methods == ["ShutdownGuest", "PowerOffVM_Task"]
    assert result.fallback == "the guest did not shut down within 0.3 s"
    assert pw.power_state(session, vm) == "poweredOff"
    assert _methods(journal) == [("ShutdownGuest", "ok"), ("PowerOffVM_Task", "started"),
                                 ("task", "ok")]  # fmt: skip


def test_reboot_uses_the_guest_or_resets(session: Session, journal: Journal) -> None:
    vm = _vm(session)  # no tools yet
    result = pw.reboot(session, vm, journal)
    assert result.methods == ["ResetVM_Task"] and result.fallback is not None
    journal._entries.clear()
    result = pw.reboot(session, vm, journal)  # the reset booted the guest: tools run now
    assert result.methods == ["RebootGuest"] and result.fallback is None
    assert _methods(journal) == [("RebootGuest", "ok")]


def test_a_task_fault_is_journaled_and_raised(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    vm = _vm(session)
    sim.control.add_fault(
        {
            "method": "PowerOffVM_Task",
            "stage": "task",
            "fault": "InvalidState",
            "message": "another task is running",
        }
    )
    with pytest.raises(OperationFailed, match="another task is running"):
        pw.power_off(session, vm, journal)
    assert _methods(journal)[-1] == ("task", "error: InvalidState")
    assert pw.power_state(session, vm) == "poweredOn"


def test_bad_arguments(session: Session, journal: Journal) -> None:
    with pytest.raises(UsageError, match="must be a VirtualMachine"):
        pw.power_on(session, find.by_path(session, "/DC0/host/DC0_H0"), journal)
    with pytest.raises(UsageError, match="does not exist"):
        pw.power_on(session, MoRef("VirtualMachine", "vm-9999"), journal)
    with pytest.raises(UsageError, match="negative"):
        pw.shutdown_guest(session, _vm(session), journal, timeout=-1)
