"""A standalone ESXi endpoint (``Simulator(esx=True)``): about, inventory, vCenter-only calls."""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    ClusterConfigSpecEx,
    VirtualMachineCloneSpec,
    VirtualMachineRelocateSpec,
)
from spherekit.sim import VpxModel
from tests.sim.conftest import SimFactory, Target


@pytest.fixture
def esx(sim_factory: SimFactory) -> Target:
    return sim_factory(seed=1, esx=True)


def names(s: spherekit.Session, mtype: str) -> dict[str, str]:
    return {ref.value: row["name"] for ref, row in spherekit.fetch(s, mtype, ["name"])}


def test_about_is_a_host_agent(esx: Target) -> None:
    s = esx.connect()
    about = s.content.about
    assert (about.apiType, about.productLineId, about.name) == (
        "HostAgent",
        "embeddedEsx",
        "VMware ESXi",
    )
    assert about.fullName.startswith("VMware ESXi 8.0.2 build-")
    assert about.osType == "vmnix-x86"
    assert not s.is_vcenter
    content = s.content
    assert content.viewManager is not None and content.searchIndex is not None
    assert content.customizationSpecManager is None
    assert content.alarmManager is None and content.scheduledTaskManager is None


def test_inventory_has_the_shape_of_an_esxi_host(esx: Target) -> None:
    s = esx.connect()
    assert s.content.rootFolder == MoRef("Folder", "ha-folder-root")
    assert names(s, "Datacenter") == {"ha-datacenter": "ha-datacenter"}
    assert names(s, "Folder") == {
        "ha-folder-vm": "vm",
        "ha-folder-host": "host",
        "ha-folder-datastore": "datastore",
        "ha-folder-network": "network",
    }
    assert names(s, "ComputeResource") == {"ha-compute-res": "localhost.localdomain"}
    assert names(s, "HostSystem") == {"ha-host": "localhost.localdomain"}
    assert names(s, "ResourcePool") == {"ha-root-pool": "Resources"}
    assert names(s, "Network") == {"HaNetwork-VM Network": "VM Network"}
    assert list(names(s, "Datastore").values()) == ["LocalDS_0"]
    rows = spherekit.fetch(s, "VirtualMachine", ["name", "runtime.host", "resourcePool"])
    assert sorted(row["name"] for _, row in rows) == ["ha-host_VM0", "ha-host_VM1"]
    for _ref, row in rows:
        assert row["runtime.host"] == MoRef("HostSystem", "ha-host")
        assert row["resourcePool"] == MoRef("ResourcePool", "ha-root-pool")
    index = s.content.searchIndex
    assert index is not None
    found = s.call(index, "FindByInventoryPath", inventoryPath="ha-datacenter/vm")
    assert found == MoRef("Folder", "ha-folder-vm")


def test_vm_and_datastore_counts_apply(sim_factory: SimFactory) -> None:
    s = sim_factory(VpxModel(vms=3, datastores=2), esx=True).connect()
    assert len(names(s, "VirtualMachine")) == 3
    assert sorted(names(s, "Datastore").values()) == ["LocalDS_0", "LocalDS_1"]


def test_vcenter_only_calls_are_not_supported(esx: Target) -> None:
    s = esx.connect()
    vm = next(iter(spherekit.fetch(s, "VirtualMachine", ["name"])))[0]
    vm_folder = MoRef("Folder", "ha-folder-vm")
    spec = VirtualMachineCloneSpec(
        location=VirtualMachineRelocateSpec(), template=False, powerOn=False
    )
    calls: list[tuple[MoRef, str, dict[str, Any]]] = [
        (vm, "CloneVM_Task", {"folder": vm_folder, "name": "c", "spec": spec}),
        (vm, "RelocateVM_Task", {"spec": VirtualMachineRelocateSpec()}),
        (vm, "MigrateVM_Task", {"priority": "defaultPriority"}),
        (s.content.rootFolder, "CreateDatacenter", {"name": "dc"}),
        (MoRef("Folder", "ha-folder-host"), "CreateClusterEx", {
            "name": "c", "spec": ClusterConfigSpecEx()
        }),
        (vm_folder, "CreateFolder", {"name": "f"}),
    ]  # fmt: skip
    for ref, method, kwargs in calls:
        with pytest.raises(faults.NotSupported):
            s.call(ref, method, **kwargs)
    mgr = s.content.sessionManager
    assert mgr is not None and s.user_session is not None
    with pytest.raises(faults.NotImplemented):
        s.call(mgr, "SessionIsActive", sessionID=s.user_session.key, userName="user")


def test_vms_on_the_host_power_off_and_on(esx: Target) -> None:
    s = esx.connect()
    vm = next(iter(spherekit.fetch(s, "VirtualMachine", ["name"])))[0]
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
    spherekit.wait_for_task(s, s.call(vm, "PowerOnVM_Task"))
    ((_ref, row),) = spherekit.fetch(s, "HostSystem", ["vm", "summary.config.product.apiType"])
    assert vm in row["vm"]
    assert row["summary.config.product.apiType"] == "HostAgent"


def test_permissions_work_on_esx(sim_factory: SimFactory) -> None:
    lab = sim_factory(esx=True, users={"ro": ("pw", "ReadOnly")})
    ro = lab.connect(user="ro", password="pw")
    vm = next(iter(spherekit.fetch(ro, "VirtualMachine", ["name"])))[0]
    with pytest.raises(faults.NoPermission) as info:
        ro.call(vm, "PowerOffVM_Task")
    assert info.value.privilegeId == "VirtualMachine.Interact.PowerOff"
