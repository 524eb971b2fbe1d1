"""Audit of issue 3, "Faults as vCenter sends them, with their fields": one test per fault
the issue names, triggered through the spherekit client (in-process or served, as
SPHEREKIT_SIM_MODE says), checking the fault's fields and that it is the typed exception.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    ObjectSpec,
    PropertyFilterSpec,
    PropertySpec,
    RetrieveOptions,
    TaskInfo,
    VirtualMachineCloneSpec,
    VirtualMachineRelocateSpec,
    WaitOptions,
)
from spherekit.wire import codec
from tests.sim.conftest import SimFactory, Target

VM0 = "DC0/vm/DC0_H0_VM0"


def wait(s: spherekit.Session, task: MoRef) -> Any:
    return spherekit.wait_for_task(s, task, timeout=30)


def task_info(s: spherekit.Session, task: MoRef) -> TaskInfo:
    ((_r, row),) = retrieve(s, filter_spec("Task", ["info"], [task]))
    info: TaskInfo = row["info"]
    return info


def test_invalid_power_state(session: spherekit.Session) -> None:
    vm = find.by_path(session, VM0)
    wait(session, session.call(vm, "PowerOffVM_Task"))
    with pytest.raises(faults.InvalidPowerState) as info:
        wait(session, session.call(vm, "PowerOffVM_Task"))
    assert info.value.requestedState == "poweredOff"
    assert info.value.existingState == "poweredOff"
    assert "current state (Powered off)" in str(info.value)


def test_duplicate_name(session: spherekit.Session) -> None:
    vm_folder = find.by_path(session, "DC0/vm")
    first = session.call(vm_folder, "CreateFolder", name="apps")
    with pytest.raises(faults.DuplicateName) as info:
        session.call(vm_folder, "CreateFolder", name="apps")
    assert info.value.name == "apps" and info.value.object == first
    # a VM renamed to its sibling's name
    vm = find.by_path(session, VM0)
    with pytest.raises(faults.DuplicateName) as renamed:
        wait(session, session.call(vm, "Rename_Task", newName="DC0_H0_VM1"))
    assert renamed.value.name == "DC0_H0_VM1"
    assert renamed.value.object == find.by_path(session, "DC0/vm/DC0_H0_VM1")


def test_invalid_name(session: spherekit.Session) -> None:
    vm_folder = find.by_path(session, "DC0/vm")
    for bad in ("", "x" * 80, "tab\there"):
        with pytest.raises(faults.InvalidName) as info:
            session.call(vm_folder, "CreateFolder", name=bad)
        assert info.value.name == bad


def test_invalid_argument(session: spherekit.Session) -> None:
    vm_manager = session.content.viewManager
    assert vm_manager is not None
    with pytest.raises(faults.InvalidArgument) as info:
        session.call(
            vm_manager,
            "CreateContainerView",
            container=session.content.rootFolder,
            type=["NoSuchType"],
            recursive=True,
        )
    assert info.value.invalidProperty == "type"
    with pytest.raises(faults.InvalidArgument) as token:
        session.call(session.content.propertyCollector, "ContinueRetrievePropertiesEx", token="x")
    assert token.value.invalidProperty == "token"


def test_invalid_state(session: spherekit.Session) -> None:
    cluster = find.by_path(session, "DC0/host/DC0_C0")
    with pytest.raises(faults.InvalidState) as info:  # its hosts are connected, not in maintenance
        wait(session, session.call(cluster, "Destroy_Task"))
    assert type(info.value) is faults.InvalidState
    assert "maintenance mode" in str(info.value)


def test_managed_object_not_found(session: spherekit.Session) -> None:
    gone = MoRef("VirtualMachine", "vm-99999")
    with pytest.raises(faults.ManagedObjectNotFound) as info:
        session.call(gone, "PowerOnVM_Task")
    assert info.value.obj == gone
    # an object that was there and was destroyed
    vm = find.by_path(session, VM0)
    wait(session, session.call(vm, "PowerOffVM_Task"))
    wait(session, session.call(vm, "Destroy_Task"))
    with pytest.raises(faults.ManagedObjectNotFound) as destroyed:
        session.call(vm, "PowerOnVM_Task")
    assert destroyed.value.obj == vm


def test_not_supported(sim_factory: SimFactory) -> None:
    s = sim_factory(seed=1, esx=True).connect()
    vm = spherekit.fetch(s, "VirtualMachine", ["name"])[0][0]
    folder = find.by_path(s, "ha-datacenter/vm")
    with pytest.raises(faults.NotSupported):
        s.call(vm, "CloneVM_Task", folder=folder, name="copy", spec=clone_spec())
    with pytest.raises(faults.NotSupported):
        s.call(s.content.rootFolder, "CreateDatacenter", name="dc2")


def clone_spec() -> VirtualMachineCloneSpec:
    return VirtualMachineCloneSpec(
        location=VirtualMachineRelocateSpec(), template=False, powerOn=False
    )


def test_task_in_progress(sim: Target, session: spherekit.Session) -> None:
    """vCenter runs one state-changing task per VM: another one fails with TaskInProgress,
    naming the task that holds the VM; reads and clones of the VM go on."""
    s = session
    vm = find.by_path(s, VM0)
    sim.sim.control.set_task_delays({"PowerOffVM_Task": 1.0})
    running = s.call(vm, "PowerOffVM_Task")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("PowerOnVM_Task", {}),
        ("ResetVM_Task", {}),
        ("Rename_Task", {"newName": "other"}),
        ("CreateSnapshot_Task", {"name": "s", "memory": False, "quiesce": False}),
    ]
    for method, kwargs in calls:
        with pytest.raises(faults.TaskInProgress) as info:
            wait(s, s.call(vm, method, **kwargs))
        assert info.value.task == running, method
        assert "Another task is already in progress" in str(info.value)
    # a clone shares its source; another VM is not held at all
    folder = find.by_path(s, "DC0/vm")
    clone = wait(s, s.call(vm, "CloneVM_Task", folder=folder, name="copy", spec=clone_spec()))
    assert clone.type == "VirtualMachine"
    other = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    wait(s, s.call(other, "Rename_Task", newName="renamed"))
    assert wait(s, running) is None
    assert task_info(s, running).state == "success"
    # once the task is done the VM takes the next one
    wait(s, s.call(vm, "PowerOnVM_Task"))


def test_task_in_progress_from_concurrent_callers(sim: Target) -> None:
    sim.sim.control.set_task_delays({"PowerOffVM_Task": 0.5, "SuspendVM_Task": 0.5})
    sessions = [sim.connect() for _ in range(4)]
    vm = find.by_path(sessions[0], VM0)
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(sessions))

    def act(s: spherekit.Session, method: str) -> None:
        barrier.wait()
        try:
            wait(s, s.call(vm, method))
            result = "ok"
        except faults.TaskInProgress:
            result = "busy"
        except faults.InvalidPowerState:
            result = "state"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=act, args=(s, m))
        for s, m in zip(sessions, ["PowerOffVM_Task", "SuspendVM_Task"] * 2, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["busy", "busy", "busy", "ok"]


def test_file_not_found_and_file_already_exists(session: spherekit.Session) -> None:
    fm = session.content.fileManager
    assert fm is not None
    dc = find.by_path(session, "DC0")
    with pytest.raises(faults.FileNotFound) as missing:
        wait(
            session,
            session.call(
                fm, "DeleteDatastoreFile_Task", name="[LocalDS_0] nope.txt", datacenter=dc
            ),
        )
    assert missing.value.file == "[LocalDS_0] nope.txt"
    session.call(fm, "MakeDirectory", name="[LocalDS_0] audit", datacenter=dc)
    with pytest.raises(faults.FileAlreadyExists) as exists:
        session.call(fm, "MakeDirectory", name="[LocalDS_0] audit", datacenter=dc)
    assert exists.value.file == "[LocalDS_0] audit"


def test_no_permission(sim_factory: SimFactory) -> None:
    sim = sim_factory(seed=1, users={"viewer": ("secret", "ReadOnly")})
    s = sim.connect(user="viewer", password="secret")
    vm = find.by_path(s, VM0)
    with pytest.raises(faults.NoPermission) as info:
        s.call(vm, "PowerOffVM_Task")
    assert info.value.object == vm
    assert info.value.privilegeId == "VirtualMachine.Interact.PowerOff"
    (missing,) = info.value.missingPrivileges or []
    assert missing.entity == vm and missing.privilegeIds == ["VirtualMachine.Interact.PowerOff"]
    folder = find.by_path(s, "DC0/vm")
    with pytest.raises(faults.NoPermission) as create:
        s.call(folder, "CreateFolder", name="nope")
    assert create.value.object == folder and create.value.privilegeId == "Folder.Create"


def test_invalid_login(sim: Target) -> None:
    with pytest.raises(faults.InvalidLogin) as info:
        sim.connect(password="wrong")
    assert "incorrect user name or password" in str(info.value).lower()


def test_not_authenticated(sim: Target) -> None:
    s = sim.connect()
    pc = s.content.propertyCollector
    mgr = s.content.sessionManager
    assert mgr is not None
    s.call(mgr, "Logout")
    spec = PropertyFilterSpec(
        propSet=[PropertySpec(type="Folder", pathSet=["name"])],
        objectSet=[ObjectSpec(obj=s.content.rootFolder)],
    )
    body = codec.encode_call(
        "RetrievePropertiesEx", pc, {"specSet": [spec], "options": RetrieveOptions()}
    )
    response = sim.post(body, s._cookie)  # the logged-out cookie, not re-logged in
    assert response.status == 500
    with pytest.raises(faults.NotAuthenticated) as info:
        codec.response_payload("RetrievePropertiesEx", response.body, response.status)
    assert info.value.object == pc
    assert info.value.privilegeId == "System.View"


def test_invalid_collector_version(session: spherekit.Session) -> None:
    pc = session.call(session.content.propertyCollector, "CreatePropertyCollector")
    session.call(
        pc,
        "CreateFilter",
        spec=filter_spec("Folder", ["name"], [session.content.rootFolder]),
        partialUpdates=False,
    )
    with pytest.raises(faults.InvalidCollectorVersion):
        session.call(pc, "WaitForUpdatesEx", version="bogus", options=WaitOptions(maxWaitSeconds=0))
    first = session.call(pc, "WaitForUpdatesEx", version="", options=WaitOptions(maxWaitSeconds=0))
    with pytest.raises(faults.InvalidCollectorVersion):  # a version from the future
        session.call(pc, "CheckForUpdates", version=str(int(first.version.split(".")[0]) + 99))


def test_invalid_property(session: spherekit.Session) -> None:
    vm = find.by_path(session, VM0)
    spec = PropertyFilterSpec(  # built by hand: spherekit's filter_spec checks paths first
        propSet=[PropertySpec(type="VirtualMachine", pathSet=["runtime.noSuchThing"])],
        objectSet=[ObjectSpec(obj=vm)],
    )
    with pytest.raises(faults.InvalidProperty) as info:
        session.call(
            session.content.propertyCollector,
            "RetrievePropertiesEx",
            specSet=[spec],
            options=RetrieveOptions(),
        )
    assert info.value.name == "runtime.noSuchThing"
