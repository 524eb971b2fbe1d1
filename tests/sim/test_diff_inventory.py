"""The same pyVmomi inventory scenario against govmomi's vcsim and against spherekit.sim.

Where both implement a behaviour they must agree. Where vcsim departs from vCenter's
documented behaviour, a test names the departure and asserts that spherekit.sim follows
vCenter:

- ``DuplicateName.object`` is "the managed object that already holds the name"; vcsim's
  CreateFolder puts the *parent folder* there.
- Rename_Task to a sibling's name fails with ``DuplicateName`` ("if another object in the
  same folder has the target name"); vcsim answers ``InvalidArgument``.
- Entity names store ``/`` escaped as ``%2f`` (vSphere API: "The slash (/), backslash (\\)
  and percent (%) will be escaped"); vcsim keeps the raw ``/``.
"""

from __future__ import annotations

from typing import Any

from tests.sim.diff import PEERS, peer_fixture, started, wait
from tests.sim.pyvmomi_client import disk_specs, vim, vmodl

peer = peer_fixture()


def fault_of(fn: Any) -> Any:
    try:
        fn()
    except vim.fault.VimFault as exc:
        return exc
    except Exception as exc:  # vmodl faults
        return exc
    return None


def spec(name: str) -> Any:
    return vim.vm.ConfigSpec(
        name=name,
        numCPUs=2,
        memoryMB=128,
        guestId="otherGuest64",
        files=vim.vm.FileInfo(vmPathName="[LocalDS_0]"),
        deviceChange=disk_specs(1024 * 1024, fileName=""),
    )


def scenario(si: Any) -> dict[str, Any]:
    """What both simulators are expected to agree on."""
    content = si.RetrieveContent()
    index = content.searchIndex
    out: dict[str, Any] = {}
    dc = content.rootFolder.CreateDatacenter(name="Lab")
    out["dc folders"] = sorted(f.name for f in (dc.vmFolder, dc.hostFolder, dc.datastoreFolder))
    out["dc found"] = index.FindByInventoryPath("Lab") == dc
    vm_folder = index.FindByInventoryPath("DC0/vm")
    apps = vm_folder.CreateFolder("apps")
    out["folder"] = (apps.name, apps.parent == vm_folder, sorted(apps.childType))
    out["duplicate folder"] = type(fault_of(lambda: vm_folder.CreateFolder("apps"))).__name__
    cluster = dc.hostFolder.CreateClusterEx(name="C1", spec=vim.cluster.ConfigSpecEx())
    out["cluster pool"] = (cluster.resourcePool.name, cluster.resourcePool.owner == cluster)
    pool = index.FindByInventoryPath("DC0/host/DC0_C0/Resources")
    vm = wait(apps.CreateVM_Task(config=spec("d1"), pool=pool))
    disks = [x for x in vm.config.hardware.device if isinstance(x, vim.vm.device.VirtualDisk)]
    out["vm"] = (
        vm.name,
        vm.parent == apps,
        vm.config.files.vmPathName,
        vm.config.hardware.numCPU,
        vm.config.hardware.memoryMB,
        vm.runtime.powerState,
        [x.backing.fileName for x in disks],
        vm in pool.vm,
        vm in vm.runtime.host.vm,
    )
    out["found"] = index.FindByInventoryPath("DC0/vm/apps/d1") == vm
    wait(vm_folder.MoveIntoFolder_Task([vm]))
    out["moved"] = vm.parent == vm_folder
    wait(vm.Rename_Task("d2"))
    out["renamed"] = vm.name
    on = index.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    out["destroy powered on"] = type(fault_of(lambda: wait(on.Destroy_Task()))).__name__
    wait(vm.Destroy_Task())
    out["destroyed"] = index.FindByInventoryPath("DC0/vm/d2") is None
    out["vm gone from pool"] = all(x.name != "d2" for x in pool.vm)
    wait(apps.Destroy_Task())
    out["folder destroyed"] = index.FindByInventoryPath("DC0/vm/apps") is None
    return out


def test_inventory_scenario_agrees() -> None:
    results = {}
    for name in PEERS:
        with started(name) as target:
            results[name] = scenario(target.si)
    assert results["spherekit"] == results["vcsim"]
    assert results["spherekit"]["vm"][2] == "[LocalDS_0] d1/d1.vmx"
    assert results["spherekit"]["destroy powered on"] == "vim.fault.InvalidPowerState"


def test_departure_duplicate_name_object(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm_folder = si.content.searchIndex.FindByInventoryPath("DC0/vm")
    apps = vm_folder.CreateFolder("apps")
    err = fault_of(lambda: vm_folder.CreateFolder("apps"))
    assert isinstance(err, vim.fault.DuplicateName)
    if name == "vcsim":
        assert err.object == vm_folder  # vcsim: the parent folder
    else:
        assert err.object == apps  # vCenter: the object that holds the name


def test_departure_rename_to_a_siblings_name(peer: tuple[str, Any]) -> None:
    name, si = peer
    vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    err = fault_of(lambda: wait(vm.Rename_Task("DC0_H0_VM1")))
    expected = vim.fault.DuplicateName if name == "spherekit" else vmodl.fault.InvalidArgument
    assert isinstance(err, expected)


def test_departure_slash_is_escaped(peer: tuple[str, Any]) -> None:
    name, si = peer
    folder = si.content.searchIndex.FindByInventoryPath("DC0/vm").CreateFolder("a/b")
    assert folder.name == ("a%2fb" if name == "spherekit" else "a/b")
