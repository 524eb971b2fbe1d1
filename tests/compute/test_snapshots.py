"""Snapshots: create, tree, revert, remove (with children), remove all; bad names."""

from __future__ import annotations

import pytest

from spherekit import find
from spherekit.compute import Journal, OperationFailed
from spherekit.compute import snapshots as sn
from spherekit.compute.endpoint import read_one
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator


def _vm(session: Session) -> MoRef:
    return find.by_path(session, "/DC0/vm/DC0_H0_VM0")


def _three(session: Session, journal: Journal) -> MoRef:
    """base -> (a -> b); the current snapshot is b."""
    vm = _vm(session)
    sn.create(session, vm, journal, "base", description="first")
    sn.create(session, vm, journal, "a", memory=True)
    sn.create(session, vm, journal, "b")
    return vm


def test_tree_shape_and_current_marker(session: Session, journal: Journal) -> None:
    vm = _three(session, journal)
    t = sn.tree(session, vm)
    assert [s.name for s in t.walk()] == ["base", "a", "b"]
    assert t.current is not None and t.current.name == "b"
    (root,) = t.roots
    assert root.description == "first" and root.id == 1 and root.created is not None
    assert root.children[0].name == "a" and root.children[0].children[0].current
    assert t.lines() == [
        f"base [{root.ref.value}, id 1, poweredOff]",  # no memory: the state is off
        f"  a [{root.children[0].ref.value}, id 2, poweredOn]",
        f"    b [{t.current.ref.value}, id 3, poweredOff] *",
    ]


def test_revert_by_name_and_to_current(session: Session, journal: Journal) -> None:
    vm = _three(session, journal)
    sn.revert(session, vm, journal, "base")
    t = sn.tree(session, vm)
    assert t.current is not None and t.current.name == "base"
    result = sn.revert(session, vm, journal)  # to the current one: base
    assert result.snapshot == t.current.ref
    assert journal.entries()[-2].method == "RevertToCurrentSnapshot_Task"


def test_remove_with_and_without_children(session: Session, journal: Journal) -> None:
    vm = _three(session, journal)
    sn.remove(session, vm, journal, "a")  # b moves up under base
    assert [s.name for s in sn.tree(session, vm).walk()] == ["base", "b"]
    sn.create(session, vm, journal, "c")
    sn.remove(session, vm, journal, "base", children=True)
    assert sn.tree(session, vm).roots == []


def test_remove_all_and_its_no_op(session: Session, journal: Journal) -> None:
    vm = _three(session, journal)
    assert sn.remove_all(session, vm, journal).changed
    assert sn.tree(session, vm).roots == []
    count = len(journal.entries())
    assert not sn.remove_all(session, vm, journal).changed
    assert len(journal.entries()) == count


def test_names_missing_ambiguous_duplicate(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    with pytest.raises(sn.SnapshotNotFound, match="no current snapshot"):
        sn.revert(session, vm, journal)
    sn.create(session, vm, journal, "x")
    with pytest.raises(UsageError, match="already has a snapshot named 'x'"):
        sn.create(session, vm, journal, "x")
    sn.create(session, vm, journal, "x", allow_duplicate=True)
    count = len(journal.entries())
    with pytest.raises(sn.AmbiguousSnapshot, match=r"2 snapshots .* named 'x'"):
        sn.revert(session, vm, journal, "x")
    with pytest.raises(sn.SnapshotNotFound, match=r"no snapshot named 'y'.*'x', 'x'"):
        sn.remove(session, vm, journal, "y")
    with pytest.raises(UsageError, match="non-empty name"):
        sn.create(session, vm, journal, " ")
    assert len(journal.entries()) == count
    first = sn.tree(session, vm).roots[0]
    sn.revert(session, vm, journal, first.ref)  # by MoRef: unambiguous


def test_plan_and_a_failed_task(sim: Simulator, session: Session, journal: Journal) -> None:
    vm = _vm(session)
    result = sn.create(session, vm, journal, "p", plan=True)
    assert [c.method for c in result.planned] == ["CreateSnapshot_Task"]
    assert result.snapshot is not None and result.snapshot.value.startswith("planned-")
    assert sn.tree(session, vm).roots == []
    sim.control.add_fault({"method": "CreateSnapshot_Task", "stage": "task",
                           "fault": "InvalidState", "message": "disk locked"})  # fmt: skip
    with pytest.raises(OperationFailed, match="disk locked"):
        sn.create(session, vm, journal, "q")
    assert sn.tree(session, vm).roots == []
    assert read_one(session, vm, ["rootSnapshot"]).get("rootSnapshot") in (None, [])
    assert [e.outcome for e in journal.entries()] == ["planned", "started", "error: InvalidState"]


def test_quiesce_needs_tools(session: Session, journal: Journal) -> None:
    vm = _vm(session)  # its guest has not booted: no tools
    with pytest.raises(OperationFailed, match="ToolsUnavailable"):
        sn.create(session, vm, journal, "q", quiesce=True)
