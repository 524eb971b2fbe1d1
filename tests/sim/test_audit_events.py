"""Audit of issue 3, "an event for every operation, as vCenter emits them": one life cycle
of VMs through the spherekit client, and the event types EventManager.QueryEvents reports
for it, in order, with the events of each task on the task's chain.
"""

from __future__ import annotations

from typing import Any

import spherekit
from spherekit import find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecOperation
from tests.sim.conftest import SimFactory

CREATE = ["VmBeingCreatedEvent", "VmInstanceUuidAssignedEvent", "VmUuidAssignedEvent",
          "VmMacAssignedEvent", "VmCreatedEvent"]  # fmt: skip
CLONE = ["VmBeingClonedEvent", "VmInstanceUuidAssignedEvent", "VmUuidAssignedEvent",
         "VmMacAssignedEvent", "VmClonedEvent", "VmStartingEvent", "VmPoweredOnEvent"]  # fmt: skip


def events_since(s: spherekit.Session, key: int) -> list[Any]:
    """Events newer than ``key``, oldest first."""
    manager = s.content.eventManager
    assert manager is not None
    found: list[Any] = s.call(manager, "QueryEvents", filter=d.EventFilterSpec())
    return sorted((e for e in found if e.key > key), key=lambda e: e.key)


def latest_key(s: spherekit.Session) -> int:
    manager = s.content.eventManager
    assert manager is not None
    ((_r, row),) = retrieve(s, filter_spec("EventManager", ["latestEvent"], [manager]))
    return int(row["latestEvent"].key)


def new_vm_spec(name: str) -> d.VirtualMachineConfigSpec:
    nic = d.VirtualDeviceConfigSpec(
        operation=VirtualDeviceConfigSpecOperation.add,
        device=d.VirtualVmxnet3(
            key=-1,
            backing=d.VirtualEthernetCardNetworkBackingInfo(deviceName="VM Network"),
            addressType="generated",
        ),
    )
    return d.VirtualMachineConfigSpec(
        name=name,
        numCPUs=1,
        memoryMB=64,
        guestId="otherGuest64",
        files=d.VirtualMachineFileInfo(vmPathName="[LocalDS_0]"),
        deviceChange=[nic],
    )


def linux_prep(name: str) -> d.CustomizationSpec:
    return d.CustomizationSpec(
        identity=d.CustomizationLinuxPrep(
            hostName=d.CustomizationFixedName(name=name), domain="example.com"
        ),
        globalIPSettings=d.CustomizationGlobalIPSettings(),
        nicSettingMap=[
            d.CustomizationAdapterMapping(
                adapter=d.CustomizationIPSettings(ip=d.CustomizationDhcpIpGenerator())
            )
        ],
    )


def test_a_vm_life_cycle_posts_vcenters_events_in_order(sim_factory: SimFactory) -> None:
    s = sim_factory(seed=1, guest_ip_delay=0.05).connect()
    folder = find.by_path(s, "DC0/vm")
    pool = find.by_path(s, "DC0/host/DC0_H0/Resources")
    cluster_pool = find.by_path(s, "DC0/host/DC0_C0/Resources")
    cluster_host = find.by_path(s, "DC0/host/DC0_C0/DC0_C0_H0")
    source = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    start = latest_key(s)
    tasks: list[MoRef] = []

    def run(ref: MoRef, method: str, **kw: Any) -> Any:
        task = s.call(ref, method, **kw)
        tasks.append(task)
        return spherekit.wait_for_task(s, task, timeout=30)

    vm = run(folder, "CreateVM_Task", config=new_vm_spec("life"), pool=pool)
    run(vm, "PowerOnVM_Task")
    run(vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(annotation="audited"))
    run(vm, "Rename_Task", newName="life2")
    run(vm, "SuspendVM_Task")
    run(vm, "PowerOnVM_Task")
    run(vm, "ResetVM_Task")
    clone_spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(),
        powerOn=True,
        template=False,
        customization=linux_prep("web-1"),
    )
    clone = run(source, "CloneVM_Task", folder=folder, name="web-1", spec=clone_spec)
    spherekit.wait_for(s, clone, "guest.ipAddress", timeout=30)  # customized at first boot
    run(vm, "PowerOffVM_Task")
    run(
        vm,
        "RelocateVM_Task",
        spec=d.VirtualMachineRelocateSpec(host=cluster_host, pool=cluster_pool),
    )
    run(vm, "Destroy_Task")
    run(clone, "PowerOffVM_Task")
    s.call(clone, "UnregisterVM")

    got = events_since(s, start)
    assert [type(e).__name__ for e in got] == [
        "TaskEvent", *CREATE,
        "TaskEvent", "VmStartingEvent", "VmPoweredOnEvent",
        "TaskEvent", "VmReconfiguredEvent",
        "TaskEvent", "VmRenamedEvent",
        "TaskEvent", "VmSuspendingEvent", "VmSuspendedEvent",
        "TaskEvent", "VmResumingEvent", "VmPoweredOnEvent",
        "TaskEvent", "VmResettingEvent",
        "TaskEvent", *CLONE,
        "CustomizationStartedEvent", "CustomizationSucceeded",
        "TaskEvent", "VmStoppingEvent", "VmPoweredOffEvent",
        "TaskEvent", "VmBeingRelocatedEvent", "VmRelocatedEvent",
        "TaskEvent", "VmRemovedEvent",
        "TaskEvent", "VmStoppingEvent", "VmPoweredOffEvent",
        "VmRemovedEvent",
    ]  # fmt: skip
    # each task's events are on its chain (the TaskEvent's key is the chain id)
    chains: dict[int, list[str]] = {}
    for e in got:
        chains.setdefault(e.chainId, []).append(type(e).__name__)
    task_events = [e for e in got if type(e).__name__ == "TaskEvent"]
    assert [e.info.task for e in task_events] == tasks
    for e in task_events:
        assert e.chainId == e.key and chains[e.key][0] == "TaskEvent"
    cloned = next(e for e in got if type(e).__name__ == "VmClonedEvent")
    assert cloned.vm.vm == clone and cloned.sourceVm.vm == source
    assert cloned.fullFormattedMessage == "Clone of DC0_H0_VM0 completed"
    renamed = next(e for e in got if type(e).__name__ == "VmRenamedEvent")
    assert (renamed.oldName, renamed.newName) == ("life", "life2")
    macs = [e for e in got if type(e).__name__ == "VmMacAssignedEvent"]
    assert all(e.mac and e.adapter for e in macs)
    succeeded = next(e for e in got if type(e).__name__ == "CustomizationSucceeded")
    assert succeeded.vm.vm == clone and succeeded.logLocation
