"""Inventory operations through the spherekit client: folders, datacenters, clusters, VMs
created / registered / renamed / moved / destroyed, resource pools and vApps."""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from tests.sim.conftest import Target, container_view

Session = spherekit.Session
ADD = e.VirtualDeviceConfigSpecOperation.add
CREATE = e.VirtualDeviceConfigSpecFileOperation.create


def wait(s: Session, task: MoRef) -> Any:
    return spherekit.wait_for_task(s, task, timeout=10)


def one(s: Session, ref: MoRef, *props: str) -> dict[str, Any]:
    """Properties of one object (unset ones as None)."""
    rows = retrieve(s, filter_spec(ref.type, list(props), [ref]))
    row = dict(rows[0][1]) if rows else {}
    return {p: row.get(p) for p in props}


def events(sim: Target, kind: str) -> list[Any]:
    return [e for e in sim.backend.events.events if type(e).__name__ == kind]


def alloc() -> d.ResourceAllocationInfo:
    return d.ResourceAllocationInfo(
        reservation=0,
        expandableReservation=True,
        limit=-1,
        shares=d.SharesInfo(shares=4000, level=e.SharesLevel.normal),
    )


def pool_spec() -> d.ResourceConfigSpec:
    return d.ResourceConfigSpec(cpuAllocation=alloc(), memoryAllocation=alloc())


def vm_spec(name: str, path: str = "[LocalDS_0]", gb: int = 1) -> d.VirtualMachineConfigSpec:
    return d.VirtualMachineConfigSpec(
        name=name,
        numCPUs=2,
        memoryMB=256,
        guestId="otherGuest64",
        annotation="made by a test",
        files=d.VirtualMachineFileInfo(vmPathName=path),
        deviceChange=[
            d.VirtualDeviceConfigSpec(
                operation=ADD,
                device=d.ParaVirtualSCSIController(
                    key=-1, busNumber=0, sharedBus=e.VirtualSCSISharing.noSharing
                ),
            ),
            d.VirtualDeviceConfigSpec(
                operation=ADD,
                fileOperation=CREATE,
                device=d.VirtualDisk(
                    key=-2,
                    controllerKey=-1,
                    capacityInKB=gb * 1024 * 1024,
                    backing=d.VirtualDiskFlatVer2BackingInfo(
                        fileName="", diskMode="persistent", thinProvisioned=True
                    ),
                ),
            ),
            d.VirtualDeviceConfigSpec(
                operation=ADD,
                device=d.VirtualVmxnet3(
                    key=-3,
                    addressType="generated",
                    backing=d.VirtualEthernetCardNetworkBackingInfo(deviceName="VM Network"),
                ),
            ),
        ],
    )


def create_vm(s: Session, name: str, folder: str = "DC0/vm", **kw: Any) -> MoRef:
    pool = find.by_path(s, "DC0/host/DC0_C0/Resources")
    ref: MoRef = wait(
        s, s.call(find.by_path(s, folder), "CreateVM_Task", config=vm_spec(name, **kw), pool=pool)
    )
    return ref


# -- folders --------------------------------------------------------------------------------


def test_create_folder_escapes_its_name_and_is_seen_by_views(sim: Target, session: Session) -> None:
    s = session
    vm_folder = find.by_path(s, "DC0/vm")
    view = container_view(s, s.content.rootFolder, ["Folder"])
    sub = s.call(vm_folder, "CreateFolder", name="a/b")
    assert sub.type == "Folder" and sub.value.startswith("group-v")
    row = one(s, sub, "name", "parent", "childType")
    assert row == {
        "name": "a%2fb",
        "parent": vm_folder,
        "childType": ["Folder", "VirtualMachine", "VirtualApp"],
    }
    assert sub in one(s, vm_folder, "childEntity")["childEntity"]
    assert sub in one(s, view, "view")["view"]
    assert find.by_path(s, "DC0/vm/a%2fb") == sub
    with pytest.raises(faults.DuplicateName) as err:
        s.call(vm_folder, "CreateFolder", name="a/b")
    assert err.value.name == "a%2fb" and err.value.object == sub
    for bad in ("", "x" * 80):
        with pytest.raises(faults.InvalidName):
            s.call(vm_folder, "CreateFolder", name=bad)
    assert len("y" * 79) == 79 and s.call(vm_folder, "CreateFolder", name="y" * 79)


