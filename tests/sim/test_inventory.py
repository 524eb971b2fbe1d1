"""The default inventory has vcsim's VPX shape and names, and VMs look like vCenter's."""

from __future__ import annotations

import spherekit
from spherekit import find
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import VpxModel
from tests.sim.conftest import SimFactory, Target

VM_NAMES = ["DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]


def names(session: spherekit.Session, mtype: str) -> list[str]:
    return [row["name"] for _ref, row in spherekit.fetch(session, mtype, ["name"])]


def test_default_inventory_has_the_vpx_names(session: spherekit.Session) -> None:
    assert session.content.rootFolder == MoRef("Folder", "group-d1")
    assert names(session, "Datacenter") == ["DC0"]
    assert names(session, "VirtualMachine") == VM_NAMES
    assert names(session, "HostSystem") == ["DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]
    assert names(session, "ClusterComputeResource") == ["DC0_C0"]
    assert names(session, "ComputeResource") == ["DC0_H0", "DC0_C0"]
    assert names(session, "ResourcePool") == ["Resources", "Resources"]
    assert names(session, "Datastore") == ["LocalDS_0"]
    assert names(session, "Network") == ["VM Network", "DVS0-DVUplinks-8", "DC0_DVPG0"]
    assert names(session, "DistributedVirtualSwitch") == ["DVS0"]
    # a container view lists what is below its container, not the container itself
    assert names(session, "Folder") == ["vm", "host", "datastore", "network"]


def test_morefs_follow_vcenter_conventions(session: spherekit.Session) -> None:
    refs = {row["name"]: ref for ref, row in spherekit.fetch(session, "ManagedEntity", ["name"])}
    assert refs["DC0"] == MoRef("Datacenter", "datacenter-2")
    assert refs["vm"] == MoRef("Folder", "group-v3")
    assert refs["host"] == MoRef("Folder", "group-h4")
    assert refs["datastore"] == MoRef("Folder", "group-s5")
    assert refs["network"] == MoRef("Folder", "group-n6")
    assert refs["VM Network"] == MoRef("Network", "network-7")
    assert refs["DC0_C0"].value.startswith("domain-c")
    assert refs["DC0_H0_VM0"].value.startswith("vm-")
    assert refs["LocalDS_0"].value.startswith("datastore-")


def test_vm_properties_are_complete(session: spherekit.Session) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    ref, p = spherekit.fetch(
        session,
        "VirtualMachine",
        [
            "config",
            "runtime",
            "guest",
            "summary",
            "datastore",
            "network",
            "resourcePool",
            "parent",
            "storage",
        ],
        root=session.content.rootFolder,
    )[0]
    assert ref == vm
    config: d.VirtualMachineConfigInfo = p["config"]
    assert config.name == "DC0_H0_VM0"
    assert config.hardware.numCPU == 1 and config.hardware.memoryMB == 32
    assert config.uuid != config.instanceUuid
    devices = config.hardware.device or []
    disks = [x for x in devices if isinstance(x, d.VirtualDisk)]
    nics = [x for x in devices if isinstance(x, d.VirtualEthernetCard)]
    assert len(disks) == 1 and disks[0].capacityInKB > 0
    assert isinstance(disks[0].backing, d.VirtualDiskFlatVer2BackingInfo)
    assert disks[0].backing.fileName == "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0.vmdk"
    assert len(nics) == 1 and (nics[0].macAddress or "").startswith("00:50:56:")
    runtime: d.VirtualMachineRuntimeInfo = p["runtime"]
    assert runtime.powerState == "poweredOn" and runtime.connectionState == "connected"
    assert runtime.bootTime is not None
    assert p["summary"].runtime.powerState == "poweredOn"
    assert p["summary"].config.uuid == config.uuid
    assert p["summary"].vm == vm
    assert p["guest"].toolsRunningStatus == "guestToolsNotRunning"
    assert p["datastore"][0].type == "Datastore"
    assert p["network"][0].type == "DistributedVirtualPortgroup"
    assert p["resourcePool"].type == "ResourcePool"
    assert p["parent"] == find.by_path(session, "/DC0/vm")


def test_cluster_vms_spread_over_the_cluster_hosts(session: spherekit.Session) -> None:
    hosts = {ref: row["name"] for ref, row in spherekit.fetch(session, "HostSystem", ["name"])}
    rows = spherekit.fetch(session, "VirtualMachine", ["name", "runtime.host"])
    placed = {row["name"]: hosts[row["runtime.host"]] for _ref, row in rows}
    assert placed == {
        "DC0_H0_VM0": "DC0_H0",
        "DC0_H0_VM1": "DC0_H0",
        "DC0_C0_RP0_VM0": "DC0_C0_H0",
        "DC0_C0_RP0_VM1": "DC0_C0_H1",
    }


def test_counts_and_folders_shape_the_inventory(sim_factory: SimFactory) -> None:
    target = sim_factory(
        VpxModel(
            datacenters=2,
            clusters=2,
            hosts=1,
            standalone_hosts=0,
            vms=1,
            folders=1,
            datastores=2,
            portgroups=0,
        )
    )
    s = target.connect()
    assert names(s, "Datacenter") == ["DC0", "DC1"]
    assert sorted(names(s, "VirtualMachine")) == [
        "DC0_C0_RP0_VM0",
        "DC0_C1_RP0_VM0",
        "DC1_C0_RP0_VM0",
        "DC1_C1_RP0_VM0",
    ]
    assert sorted(set(names(s, "Datastore"))) == ["LocalDS_0", "LocalDS_1"]
    assert names(s, "DistributedVirtualSwitch") == []
    # the last datacenter sits in folder F0, and so do its resources
    assert find.by_path(s, "/F0/DC1/vm/F0/DC1_C0_RP0_VM0").type == "VirtualMachine"
    assert find.by_path(s, "/DC0/host/DC0_C1/DC0_C1_H0").type == "HostSystem"


def test_seed_makes_uuids_and_macs_reproducible(sim_factory: SimFactory) -> None:
    def identities(target: Target) -> list[tuple[str, str | None]]:
        s = target.connect()
        rows = spherekit.fetch(s, "VirtualMachine", ["config.uuid", "config.hardware.device"])
        out = []
        for _ref, row in rows:
            nic = next(
                x for x in row["config.hardware.device"] if isinstance(x, d.VirtualEthernetCard)
            )
            out.append((row["config.uuid"], nic.macAddress))
        return out

    a, b = sim_factory(seed=7), sim_factory(seed=7)
    assert identities(a) == identities(b)
    assert identities(sim_factory(seed=8)) != identities(a)
    about = a.connect().content.about
    assert about.instanceUuid == b.connect().content.about.instanceUuid
