"""Operation: journaled writes, undo on failure, and the plan form."""

from __future__ import annotations

import pytest

import spherekit
from spherekit import faults, find, vim
from spherekit.compute import Journal, Operation, OperationFailed
from spherekit.session import Session


def _clone_spec() -> vim.VirtualMachineCloneSpec:
    return vim.VirtualMachineCloneSpec(
        location=vim.VirtualMachineRelocateSpec(), powerOn=False, template=False
    )


def _names(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"]))


def test_plan_lists_the_calls_and_writes_nothing(session: Session, journal: Journal) -> None:
    before = _names(session)
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    folder = find.by_path(session, "/DC0/vm")
    with Operation(session, journal, "plan", plan=True) as op:
        result = op.write(vm, "CloneVM_Task", folder=folder, name="x", spec=_clone_spec())
    assert result is not None and result.type == "VirtualMachine"
    assert result.value.startswith("planned-")
    assert [c.method for c in op.planned] == ["CloneVM_Task"]
    assert op.planned[0].args["name"] == "x"
    assert _names(session) == before
    assert [e.outcome for e in journal.entries()] == ["planned"]


def test_failure_undoes_partial_work_and_the_journal_tells_it(
    session: Session, journal: Journal
) -> None:
    before = _names(session)
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    folder = find.by_path(session, "/DC0/vm")
    with (
        pytest.raises(OperationFailed) as caught,
        Operation(session, journal, "clone then fail") as op,
    ):
        clone = op.write(vm, "CloneVM_Task", folder=folder, name="y", spec=_clone_spec())
        op.on_undo(f"destroy {clone}", lambda: op.write(clone, "Destroy_Task"))
        assert "y" in _names(session)
        raise RuntimeError("a later step failed")
    assert _names(session) == before
    assert "undone: destroy VirtualMachine:" in str(caught.value)
    outcomes = [(e.method, e.outcome) for e in journal.entries()]
    assert outcomes == [
        ("CloneVM_Task", "started"),
        ("task", "ok"),
        ("Destroy_Task", "started"),
        ("task", "ok"),
        ("undo", "undo ok"),
    ]


def test_a_failed_write_is_journaled_with_its_fault(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")  # powered on
    with (
        pytest.raises(OperationFailed) as caught,
        Operation(session, journal, "power on again") as op,
    ):
        op.write(vm, "PowerOnVM_Task")
    assert isinstance(caught.value.cause, faults.InvalidPowerState)
    assert journal.entries()[-1].outcome == "error: InvalidPowerState"


def test_secrets_never_reach_the_journal(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    secret = "#cloud-config\npassword: hunter2"
    spec = vim.VirtualMachineConfigSpec(
        extraConfig=[vim.OptionValue(key="guestinfo.userdata", value=secret)]
    )
    with Operation(session, journal, "reconfigure") as op:
        op.write(vm, "ReconfigVM_Task", spec=spec)
    text = "".join(e.to_json() for e in journal.entries())
    assert "hunter2" not in text and "guestinfo.userdata" in text