def test_create_datacenter_and_cluster(sim: Target, session: Session) -> None:
    s = session
    root = s.content.rootFolder
    dc = s.call(root, "CreateDatacenter", name="DC9")
    row = one(s, dc, "name", "parent", "vmFolder", "hostFolder", "datastoreFolder", "networkFolder")
    assert row["parent"] == root
    names = {k: one(s, row[k], "name", "parent")["name"] for k in ("vmFolder", "hostFolder")}
    assert names == {"vmFolder": "vm", "hostFolder": "host"}
    assert find.by_path(s, "DC9/host") == row["hostFolder"]
    (ev,) = events(sim, "DatacenterCreatedEvent")
    assert ev.datacenter.datacenter == dc and ev.parent.folder == root
    assert ev.fullFormattedMessage == "Created datacenter DC9 in folder Datacenters"
    with pytest.raises(faults.DuplicateName):
        s.call(root, "CreateDatacenter", name="DC0")
    with pytest.raises(faults.NotSupported):
        s.call(row["vmFolder"], "CreateDatacenter", name="nested")
    spec = d.ClusterConfigSpecEx(drsConfig=d.ClusterDrsConfigInfo(enabled=True))
    cluster = s.call(row["hostFolder"], "CreateClusterEx", name="C9", spec=spec)
    c = one(s, cluster, "name", "resourcePool", "host", "configurationEx", "summary")
    assert c["host"] is None and c["configurationEx"].drsConfig.enabled is True
    assert c["configurationEx"].dasConfig.enabled is False
    assert one(s, c["resourcePool"], "name", "owner", "parent") == {
        "name": "Resources",
        "owner": cluster,
        "parent": cluster,
    }
    assert find.by_path(s, "DC9/host/C9/Resources") == c["resourcePool"]
    assert events(sim, "ClusterCreatedEvent")[0].computeResource.computeResource == cluster
    with pytest.raises(faults.DuplicateName):
        s.call(row["hostFolder"], "CreateClusterEx", name="C9", spec=d.ClusterConfigSpecEx())
    with pytest.raises(faults.NotSupported):
        s.call(row["vmFolder"], "CreateClusterEx", name="C10", spec=d.ClusterConfigSpecEx())
    # an empty cluster can go; the datacenter goes with everything in it
    assert wait(s, s.call(cluster, "Destroy_Task")) is None
    wait(s, s.call(dc, "Destroy_Task"))
    assert dc not in one(s, root, "childEntity")["childEntity"]
    with pytest.raises(find.NotFound):
        find.by_path(s, "DC9")


# -- virtual machines -------------------------------------------------------------------------


def test_create_vm(sim: Target, session: Session) -> None:
    s = session
    view = container_view(s, s.content.rootFolder, ["VirtualMachine"])
    vm = create_vm(s, "vm1")
    row = one(
        s,
        vm,
        "name",
        "parent",
        "config",
        "runtime",
        "resourcePool",
        "datastore",
        "network",
        "summary",
    )
    config = row["config"]
    assert row["name"] == config.name == row["summary"].config.name == "vm1"
    assert config.files.vmPathName == "[LocalDS_0] vm1/vm1.vmx"
    assert config.hardware.numCPU == 2 and config.hardware.memoryMB == 256
    assert config.guestId == "otherGuest64" and config.guestFullName == "Other (64-bit)"
    assert config.annotation == "made by a test" and config.template is False
    assert row["runtime"].powerState == "poweredOff"
    disks = [x for x in config.hardware.device if isinstance(x, d.VirtualDisk)]
    nics = [x for x in config.hardware.device if isinstance(x, d.VirtualEthernetCard)]
    assert [getattr(x.backing, "fileName", None) for x in disks] == ["[LocalDS_0] vm1/vm1.vmdk"]
    assert disks[0].capacityInKB == 1024 * 1024 and disks[0].key > 0
    assert nics[0].macAddress and nics[0].addressType == "assigned"
    assert (
        row["summary"].config.numVirtualDisks == 1 and row["summary"].config.numEthernetCards == 1
    )
    host, pool = row["runtime"].host, row["resourcePool"]
    assert pool == find.by_path(s, "DC0/host/DC0_C0/Resources")
    assert vm in one(s, host, "vm")["vm"] and vm in one(s, pool, "vm")["vm"]
    (ds,) = row["datastore"]
    (net,) = row["network"]
    assert vm in one(s, ds, "vm")["vm"] and vm in one(s, net, "vm")["vm"]
    assert vm in one(s, view, "view")["view"]
    assert find.by_path(s, "DC0/vm/vm1") == vm
    storage = sim.backend.storage
    assert b'displayName = "vm1"' in storage.read("LocalDS_0", "vm1/vm1.vmx")
    assert b"RW 2097152 VMFS" in storage.read("LocalDS_0", "vm1/vm1.vmdk")
    kinds = [type(e).__name__ for e in sim.backend.events.events if getattr(e, "vm", None)]
    assert kinds[-5:] == [
        "VmBeingCreatedEvent",
        "VmInstanceUuidAssignedEvent",
        "VmUuidAssignedEvent",
        "VmMacAssignedEvent",  # the NIC's generated address
        "VmCreatedEvent",
    ]
    assert len({e.chainId for e in sim.backend.events.events if getattr(e, "vm", None)
                and e.vm.vm == vm}) == 1  # fmt: skip
    # the same name in another folder: the directory becomes vm1_1
    sub = s.call(find.by_path(s, "DC0/vm"), "CreateFolder", name="sub")
    other = create_vm(s, "vm1", folder="DC0/vm/sub")
    assert one(s, other, "config.files.vmPathName") == {
        "config.files.vmPathName": "[LocalDS_0] vm1_1/vm1.vmx"
    }
    assert sub == one(s, other, "parent")["parent"]


