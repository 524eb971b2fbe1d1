"""Property sets of the inventory's entities other than VMs, as vCenter describes them.

Each function returns the properties of a new entity (without its containment lists,
which the inventory builder fills in once everything exists).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim.registry import Registry
from spherekit.sim.values import sparse

__all__ = [
    "cluster",
    "compute_resource",
    "datacenter",
    "datastore",
    "dvs",
    "entity",
    "folder",
    "host",
    "network",
    "portgroup",
    "resource_pool",
]

GREEN = e.ManagedEntityStatus.green
HOST_MEMORY = 4 * 1024**3
HOST_MHZ = 2394
HOST_CORES = 2
DATASTORE_CAPACITY = 1024**4  # 1 TiB


def entity(name: str, parent: MoRef | None) -> dict[str, Any]:
    """The ManagedEntity properties every entity has."""
    props: dict[str, Any] = {
        "name": name,
        "overallStatus": GREEN,
        "configStatus": GREEN,
        "effectiveRole": [-1],
        "alarmActionsEnabled": True,
    }
    if parent is not None:
        props["parent"] = parent
    return props


def folder(name: str, parent: MoRef | None, child_type: list[str]) -> dict[str, Any]:
    return entity(name, parent) | {"childType": child_type}


def datacenter(name: str, parent: MoRef, folders: dict[str, MoRef]) -> dict[str, Any]:
    return entity(name, parent) | folders | {"configuration": d.DatacenterConfigInfo()}


def _alloc() -> d.ResourceAllocationInfo:
    return sparse(
        d.ResourceAllocationInfo(
            reservation=0,
            expandableReservation=True,
            limit=-1,
            shares=d.SharesInfo(shares=4000, level=e.SharesLevel.normal),
        )
    )


def _summary_numbers(hosts: int) -> dict[str, Any]:
    return {
        "totalCpu": HOST_MHZ * HOST_CORES * hosts,
        "totalMemory": HOST_MEMORY * hosts,
        "numCpuCores": HOST_CORES * hosts,
        "numCpuThreads": HOST_CORES * hosts,
        "effectiveCpu": HOST_MHZ * HOST_CORES * hosts,
        "effectiveMemory": HOST_MEMORY // 1024**2 * hosts,
        "numHosts": hosts,
        "numEffectiveHosts": hosts,
        "overallStatus": GREEN,
    }


def compute_resource(
    name: str, parent: MoRef, pool: MoRef, env: MoRef, hosts: int
) -> dict[str, Any]:
    return entity(name, parent) | {
        "resourcePool": pool,
        "environmentBrowser": env,
        "summary": sparse(d.ComputeResourceSummary(**_summary_numbers(hosts))),
        "configurationEx": d.ComputeResourceConfigInfo(vmSwapPlacement="vmDirectory"),
    }


def cluster(name: str, parent: MoRef, pool: MoRef, env: MoRef, hosts: int) -> dict[str, Any]:
    summary = d.ClusterComputeResourceSummary(
        **_summary_numbers(hosts), currentFailoverLevel=0, numVmotions=0
    )
    config = d.ClusterConfigInfoEx(
        vmSwapPlacement="vmDirectory",
        dasConfig=d.ClusterDasConfigInfo(enabled=False),
        # DRS on, as in vcsim's VPX model: CreateVM_Task may then leave the host to DRS
        drsConfig=d.ClusterDrsConfigInfo(
            enabled=True, defaultVmBehavior=e.DrsBehavior.fullyAutomated
        ),
    )
    return entity(name, parent) | {
        "resourcePool": pool,
        "environmentBrowser": env,
        "summary": sparse(summary),
        "configurationEx": sparse(config),
    }


def resource_pool(parent: MoRef, owner: MoRef, name: str = "Resources") -> dict[str, Any]:
    config = d.ResourceConfigSpec(cpuAllocation=_alloc(), memoryAllocation=_alloc())
    return entity(name, parent) | {"owner": owner, "config": sparse(config)}


def host(reg: Registry, ref: MoRef, name: str, parent: MoRef) -> dict[str, Any]:
    now = datetime.now(UTC)
    runtime = sparse(
        d.HostRuntimeInfo(
            connectionState=e.HostSystemConnectionState.connected,
            powerState=e.HostSystemPowerState.poweredOn,
            inMaintenanceMode=False,
            bootTime=now,
        )
    )
    hardware = d.HostHardwareSummary(
        vendor="VMware, Inc. (spherekit.sim)",
        model="VMware Virtual Platform",
        uuid=reg.uuid(),
        memorySize=HOST_MEMORY,
        cpuModel="Intel(R) Core(TM) i7-3615QM",
        cpuMhz=HOST_MHZ,
        numCpuPkgs=1,
        numCpuCores=HOST_CORES,
        numCpuThreads=HOST_CORES,
        numNics=1,
        numHBAs=2,
    )
    product = d.AboutInfo(
        name="VMware ESXi",
        fullName="VMware ESXi 8.0.2 build-22380479",
        vendor="VMware, Inc.",
        version="8.0.2",
        build="22380479",
        osType="vmnix-x86",
        productLineId="embeddedEsx",
        apiType="HostAgent",
        apiVersion="8.0.2.0",
    )
    config = d.HostConfigSummary(
        name=name, port=443, product=product, vmotionEnabled=False, faultToleranceEnabled=False
    )
    summary = d.HostListSummary(
        host=ref,
        hardware=hardware,
        runtime=runtime,
        config=config,
        quickStats=d.HostListSummaryQuickStats(overallCpuUsage=0, overallMemoryUsage=0),
        overallStatus=GREEN,
        rebootRequired=False,
    )
    return entity(name, parent) | {
        "runtime": runtime,
        "summary": sparse(summary),
        "configManager": d.HostConfigManager(),
    }


def datastore(
    reg: Registry, ref: MoRef, name: str, parent: MoRef, hosts: list[MoRef]
) -> dict[str, Any]:
    ident = reg.uuid().replace("-", "")[:24]
    url = f"ds:///vmfs/volumes/{ident}/"
    summary = d.DatastoreSummary(
        datastore=ref,
        name=name,
        url=url,
        capacity=DATASTORE_CAPACITY,
        freeSpace=DATASTORE_CAPACITY,
        accessible=True,
        multipleHostAccess=len(hosts) > 1,
        type="OTHER",
        maintenanceMode="normal",
    )
    info = d.LocalDatastoreInfo(
        name=name,
        url=url,
        freeSpace=DATASTORE_CAPACITY,
        maxFileSize=DATASTORE_CAPACITY,
        maxMemoryFileSize=DATASTORE_CAPACITY,
        path=f"/vmfs/volumes/{ident}",
        timestamp=datetime.now(UTC),
    )
    capability = d.DatastoreCapability(
        directoryHierarchySupported=True,
        rawDiskMappingsSupported=False,
        perFileThinProvisioningSupported=True,
        storageIORMSupported=False,
        nativeSnapshotSupported=False,
    )
    mount = d.HostMountInfo(
        path=f"/vmfs/volumes/{ident}", accessMode="readWrite", mounted=True, accessible=True
    )
    return entity(name, parent) | {
        "summary": sparse(summary),
        "info": sparse(info),
        "capability": sparse(capability),
        "host": [d.DatastoreHostMount(key=h, mountInfo=mount) for h in hosts] or None,
    }


def network(ref: MoRef, name: str, parent: MoRef) -> dict[str, Any]:
    summary = d.NetworkSummary(network=ref, name=name, accessible=True, ipPoolName="")
    return entity(name, parent) | {"summary": sparse(summary)}


def dvs(name: str, parent: MoRef, uuid: str) -> dict[str, Any]:
    summary = d.DVSSummary(name=name, uuid=uuid, numPorts=0)
    return entity(name, parent) | {"uuid": uuid, "summary": sparse(summary)}


def portgroup(ref: MoRef, name: str, parent: MoRef, switch: MoRef, ports: int) -> dict[str, Any]:
    policy = d.DVPortgroupPolicy(
        blockOverrideAllowed=True,
        shapingOverrideAllowed=False,
        vendorConfigOverrideAllowed=False,
        livePortMovingAllowed=False,
        portConfigResetAtDisconnect=True,
    )
    config = d.DVPortgroupConfigInfo(
        key=ref.value,
        name=name,
        numPorts=ports,
        distributedVirtualSwitch=switch,
        type="earlyBinding",
        policy=policy,
        autoExpand=True,
    )
    summary = d.NetworkSummary(network=ref, name=name, accessible=True, ipPoolName="")
    return entity(name, parent) | {
        "key": ref.value,
        "config": sparse(config),
        "summary": sparse(summary),
    }
