"""Reconfigure: CPU, memory, disk grow, NICs; refusals before any write; task faults."""

from __future__ import annotations

from typing import Any

import pytest

from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed
from spherekit.compute import reconfigure as rc
from spherekit.compute.endpoint import read_one
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.task import wait_for_task

GiB = 1024**3


def _vm(session: Session) -> MoRef:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM1")
    wait_for_task(session, session.call(vm, "PowerOffVM_Task"))  # no hot-add rules: off
    return vm


def _hw(session: Session, vm: MoRef) -> Any:
    return read_one(session, vm, ["config.hardware"])["config.hardware"]


def _disk_sizes(session: Session, vm: MoRef) -> list[int]:
    return [
        d.capacityInBytes or 0 for d in _hw(session, vm).device if isinstance(d, vim.VirtualDisk)
    ]


def _nics(session: Session, vm: MoRef) -> list[Any]:
    return [d for d in _hw(session, vm).device if isinstance(d, vim.VirtualEthernetCard)]


def test_cpu_memory_and_disk_in_one_task(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    before = _disk_sizes(session, vm)
    result = rc.reconfigure(session, vm, journal, cpus=2, memory_mb=2048,
                            grow_disks={"Hard disk 1": before[0] / GiB + 1})  # fmt: skip
    assert result.changed and len(result.changes) == 3
    hw = _hw(session, vm)
    assert (hw.numCPU, hw.memoryMB) == (2, 2048)
    assert _disk_sizes(session, vm)[0] == before[0] + GiB
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("ReconfigVM_Task", "started"), ("task", "ok")]  # fmt: skip


def test_nothing_to_change_sends_nothing(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    hw = _hw(session, vm)
    result = rc.set_cpu(session, vm, journal, hw.numCPU)
    assert not result.changed and journal.entries() == []
    assert "nothing to change" in str(result)


def test_plan_writes_nothing(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    result = rc.set_memory(session, vm, journal, 4096, plan=True)
    assert [c.method for c in result.planned] == ["ReconfigVM_Task"]
    assert result.planned[0].args["spec"]["memoryMB"] == 4096
    assert _hw(session, vm).memoryMB != 4096


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cpus": 0}, "cpus must be positive"),
        ({"cpus": -2}, "cpus must be positive"),
        ({"memory_mb": 1001}, "multiple of 4"),
        ({"memory_mb": 0}, "memory_mb must be positive"),
        ({"grow_disks": {"Hard disk 1": 0}}, "must be positive"),
        ({"grow_disks": {"Hard disk 1": -5}}, "must be positive"),
        ({"grow_disks": {"Hard disk 1": 0.001}}, "cannot shrink"),
        ({"grow_disks": {"Hard disk 9": 100}}, "no disk labelled 'Hard disk 9'"),
        ({"grow_disks": {3: 100}}, "no disk #3"),
        ({"add_nics": ["No Such Net"]}, "no network 'No Such Net'"),
        ({"add_nics": ["VM Network"], "nic_type": "rtl8139"}, "unknown NIC adapter"),
    ],
)
def test_bad_input_is_refused_before_any_write(
    session: Session, journal: Journal, kwargs: dict[str, Any], match: str
) -> None:
    vm = _vm(session)
    before = _hw(session, vm)
    with pytest.raises(UsageError, match=match):
        rc.reconfigure(session, vm, journal, **kwargs)
    assert journal.entries() == []
    assert _hw(session, vm) == before


def test_grow_disk_by_index(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    size = _disk_sizes(session, vm)[0]
    rc.grow_disk(session, vm, journal, 0, size / GiB + 2)
    assert _disk_sizes(session, vm)[0] == size + 2 * GiB


def test_add_nic_on_a_standard_network_and_a_portgroup(session: Session, journal: Journal) -> None:
    vm = _vm(session)
    count = len(_nics(session, vm))
    rc.add_nic(session, vm, journal, "VM Network")
    rc.add_nic(session, vm, journal, "DC0_DVPG0", nic_type="e1000e")
    nics = _nics(session, vm)
    assert len(nics) == count + 2
    std, dv = nics[-2], nics[-1]
    assert isinstance(std, vim.VirtualVmxnet3)
    assert isinstance(std.backing, vim.VirtualEthernetCardNetworkBackingInfo)
    assert std.backing.deviceName == "VM Network"
    assert isinstance(dv, vim.VirtualE1000e)
    assert isinstance(dv.backing, vim.VirtualEthernetCardDistributedVirtualPortBackingInfo)
    assert dv.backing.port.portgroupKey


def test_a_task_fault_leaves_nothing_half_applied(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    vm = _vm(session)
    before = _hw(session, vm)
    sim.control.add_fault({"method": "ReconfigVM_Task", "stage": "task",
                           "fault": "InvalidState", "message": "injected"})  # fmt: skip
    with pytest.raises(OperationFailed, match="injected") as caught:
        rc.reconfigure(session, vm, journal, cpus=4, memory_mb=4096, add_nics=["VM Network"])
    assert isinstance(caught.value.cause, vim.InvalidState)
    assert _hw(session, vm) == before
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("ReconfigVM_Task", "started"), ("task", "error: InvalidState")]  # fmt: skip


def test_server_refusal_of_cpu_hot_add_is_clear(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")  # powered on, no cpuHotAddEnabled
    with pytest.raises(OperationFailed, match="InvalidPowerState"):
        rc.set_cpu(session, vm, journal, 8)
    assert journal.entries()[-1].outcome == "error: InvalidPowerState"