def test_create_vm_faults(session: Session) -> None:
    s = session
    with pytest.raises(faults.DuplicateName):
        create_vm(s, "DC0_C0_RP0_VM0")
    with pytest.raises(faults.InvalidVmConfig):
        create_vm(s, "novmx", path="")
    with pytest.raises(faults.InvalidDatastorePath):
        create_vm(s, "nods", path="[NoSuchDS]")
    with pytest.raises(faults.InvalidArgument):  # a disk must have a size
        create_vm(s, "zero", gb=0)
    with pytest.raises(faults.NotSupported):  # a host folder holds no VMs
        create_vm(s, "wrong", folder="DC0/host")
    # a cluster without DRS cannot choose a host
    folder = find.by_path(s, "DC0/host")
    cluster = s.call(folder, "CreateClusterEx", name="NoDRS", spec=d.ClusterConfigSpecEx())
    pool = one(s, cluster, "resourcePool")["resourcePool"]
    task = s.call(find.by_path(s, "DC0/vm"), "CreateVM_Task", config=vm_spec("x"), pool=pool)
    with pytest.raises(faults.InvalidArgument) as err:
        wait(s, task)
    assert err.value.invalidProperty == "host"


def test_register_unregister_and_destroy(sim: Target, session: Session) -> None:
    s = session
    storage = sim.backend.storage
    vm = create_vm(s, "reg")
    before = one(s, vm, "config")["config"]
    pool = one(s, vm, "resourcePool")["resourcePool"]
    vm_folder = find.by_path(s, "DC0/vm")
    s.call(vm, "UnregisterVM")
    assert vm not in one(s, vm_folder, "childEntity")["childEntity"]
    assert vm not in (one(s, pool, "vm")["vm"] or [])
    assert storage.exists("LocalDS_0", "reg/reg.vmx")  # files stay
    assert events(sim, "VmRemovedEvent")[-1].vm.vm == vm
    with pytest.raises(faults.FileNotFound):
        wait(s, s.call(vm_folder, "RegisterVM_Task", path="[LocalDS_0] no/no.vmx",
                       asTemplate=False, pool=pool))  # fmt: skip
    task = s.call(vm_folder, "RegisterVM_Task", path="[LocalDS_0] reg/reg.vmx", asTemplate=False,
                  pool=pool)  # fmt: skip
    again = wait(s, task)
    assert again != vm
    after = one(s, again, "config", "name")
    assert after["name"] == "reg"
    assert after["config"].uuid == before.uuid
    assert after["config"].hardware.numCPU == 2 and after["config"].hardware.memoryMB == 256
    disks = [x for x in after["config"].hardware.device if isinstance(x, d.VirtualDisk)]
    assert getattr(disks[0].backing, "fileName", None) == "[LocalDS_0] reg/reg.vmdk"
    assert disks[0].capacityInKB == 1024 * 1024
    assert events(sim, "VmRegisteredEvent")[-1].vm.vm == again
    with pytest.raises(faults.AlreadyExists):
        wait(s, s.call(vm_folder, "RegisterVM_Task", path="[LocalDS_0] reg/reg.vmx",
                       asTemplate=False, pool=pool))  # fmt: skip
    with pytest.raises(faults.InvalidArgument):  # a template is registered on a host
        wait(s, s.call(vm_folder, "RegisterVM_Task", path="[LocalDS_0] reg/reg.vmx",
                       asTemplate=True, pool=pool))  # fmt: skip
    wait(s, s.call(again, "Destroy_Task"))
    assert not storage.exists("LocalDS_0", "reg")
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(again, "Destroy_Task")


