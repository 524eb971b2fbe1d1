"""The durable store: ``Simulator(state=...)`` keeps the whole simulated vCenter in SQLite.

A "crash" is simulated in-process by copying the database files while the simulator still
runs (what a ``kill -9`` would leave on disk); tests/sim/test_serve_cli.py kills a real one.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import spherekit
from spherekit import faults
from spherekit.schema.base import DataObject, MoRef
from spherekit.sim import Simulator, VpxModel
from spherekit.sim.store import StateLocked, decode_props, encode_props

pytestmark = pytest.mark.timeout(60)


def connect(sim: Simulator) -> spherekit.Session:
    return spherekit.connect(sim.inprocess_url, transport=sim.transport())


def snapshot(sim: Simulator) -> dict[MoRef, dict[str, Any]]:
    """Every inventory object's properties (session-owned objects left out)."""
    reg = sim.backend.registry
    with reg.lock:
        out = {}
        for ref in reg.of_type("ManagedObject"):
            obj = reg.get(ref)
            if obj is not None and obj.owner is None:
                out[ref] = dict(obj.props)
        return out


def crash_copy(state: Path, into: Path) -> Path:
    """The files a kill -9 would leave right now: the database and its write-ahead log."""
    into.mkdir()
    for suffix in ("", "-wal"):
        src = Path(f"{state}{suffix}")
        if src.exists():
            shutil.copy(src, into / f"{state.name}{suffix}")
    files = Path(f"{state}.files")
    if files.exists():
        shutil.copytree(files, into / f"{state.name}.files")
    return into / state.name


def same_types(a: Any, b: Any, path: str) -> None:
    """Equal, and of the same data type all the way down (a VirtualDisk stays one)."""
    assert a == b, path
    if isinstance(a, DataObject):
        assert type(a) is type(b), path
        for attr, *_ in a._fields:
            same_types(getattr(a, attr), getattr(b, attr), f"{path}.{attr}")
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_types(x, y, f"{path}[{i}]")


def test_every_property_survives_encoding_with_its_type() -> None:
    sim = Simulator(VpxModel(vms=2, folders=1, datacenters=2), seed=2)
    try:
        for ref, props in snapshot(sim).items():
            back = decode_props(ref.type, encode_props(ref.type, props))
            assert back.keys() == props.keys()
            for name, value in props.items():
                same_types(value, back[name], f"{ref}.{name}")
    finally:
        sim.stop()


def test_restart_keeps_inventory_morefs_uuids_and_counters(tmp_path: Path) -> None:
    state = tmp_path / "vc.db"
    sim = Simulator(seed=5, state=state)
    s = connect(sim)
    vm = spherekit.fetch(s, "VirtualMachine", ["name"])[0][0]
    spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="kept"), timeout=10)
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
    s.close()
    before = snapshot(sim)
    events = len(sim.backend.events.events)
    sim.stop()

    again = Simulator(VpxModel(vms=9), seed=99, state=state)  # flags do not apply to a state
    try:
        assert snapshot(again).keys() == before.keys()
        for ref, props in snapshot(again).items():
            if ref.type != "Datastore":  # its space account is recounted from the files
                assert props == before[ref], ref
        assert len(again.backend.events.events) == events
        s = connect(again)
        ((ref, values),) = [
            r
            for r in spherekit.fetch(s, "VirtualMachine", ["name", "runtime.powerState"])
            if r[0] == vm
        ]
        assert values == {"name": "kept", "runtime.powerState": "poweredOff"}
        # new objects continue the numbering: no moref is handed out twice
        task = s.call(vm, "PowerOnVM_Task")
        assert task not in before
        spherekit.wait_for_task(s, task, timeout=10)
        s.close()
    finally:
        again.stop()


def test_seeded_uuids_continue_across_a_restart(tmp_path: Path) -> None:
    plain = Simulator(seed=11)
    after_build = plain.backend.registry.uuid()
    plain.control.seed(12)
    expected = [plain.backend.registry.uuid() for _ in range(3)]
    plain.stop()
    sim = Simulator(seed=11, state=tmp_path / "a.db")
    assert sim.backend.registry.uuid() == after_build
    sim.control.seed(12)  # a reseed is saved at once
    sim.stop()
    again = Simulator(state=tmp_path / "a.db")
    try:
        assert [again.backend.registry.uuid() for _ in range(3)] == expected
    finally:
        again.stop()


def test_a_response_is_durable_before_it_is_sent(tmp_path: Path) -> None:
    state = tmp_path / "live.db"
    sim = Simulator(seed=1, state=state, task_delay=30.0)
    try:
        s = connect(sim)
        vm, busy = [r for r, _v in spherekit.fetch(s, "VirtualMachine", ["name"])[:2]]
        # a 30 s task, still running (on another VM: it holds its own, see TaskInProgress)
        running = s.call(busy, "PowerOffVM_Task")
        sim.backend.storage.write("LocalDS_0", "kept/data.bin", b"\x00bytes\xff")
        sim.control.set_task_delays({"Rename_Task": 0.0})
        spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="durable"), timeout=10)
        copy = crash_copy(state, tmp_path / "crash")
        s.close()
    finally:
        sim.stop()
    after = Simulator(state=copy)
    try:
        s = connect(after)
        names = {r: v["name"] for r, v in spherekit.fetch(s, "VirtualMachine", ["name"])}
        assert names[vm] == "durable"
        assert after.backend.storage.read("LocalDS_0", "kept/data.bin") == b"\x00bytes\xff"
        # the task the "crashed" process was running ends in error, as vCenter's do
        with pytest.raises(faults.SystemError):
            spherekit.wait_for_task(s, running, timeout=10)
        s.close()
    finally:
        after.stop()


def test_session_objects_are_not_kept(tmp_path: Path) -> None:
    state = tmp_path / "v.db"
    sim = Simulator(seed=1, state=state)
    s = connect(sim)
    spherekit.fetch(s, "VirtualMachine", ["name"])  # creates a container view
    manager = s.content.viewManager
    assert manager is not None
    view = s.call(manager, "CreateListView", obj=[])  # a session-owned object
    s.close()
    sim.stop()
    with sqlite3.connect(state) as db:
        owners = db.execute("SELECT count(*) FROM objects WHERE owner IS NOT NULL").fetchone()
        views = db.execute("SELECT count(*) FROM objects WHERE value = ?", (view.value,)).fetchone()
    assert owners == (0,) and views == (0,)


def test_a_state_file_in_use_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "one.db"
    sim = Simulator(state=state)
    try:
        with pytest.raises(StateLocked, match="in use by another running simulator"):
            Simulator(state=state)
    finally:
        sim.stop()
    Simulator(state=state).stop()  # free again once the first one stopped


def test_reset_with_a_state_file_saves_the_initial_inventory(tmp_path: Path) -> None:
    state = tmp_path / "r.db"
    sim = Simulator(seed=3, state=state)
    initial = snapshot(sim)
    s = connect(sim)
    vm = spherekit.fetch(s, "VirtualMachine", ["name"])[0][0]
    spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="gone"), timeout=10)
    sim.backend.storage.write("LocalDS_0", "x.txt", b"x")
    sim.control.reset()
    assert not sim.backend.storage.exists("LocalDS_0", "x.txt")
    sim.stop()
    again = Simulator(state=state)
    try:
        assert snapshot(again).keys() == initial.keys()
        assert again.backend.registry.prop(vm, "name") == initial[vm]["name"]
    finally:
        again.stop()


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database, " * 100)
    with pytest.raises(spherekit.SpherekitError, match=r"cannot use .* as a state file"):
        Simulator(state=bad)
