"""ClusterComputeResource: Folder.CreateClusterEx and the Destroy_Task of compute resources.

A new cluster has no hosts, its root resource pool ``Resources`` and an environment browser;
its ``configurationEx`` is built from the ``ClusterConfigSpecEx`` (DRS, HA and DPM off
unless the spec turns them on, as vCenter creates clusters). Destroying a compute resource
removes its pools and hosts from the inventory (their VMs are unregistered); vCenter only
lets a host go when it is in maintenance mode or disconnected (``InvalidState``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.enums import DrsBehavior
from spherekit.sim import entities as ent
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.inventory import descendants
from spherekit.sim.managed_entity import (
    ancestor,
    check_unique,
    destroyer,
    entity_name,
    event_argument,
)
from spherekit.sim.values import clone, sparse

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["create_cluster"]

#: ClusterConfigSpecEx fields applied; others set are refused (NotSupported)
_APPLIED = frozenset({"vmSwapPlacement", "drsConfig", "dasConfig", "dpmConfig"})


def _merge(base: Any, given: Any) -> Any:
    if given is None:
        return base
    return clone(base, **{k: v for k, v in given.__dict__.items() if v is not None})


def create_cluster(ctx: Context, folder: MoRef, name: str, spec: Any) -> MoRef:
    reg = ctx.registry
    if "ComputeResource" not in (reg.prop(folder, "childType") or []):
        raise faults.not_supported(
            "A cluster can only be created in a folder whose childType contains ComputeResource."
        )
    for attr, xml, _t, _f, _v in spec._fields:
        value = getattr(spec, attr)
        skip = attr in _APPLIED or attr in ("dynamicType", "dynamicProperty")
        if not skip and value is not None and value != []:
            raise faults.not_supported(
                f"spec.{xml} is not implemented by spherekit.sim's CreateClusterEx"
            )
    name = entity_name(name)
    check_unique(reg, folder, name)
    cluster = reg.new_ref("ClusterComputeResource")
    pool = reg.new_ref("ResourcePool")
    env = reg.new_ref("EnvironmentBrowser")
    props = ent.cluster(name, folder, pool, env, 0)
    config = d.ClusterConfigInfoEx(
        vmSwapPlacement=spec.vmSwapPlacement or "vmDirectory",
        dasConfig=_merge(d.ClusterDasConfigInfo(enabled=False), spec.dasConfig),
        drsConfig=_merge(
            d.ClusterDrsConfigInfo(
                enabled=False, defaultVmBehavior=DrsBehavior.fullyAutomated, vmotionRate=3
            ),
            spec.drsConfig,
        ),
        dpmConfigInfo=_merge(d.ClusterDpmConfigInfo(enabled=False), spec.dpmConfig),
    )
    props["configurationEx"] = sparse(config)
    reg.add(env, {})
    reg.add(pool, ent.resource_pool(cluster, cluster))
    reg.add(cluster, props)
    reg.append(folder, "childEntity", cluster)
    dc = ancestor(reg, folder, "Datacenter")
    emit(
        ctx,
        "ClusterCreatedEvent",
        entity=cluster,
        message=f"Created cluster {name} in {reg.prop(dc, 'name') if dc else ''}",
        parent=event_argument(reg, folder, "FolderEventArgument", "folder"),
    )
    return cluster


@destroyer("ComputeResource")
def _destroy_compute(ctx: Context, compute: MoRef, chain: int) -> None:
    from spherekit.sim.vm_remove import remove_vm

    reg = ctx.registry
    hosts = list(reg.prop(compute, "host") or [])
    for h in hosts:
        runtime = reg.prop(h, "runtime")
        if not runtime.inMaintenanceMode and runtime.connectionState == "connected":
            raise faults.invalid_state(
                f"The host {reg.prop(h, 'name')} must be in maintenance mode or disconnected "
                "before it can be removed."
            )
    dc = ancestor(reg, compute, "Datacenter")
    if compute.type == "ClusterComputeResource":
        emit(
            ctx,
            "ClusterDestroyedEvent",
            entity=compute,
            chain_id=chain,
            message=f"Removed cluster {reg.prop(compute, 'name')} in datacenter "
            f"{reg.prop(dc, 'name') if dc else ''}",
        )
    inside = list(descendants(reg, compute, recursive=True))
    for ref in inside:
        if ref.type == "VirtualMachine" and ref in reg:
            remove_vm(ctx, ref, chain=chain, delete_files=False)
    for h in hosts:
        _unlink_host(ctx, h)
    for ref in inside:
        if ref in reg and ref.type != "VirtualMachine":
            reg.remove(ref)
    env = reg.prop(compute, "environmentBrowser")
    if env is not None:
        reg.remove(env)
    parent = reg.prop(compute, "parent")
    if parent is not None and parent in reg:
        reg.discard(parent, "childEntity", compute)
    reg.remove(compute)


def _unlink_host(ctx: Context, host: MoRef) -> None:
    """Drop a leaving host from its datastores' and networks' host lists."""
    reg = ctx.registry
    for ds in reg.prop(host, "datastore") or []:
        if ds in reg:
            mounts = [m for m in reg.prop(ds, "host") or [] if m.key != host]
            reg.update(ds, {"host": mounts or None})
    for net in reg.prop(host, "network") or []:
        if net in reg:
            reg.discard(net, "host", host)