def test_powered_on_vm_cannot_go(session: Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    with pytest.raises(faults.InvalidPowerState) as err:
        wait(s, s.call(vm, "Destroy_Task"))
    assert err.value.existingState == "poweredOn"
    with pytest.raises(faults.InvalidPowerState):
        s.call(vm, "UnregisterVM")
    wait(s, s.call(vm, "PowerOffVM_Task"))
    wait(s, s.call(vm, "Destroy_Task"))
    host = find.by_path(s, "DC0/host/DC0_H0/DC0_H0")
    assert vm not in (one(s, host, "vm")["vm"] or [])


def test_rename(sim: Target, session: Session) -> None:
    s = session
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    assert wait(s, s.call(vm, "Rename_Task", newName="web/1")) is None
    row = one(s, vm, "name", "config.name", "summary.config.name")
    assert set(row.values()) == {"web%2f1"}
    ev = events(sim, "VmRenamedEvent")[-1]
    assert (ev.oldName, ev.newName) == ("DC0_H0_VM0", "web%2f1")
    with pytest.raises(faults.DuplicateName):
        wait(s, s.call(vm, "Rename_Task", newName="DC0_H0_VM1"))
    with pytest.raises(faults.InvalidName):
        wait(s, s.call(vm, "Rename_Task", newName=""))
    dc = find.by_path(s, "DC0")
    wait(s, s.call(dc, "Rename_Task", newName="Lab"))
    assert find.by_path(s, "Lab/vm/web%2f1") == vm
    assert events(sim, "DatacenterRenamedEvent")[-1].newName == "Lab"


def test_move_into_folder(session: Session) -> None:
    s = session
    vm_folder = find.by_path(s, "DC0/vm")
    a = s.call(vm_folder, "CreateFolder", name="a")
    b = s.call(a, "CreateFolder", name="b")
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    wait(s, s.call(b, "MoveIntoFolder_Task", list=[vm]))
    assert one(s, vm, "parent")["parent"] == b
    assert find.by_path(s, "DC0/vm/a/b/DC0_H0_VM0") == vm
    assert vm not in one(s, vm_folder, "childEntity")["childEntity"]
    with pytest.raises(faults.InvalidFolder) as err:
        wait(s, s.call(b, "MoveIntoFolder_Task", list=[a]))
    assert err.value.target == a
    with pytest.raises(faults.NotSupported):
        wait(s, s.call(find.by_path(s, "DC0/host"), "MoveIntoFolder_Task", list=[vm]))
    wait(s, s.call(vm_folder, "MoveIntoFolder_Task", list=[vm]))
    other = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    wait(s, s.call(other, "Rename_Task", newName="b"))
    with pytest.raises(faults.DuplicateName):
        wait(s, s.call(vm_folder, "MoveIntoFolder_Task", list=[b]))


def test_destroy_folders(sim: Target, session: Session) -> None:
    s = session
    vm_folder = find.by_path(s, "DC0/vm")
    with pytest.raises(faults.NotSupported):
        wait(s, s.call(vm_folder, "Destroy_Task"))
    f = s.call(vm_folder, "CreateFolder", name="gone")
    vm = create_vm(s, "inside", folder="DC0/vm/gone")
    wait(s, s.call(f, "Destroy_Task"))
    assert not sim.backend.storage.exists("LocalDS_0", "inside")
    with pytest.raises(find.NotFound):
        find.by_path(s, "DC0/vm/gone")
    f = s.call(vm_folder, "CreateFolder", name="kept")
    vm = create_vm(s, "files", folder="DC0/vm/kept")
    wait(s, s.call(f, "UnregisterAndDestroy_Task"))
    assert sim.backend.storage.exists("LocalDS_0", "files/files.vmx")
    assert vm not in sim.backend.registry
    with pytest.raises(faults.NotSupported):
        s.call(find.by_path(s, "DC0/host"), "UnregisterAndDestroy_Task")
    with pytest.raises(faults.MethodNotFound):
        s.call(find.by_path(s, "DC0/datastore/LocalDS_0"), "Destroy_Task")


# -- resource pools and vApps ------------------------------------------------------------------


def test_resource_pools(sim: Target, session: Session) -> None:
    s = session
    root = find.by_path(s, "DC0/host/DC0_C0/Resources")
    cluster = find.by_path(s, "DC0/host/DC0_C0")
    parent = s.call(root, "CreateResourcePool", name="parent", spec=pool_spec())
    child = s.call(parent, "CreateResourcePool", name="child", spec=pool_spec())
    row = one(s, child, "name", "parent", "owner", "config")
    assert (row["name"], row["parent"], row["owner"]) == ("child", parent, cluster)
    assert row["config"].cpuAllocation.limit == -1 and row["config"].entity == child
    assert find.by_path(s, "DC0/host/DC0_C0/Resources/parent/child") == child
    ev = events(sim, "ResourcePoolCreatedEvent")[-1]
    assert ev.resourcePool.resourcePool == child and ev.parent.resourcePool == parent
    with pytest.raises(faults.DuplicateName) as err:
        s.call(parent, "CreateResourcePool", name="child", spec=pool_spec())
    assert err.value.object == child
    incomplete = d.ResourceConfigSpec(
        cpuAllocation=d.ResourceAllocationInfo(limit=-1), memoryAllocation=alloc()
    )
    with pytest.raises(faults.InvalidArgument):
        s.call(parent, "CreateResourcePool", name="bad", spec=incomplete)
    new = d.ResourceConfigSpec(
        cpuAllocation=d.ResourceAllocationInfo(limit=1000), memoryAllocation=alloc()
    )
    s.call(child, "UpdateConfig", name="renamed", config=new)
    row = one(s, child, "name", "config")
    assert row["name"] == "renamed" and row["config"].cpuAllocation.limit == 1000
    assert row["config"].cpuAllocation.reservation == 0
    # a VM in the pool; destroying the pool hands pool and VM to the parent
    vm = find.by_path(s, "DC0/vm/DC0_C0_RP0_VM0")
    wait(s, s.call(vm, "PowerOffVM_Task"))
    task = s.call(find.by_path(s, "DC0/vm"), "CreateVM_Task", config=vm_spec("pooled"), pool=parent)
    pooled = wait(s, task)
    wait(s, s.call(parent, "Destroy_Task"))
    assert one(s, child, "parent")["parent"] == root
    assert one(s, pooled, "resourcePool")["resourcePool"] == root
    assert {child, pooled} <= set(one(s, root, "resourcePool", "vm")["resourcePool"]) | set(
        one(s, root, "vm")["vm"]
    )
    with pytest.raises(faults.InvalidArgument):
        wait(s, s.call(root, "Destroy_Task"))


def test_vapp(sim: Target, session: Session) -> None:
    s = session
    root = find.by_path(s, "DC0/host/DC0_C0/Resources")
    vm_folder = find.by_path(s, "DC0/vm")
    config = d.VAppConfigSpec(
        annotation="an app",
        product=[
            d.VAppProductSpec(
                operation=e.ArrayUpdateOperation.add, info=d.VAppProductInfo(key=0, name="app")
            )
        ],
    )
    vapp = s.call(root, "CreateVApp", name="app", resSpec=pool_spec(), configSpec=config)
    assert vapp.type == "VirtualApp"
    row = one(s, vapp, "name", "parent", "parentFolder", "vAppConfig")
    assert (row["parent"], row["parentFolder"]) == (root, vm_folder)
    assert row["vAppConfig"].annotation == "an app"
    assert row["vAppConfig"].product[0].name == "app"
    assert vapp in one(s, vm_folder, "childEntity")["childEntity"]
    task = s.call(vm_folder, "CreateVM_Task", config=vm_spec("member"), pool=vapp)
    member = wait(s, task)
    assert one(s, vapp, "vm")["vm"] == [member]
    wait(s, s.call(vapp, "Destroy_Task"))
    assert member not in sim.backend.registry and vapp not in sim.backend.registry
    assert vapp not in one(s, vm_folder, "childEntity")["childEntity"]
