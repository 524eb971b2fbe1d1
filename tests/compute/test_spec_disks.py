"""VM documents and disks: removing disks the document does not list (only when asked),
moving a disk to the datastore the document names, against a simulator with two
datastores."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed, spec
from spherekit.compute.spec_doc import SpecError
from spherekit.session import Session
from spherekit.sim import Simulator, VpxModel
from spherekit.sim.storage import parse_ds_path

NAME = "disks-1"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(VpxModel(datastores=2), seed=1)
    try:
        if os.environ.get("SPHEREKIT_SIM_MODE") == "served":
            simulator.start()
        yield simulator
    finally:
        simulator.stop()


def _vm(session: Session) -> spherekit.MoRef:
    return find.by_path(session, f"/DC0/vm/{NAME}")


def _dump(session: Session) -> dict[str, Any]:
    return spec.dump(session, _vm(session))


@pytest.fixture
def doc(session: Session) -> dict[str, Any]:
    """A powered-off VM with two disks on LocalDS_0 (and its document)."""
    d = spec.dump(session, find.by_path(session, "/DC0/vm/DC0_H0_VM0"))
    d["name"] = NAME
    d["powerState"] = "poweredOff"
    d["disks"].append({"sizeGB": 2, "datastore": "LocalDS_0"})
    spec.apply(session, d, Journal())
    return _dump(session)


def _files(session: Session) -> dict[str, str]:
    """Disk label -> its file, as ``[datastore] path``."""
    rows = spherekit.fetch(session, "VirtualMachine", ["config.hardware.device"])
    devices = next(v for r, v in rows if r == _vm(session))["config.hardware.device"]
    out = {}
    for d in devices:
        if isinstance(d, vim.VirtualDisk):
            assert isinstance(d.backing, vim.VirtualDeviceFileBackingInfo) and d.deviceInfo
            out[str(d.deviceInfo.label)] = str(d.backing.fileName)
    return out


def _stored(sim: Simulator, path: str) -> bool:
    return bool(sim.backend.storage.exists(*parse_ds_path(path)))


def _log(journal: Journal) -> list[tuple[str, str]]:
    return [(e.method, e.outcome) for e in journal.entries()]


# -- removing --------------------------------------------------------------------------


def test_a_disk_missing_from_the_document_is_refused_without_prune(
    session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    doc["disks"].pop()
    doc["hardware"]["cpus"] = 2
    for attempt in (spec.plan, lambda s, d: spec.apply(s, d, journal)):
        with pytest.raises(SpecError) as caught:
            attempt(session, doc)
        message = str(caught.value)
        assert "does not list: 'Hard disk 2' (2 GB on LocalDS_0)" in message
        assert "destroys its data" in message and "pruneDisks: true" in message
    assert journal.entries() == []
    after = _dump(session)
    assert [d["label"] for d in after["disks"]] == ["Hard disk 1", "Hard disk 2"]
    assert after["hardware"]["cpus"] == 1  # nothing else was done either


@pytest.mark.parametrize("how", ["argument", "document"])
def test_prune_removes_the_disk_and_its_files(
    sim: Simulator, session: Session, journal: Journal, doc: dict[str, Any], how: str
) -> None:
    path = _files(session)["Hard disk 2"]
    assert _stored(sim, path)
    doc["disks"].pop()
    prune = how == "argument"
    if not prune:
        doc["pruneDisks"] = True
    planned = spec.plan(session, doc, prune=prune)
    assert [str(c) for c in planned.changes] == ["disks[Hard disk 2]: '2 GB on LocalDS_0' → (none)"]
    assert [c.method for c in planned.calls] == ["ReconfigVM_Task"]
    (change,) = planned.calls[0].args["spec"]["deviceChange"]  # the journal's summary
    assert (change["operation"], change["fileOperation"]) == ("remove", "destroy")
    assert change["device"]["deviceInfo"]["label"] == "Hard disk 2"
    assert "Hard disk 2" in _files(session)  # a plan writes nothing
    result = spec.apply(session, doc, journal, prune=prune)
    assert result.action == "reconcile"
    assert _log(journal) == [("ReconfigVM_Task", "started"), ("task", "ok")]
    assert list(_files(session)) == ["Hard disk 1"]
    assert not _stored(sim, path)
    assert spec.plan(session, doc, prune=prune).calls == []
    assert spec.plan(session, _dump(session)).calls == []


def test_prune_disks_is_true_or_false(session: Session, doc: dict[str, Any]) -> None:
    doc["pruneDisks"] = "yes"
    with pytest.raises(SpecError, match="pruneDisks is true or false, not 'yes'"):
        spec.plan(session, doc)


def test_an_ide_disk_is_not_removed_from_a_running_vm(
    session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    doc["disks"].append({"sizeGB": 1, "controller": "ide:1"})
    doc["powerState"] = "poweredOn"
    spec.apply(session, doc, journal)
    journal = Journal()
    doc["disks"].pop()
    doc.pop("powerState")
    with pytest.raises(SpecError, match="from an IDE controller needs the VM powered off"):
        spec.apply(session, doc, journal, prune=True)
    assert journal.entries() == []
    doc["powerState"] = "poweredOff"
    planned = spec.plan(session, doc, prune=True)
    assert [c.method for c in planned.calls] == ["PowerOffVM_Task", "ReconfigVM_Task"]


# -- moving ----------------------------------------------------------------------------


def test_a_disk_moves_to_the_datastore_the_document_names(
    sim: Simulator, session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    before = _files(session)
    doc["disks"][1]["datastore"] = "LocalDS_1"
    planned = spec.plan(session, doc)
    assert [str(c) for c in planned.changes] == [
        "disks[Hard disk 2].datastore: 'LocalDS_0' → 'LocalDS_1'"
    ]
    assert [c.method for c in planned.calls] == ["RelocateVM_Task"]
    relocate = planned.calls[0].args["spec"]  # the journal's summary
    names = {str(r): v["name"] for r, v in spherekit.fetch(session, "Datastore", ["name"])}
    assert names[relocate["datastore"]] == "LocalDS_0"  # the home stays
    assert [names[x["datastore"]] for x in relocate["disk"]] == ["LocalDS_0", "LocalDS_1"]
    assert _files(session) == before
    spec.apply(session, doc, journal)
    assert _log(journal) == [("RelocateVM_Task", "started"), ("task", "ok")]
    after = _files(session)
    assert after["Hard disk 1"] == before["Hard disk 1"]
    assert after["Hard disk 2"].startswith("[LocalDS_1] ")
    assert _stored(sim, after["Hard disk 2"]) and not _stored(sim, before["Hard disk 2"])
    dumped = _dump(session)
    assert [d["datastore"] for d in dumped["disks"]] == ["LocalDS_0", "LocalDS_1"]
    assert dumped["placement"]["datastore"] == "LocalDS_0"
    assert spec.plan(session, doc).calls == []


def test_move_grow_and_power_in_one_apply(
    session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    spec.apply(session, {**doc, "powerState": "poweredOn"}, journal)
    changed = copy.deepcopy(doc)  # powerState: poweredOff
    changed["disks"][0] |= {"datastore": "LocalDS_1", "sizeGB": 3}
    changed["disks"][1]["datastore"] = "LocalDS_1"
    planned = spec.plan(session, changed)
    assert [c.method for c in planned.calls] == [
        "PowerOffVM_Task", "ReconfigVM_Task", "RelocateVM_Task",
    ]  # fmt: skip
    spec.apply(session, changed, journal)
    got = _dump(session)
    assert [(d["sizeGB"], d["datastore"]) for d in got["disks"]] == [
        (3, "LocalDS_1"), (2, "LocalDS_1"),
    ]  # fmt: skip
    assert got["powerState"] == "poweredOff"


def test_prune_and_move_in_one_apply(
    sim: Simulator, session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    gone = _files(session)["Hard disk 2"]
    doc["disks"] = [doc["disks"][0] | {"datastore": "LocalDS_1"}]
    planned = spec.plan(session, doc, prune=True)
    assert sorted(str(c) for c in planned.changes) == [
        "disks[Hard disk 1].datastore: 'LocalDS_0' → 'LocalDS_1'",
        "disks[Hard disk 2]: '2 GB on LocalDS_0' → (none)",
    ]
    assert [c.method for c in planned.calls] == ["ReconfigVM_Task", "RelocateVM_Task"]
    (locator,) = planned.calls[1].args["spec"]["disk"]  # none for the removed disk
    assert locator["diskId"] == 2000
    spec.apply(session, doc, journal, prune=True)
    (only,) = _dump(session)["disks"]
    assert (only["label"], only["datastore"]) == ("Hard disk 1", "LocalDS_1")
    assert not _stored(sim, gone)
    assert spec.plan(session, doc).calls == []


def test_a_failed_move_powers_the_vm_on_again(
    sim: Simulator, session: Session, doc: dict[str, Any]
) -> None:
    spec.apply(session, {**doc, "powerState": "poweredOn"}, Journal())
    journal = Journal()
    doc["disks"][1]["datastore"] = "LocalDS_1"
    sim.control.add_fault({"method": "RelocateVM_Task", "stage": "task", "fault": "NoDiskSpace"})
    with pytest.raises(OperationFailed) as caught:
        spec.apply(session, doc, journal)
    assert type(caught.value.cause).__name__ == "NoDiskSpace"
    assert _log(journal) == [
        ("PowerOffVM_Task", "started"), ("task", "ok"),
        ("RelocateVM_Task", "started"), ("task", "error: NoDiskSpace"),
        ("PowerOnVM_Task", "started"), ("task", "ok"), ("undo", "undo ok"),
    ]  # fmt: skip
    got = _dump(session)
    assert got["powerState"] == "poweredOn"
    assert [d["datastore"] for d in got["disks"]] == ["LocalDS_0", "LocalDS_0"]


def test_a_failed_power_on_after_a_move_moves_the_disks_back(
    sim: Simulator, session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    before = _files(session)
    doc["disks"][1]["datastore"] = "LocalDS_1"
    doc["powerState"] = "poweredOn"
    sim.control.add_fault({"method": "PowerOnVM_Task", "stage": "task", "fault": "InvalidState"})
    with pytest.raises(OperationFailed) as caught:
        spec.apply(session, doc, journal)
    assert "undone: move the disks back" in str(caught.value)
    assert [e.method for e in journal.entries()] == [
        "RelocateVM_Task", "task", "PowerOnVM_Task", "task", "RelocateVM_Task", "task", "undo",
    ]  # fmt: skip
    assert _files(session) == before
    assert _stored(sim, before["Hard disk 2"])


def test_an_unknown_disk_datastore_is_refused_before_writing(
    session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    doc["disks"][1]["datastore"] = "NoDS"
    with pytest.raises(SpecError, match=r"disks\[Hard disk 2\].datastore: no datastore named"):
        spec.apply(session, doc, journal)
    assert journal.entries() == []


def test_shrinking_stays_refused_with_a_move(
    session: Session, journal: Journal, doc: dict[str, Any]
) -> None:
    doc["disks"][1] |= {"datastore": "LocalDS_1", "sizeGB": 1}
    with pytest.raises(SpecError, match="disks only grow"):
        spec.apply(session, doc, journal)
    assert journal.entries() == []
