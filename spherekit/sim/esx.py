"""A standalone ESXi endpoint (``Settings(esx=True)``, ``--esx``): what differs from vCenter.

- ``about``: ``apiType`` ``HostAgent``, ``productLineId`` ``embeddedEsx``, ``name``
  ``VMware ESXi`` (what hostd reports); the ServiceContent names only the managers ESXi
  has (no alarm, scheduled-task, extension, customization-spec or custom-fields manager;
  govmomi's ``simulator/esx/service_content.go`` is a capture of a real host's).
- The inventory is hostd's fixed one, with its morefs: the root folder ``ha-folder-root``
  holds the datacenter ``ha-datacenter`` with the folders ``ha-folder-vm``, ``-host``,
  ``-datastore`` and ``-network`` (each holds one kind of child); the host folder holds
  the ComputeResource ``ha-compute-res`` with the host ``ha-host``
  (``localhost.localdomain``) and its root pool ``ha-root-pool`` (``Resources``); the
  network folder holds ``VM Network`` (``HaNetwork-VM Network``); the datastores
  ``LocalDS_<n>`` are named by a VMFS UUID; the VMs are ``ha-host_VM<n>``, as in vcsim's
  ``simulator.ESX()``. Manager moref values stay vCenter's (other modules address the
  task and event managers and the property collector by them).
- vCenter-only calls fail as ESXi fails them: provisioning across hosts (CloneVM_Task,
  RelocateVM_Task, MigrateVM_Task, ...) and inventory structure (CreateDatacenter,
  CreateClusterEx, CreateFolder, ...) answer ``NotSupported``; ``SessionIsActive``
  answers ``NotImplemented`` (hostd does not implement it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import entities as ent
from spherekit.sim import faults
from spherekit.sim.registry import Registry
from spherekit.sim.vm_model import Placement
from spherekit.sim.vpx import VpxModel, _Builder, _machines

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["ESX_MANAGERS", "NOT_SUPPORTED", "build_esx", "esx_about", "refuse"]

#: ServiceContent fields an ESXi host fills in (of those the simulator has objects for)
ESX_MANAGERS = frozenset(
    {
        "propertyCollector",
        "viewManager",
        "setting",
        "userDirectory",
        "sessionManager",
        "authorizationManager",
        "serviceManager",
        "perfManager",
        "eventManager",
        "taskManager",
        "diagnosticManager",
        "licenseManager",
        "searchIndex",
        "fileManager",
        "virtualDiskManager",
        "ovfManager",
        "dvSwitchManager",
        "localizationManager",
        "storageResourceManager",
        "guestOperationsManager",
    }
)

#: calls that need vCenter: an ESXi host answers NotSupported
NOT_SUPPORTED = frozenset(
    {
        "CloneVM_Task",
        "InstantClone_Task",
        "RelocateVM_Task",
        "MigrateVM_Task",
        "CustomizeVM_Task",
        "CheckMigrate_Task",
        "CheckRelocate_Task",
        "PowerOnMultiVM_Task",
        "CreateDatacenter",
        "CreateClusterEx",
        "CreateCluster",
        "CreateFolder",
        "CreateStoragePod",
        "CreateDVS_Task",
        "AddStandaloneHost_Task",
        "MoveIntoFolder_Task",
        "UnregisterAndDestroy_Task",
    }
)

_BUILDS = {"8.0.2.0": ("8.0.2", "22380479"), "8.0.3.0": ("8.0.3", "24022510")}

HOST_NAME = "localhost.localdomain"


def esx_about(api_version: str) -> d.AboutInfo:
    version, build = _BUILDS.get(api_version, (api_version, "1"))
    return d.AboutInfo(
        name="VMware ESXi",
        fullName=f"VMware ESXi {version} build-{build}",
        vendor="VMware, Inc.",
        version=version,
        build=build,
        localeVersion="INTL",
        localeBuild="000",
        osType="vmnix-x86",
        productLineId="embeddedEsx",
        apiType="HostAgent",
        apiVersion=api_version,
        licenseProductName="VMware ESX Server",
        licenseProductVersion=version.split(".")[0] + ".0",
    )


def _vmfs_uuid(reg: Registry) -> str:
    h = reg.uuid().replace("-", "")
    return f"{h[:8]}-{h[8:16]}-{h[16:20]}-{h[20:32]}"


def build_esx(reg: Registry, model: VpxModel) -> MoRef:
    """Populate ``reg`` with an ESXi host's inventory (``model.vms`` VMs and
    ``model.datastores`` datastores apply); return the root folder."""
    b = _Builder(reg, model)
    root = MoRef("Folder", "ha-folder-root")
    reg.add(root, ent.folder("ha-folder-root", None, ["Datacenter"]))
    dc = MoRef("Datacenter", "ha-datacenter")
    kinds = {
        "vmFolder": ("vm", "VirtualMachine"),
        "hostFolder": ("host", "ComputeResource"),
        "datastoreFolder": ("datastore", "Datastore"),
        "networkFolder": ("network", "Network"),
    }
    folders = {f: MoRef("Folder", f"ha-folder-{name}") for f, (name, _k) in kinds.items()}
    b.add(dc, ent.datacenter("ha-datacenter", root, folders), root)
    for f, (name, kind) in kinds.items():
        b.add(folders[f], ent.folder(name, dc, [kind]))
    net = MoRef("Network", "HaNetwork-VM Network")
    b.add(net, ent.network(net, "VM Network", folders["networkFolder"]), folders["networkFolder"])
    b.link(dc, "network", net)
    cr = MoRef("ComputeResource", "ha-compute-res")
    pool = MoRef("ResourcePool", "ha-root-pool")
    env = MoRef("EnvironmentBrowser", "ha-env-browser")
    host = MoRef("HostSystem", "ha-host")
    host_folder = folders["hostFolder"]
    b.add(cr, ent.compute_resource(HOST_NAME, host_folder, pool, env, 1), host_folder)
    b.add(pool, ent.resource_pool(cr, cr))
    b.add(env, {})
    b.add(host, ent.host(reg, host, HOST_NAME, cr))
    b.link(cr, "host", host)
    b.link(cr, "network", net)
    b.link(host, "network", net)
    b.link(net, "host", host)
    stores: list[tuple[MoRef, str]] = []
    ds_folder = folders["datastoreFolder"]
    for i in range(model.datastores):
        ds = MoRef("Datastore", _vmfs_uuid(reg))
        name = f"LocalDS_{i}"
        b.add(ds, ent.datastore(reg, ds, name, ds_folder, [host]), ds_folder)
        b.link(dc, "datastore", ds)
        b.link(host, "datastore", ds)
        b.link(cr, "datastore", ds)
        stores.append((ds, name))
    if stores:
        ds, ds_name = stores[0]
        where = Placement(
            folder=folders["vmFolder"],
            host=host,
            pool=pool,
            datastore=ds,
            datastore_name=ds_name,
            network=net,
            network_name="VM Network",
            environment_browser=env,
        )
        _machines(b, [(host.value, where, [host])])
    b.flush()
    return root


def refuse(ctx: Context, method: str) -> None:
    """On an ESXi endpoint, fail a call that needs vCenter as ESXi does."""
    if not ctx.backend.settings.esx:
        return
    if method in NOT_SUPPORTED:
        raise faults.not_supported()
    if method == "SessionIsActive":
        raise faults.not_implemented()
