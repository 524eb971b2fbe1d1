"""pyVmomi drives snapshots, events, task history, diagnostics, custom fields and
customization specs on the served simulator, as a script against vCenter would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connected, find, vim, wait


@pytest.fixture
def si() -> Iterator[Any]:
    with Simulator(seed=1) as sim, connected(sim) as conn:
        yield conn


def find_vm(si: Any, name: str) -> Any:
    return find(si, vim.VirtualMachine, name)


def disk_file(config: Any) -> str:
    (disk,) = [d for d in config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]
    return str(disk.backing.fileName)


def test_snapshot_life_cycle(si: Any) -> None:
    vm = find_vm(si, "DC0_H0_VM0")
    s1 = wait(vm.CreateSnapshot_Task(name="base", description="clean", memory=True, quiesce=False))
    assert isinstance(s1, vim.vm.Snapshot)
    wait(vm.PowerOffVM_Task())
    s2 = wait(vm.CreateSnapshot_Task(name="off", memory=False, quiesce=False))
    tree = vm.snapshot.rootSnapshotList
    assert [n.name for n in tree] == ["base"] and tree[0].childSnapshotList[0].name == "off"
    assert tree[0].state == "poweredOn" and tree[0].childSnapshotList[0].id == 2
    assert vm.snapshot.currentSnapshot == s2 and vm.rootSnapshot == [s1]
    assert s1.childSnapshot == [s2] and s2.vm == vm
    assert disk_file(s1.config).endswith("DC0_H0_VM0.vmdk")
    assert disk_file(vm.config).endswith("DC0_H0_VM0-000002.vmdk")
    wait(s1.RevertToSnapshot_Task())
    assert vm.runtime.powerState == "poweredOn" and vm.snapshot.currentSnapshot == s1
    s1.RenameSnapshot(name="golden")
    assert vm.snapshot.rootSnapshotList[0].name == "golden"
    wait(s1.RemoveSnapshot_Task(removeChildren=False))
    assert [n.snapshot for n in vm.snapshot.rootSnapshotList] == [s2]
    wait(vm.RemoveAllSnapshots_Task())
    assert vm.snapshot is None and disk_file(vm.config).endswith("DC0_H0_VM0.vmdk")
    with pytest.raises(vim.fault.NotFound):
        vm.RevertToCurrentSnapshot_Task()


def test_events_and_collectors(si: Any) -> None:
    content = si.RetrieveContent()
    em = content.eventManager
    vm = find_vm(si, "DC0_H0_VM1")
    wait(vm.PowerOffVM_Task())
    em.LogUserEvent(entity=vm, msg="maintenance")
    by_vm = vim.event.EventFilterSpec.ByEntity(entity=vm, recursion="self")
    events = em.QueryEvents(vim.event.EventFilterSpec(entity=by_vm))
    assert [type(e).__name__ for e in events[:3]] == [
        "vim.event.GeneralUserEvent",
        "vim.event.VmPoweredOffEvent",
        "vim.event.VmStoppingEvent",
    ]
    assert events[0].fullFormattedMessage == "User logged event: maintenance"
    logins = em.QueryEvents(vim.event.EventFilterSpec(eventTypeId=["UserLoginSessionEvent"]))
    assert logins and logins[0].userName == "user"
    collector = em.CreateCollectorForEvents(vim.event.EventFilterSpec(entity=by_vm))
    try:
        seen = []
        while True:  # the classic pyVmomi loop: read forward until nothing is left
            page = collector.ReadNextEvents(2)
            if not page:
                break
            seen += page
        assert [e.key for e in seen] == sorted(e.key for e in events)
        assert collector.latestPage[-1].key == events[0].key
    finally:
        collector.DestroyCollector()
    tasks = content.taskManager.CreateCollectorForTasks(
        vim.TaskFilterSpec(entity=vim.TaskFilterSpec.ByEntity(entity=vm, recursion="self"))
    )
    try:
        (info,) = tasks.ReadNextTasks(10)
        assert info.descriptionId == "VirtualMachine.powerOff" and info.state == "success"
        assert tasks.latestPage[0].key == info.key
    finally:
        tasks.DestroyCollector()
    assert em.latestEvent.key == events[0].key
    assert "VmPoweredOnEvent" in {d.key._wsdlName for d in em.description.eventInfo}


def test_diagnostics_custom_fields_and_specs(si: Any) -> None:
    content = si.RetrieveContent()
    dm = content.diagnosticManager
    (desc,) = dm.QueryDescriptions()
    assert desc.key == "vpxd:vpxd.log"
    header = dm.BrowseDiagnosticLog(key=desc.key, start=1, lines=50)
    assert header.lineStart == 1 and header.lineEnd >= len(header.lineText) > 0
    assert any("vim.SessionManager.Login" in line for line in header.lineText)
    with pytest.raises(vim.fault.CannotAccessFile):
        dm.BrowseDiagnosticLog(key="missing")

    cfm = content.customFieldsManager
    field = cfm.AddCustomFieldDef(name="owner", moType=vim.VirtualMachine)
    vm = find_vm(si, "DC0_H0_VM0")
    cfm.SetField(entity=vm, key=field.key, value="alice")
    assert [(v.key, v.value) for v in vm.customValue] == [(field.key, "alice")]
    assert [f.name for f in vm.availableField] == ["owner"]
    with pytest.raises(vim.fault.DuplicateName):
        cfm.AddCustomFieldDef(name="owner", moType=vim.VirtualMachine)

    csm = content.customizationSpecManager
    item = vim.CustomizationSpecItem(
        info=vim.CustomizationSpecInfo(name="linux", description="", type="Linux"),
        spec=vim.vm.customization.Specification(
            identity=vim.vm.customization.LinuxPrep(
                hostName=vim.vm.customization.VirtualMachineNameGenerator(), domain="lab"
            ),
            globalIPSettings=vim.vm.customization.GlobalIPSettings(),
            nicSettingMap=[],
        ),
    )
    csm.CreateCustomizationSpec(item)
    assert csm.DoesCustomizationSpecExist("linux")
    got = csm.GetCustomizationSpec("linux")
    assert got.spec.identity.domain == "lab" and [i.name for i in csm.info] == ["linux"]
    with pytest.raises(vim.fault.AlreadyExists):
        csm.CreateCustomizationSpec(item)
    xml = csm.CustomizationSpecItemToXml(got)
    assert csm.XmlToCustomizationSpecItem(xml).info.name == "linux"
    csm.DeleteCustomizationSpec("linux")
    with pytest.raises(vim.fault.NotFound):
        csm.GetCustomizationSpec("linux")
