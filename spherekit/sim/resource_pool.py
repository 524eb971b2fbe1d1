"""ResourcePool and VirtualApp: CreateResourcePool, CreateVApp, UpdateConfig, Destroy_Task.

A child pool shares its parent's owner (the compute resource). Its ``config`` is the
``ResourceConfigSpec`` it was created with; vCenter insists on every allocation field
(reservation, expandable reservation, limit, shares) being given. Destroying a pool hands
its child pools and VMs to the parent pool; destroying a vApp destroys its VMs with it. A
vApp is also listed in its VM folder's ``childEntity``, as vCenter shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import entities as ent
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.managed_entity import (
    ancestor,
    check_unique,
    destroy,
    destroyer,
    entity_name,
    event_argument,
    is_kind,
)
from spherekit.sim.methods import handler
from spherekit.sim.values import clone, sparse

if TYPE_CHECKING:
    from spherekit.sim.backend import Context
    from spherekit.sim.registry import Registry

__all__ = ["pool_config"]


def _check_allocation(kind: str, alloc: Any, complete: bool) -> None:
    prop = f"spec.{kind}Allocation"
    if alloc is None:
        if complete:
            raise faults.invalid_argument(prop)
        return
    fields = (alloc.reservation, alloc.expandableReservation, alloc.limit, alloc.shares)
    if complete and any(f is None for f in fields):
        raise faults.invalid_argument(prop, "reservation, expandableReservation, limit and "
                                      "shares must all be set")  # fmt: skip
    if alloc.reservation is not None and alloc.reservation < 0:
        raise faults.invalid_argument(f"{prop}.reservation")
    if alloc.limit is not None and alloc.limit < -1:
        raise faults.invalid_argument(f"{prop}.limit")
    shares = alloc.shares
    if shares is not None and shares.level == "custom" and (shares.shares or 0) < 0:
        raise faults.invalid_argument(f"{prop}.shares")


def pool_config(ref: MoRef, spec: Any, base: Any = None) -> d.ResourceConfigSpec:
    """A pool's ``config``: ``spec``'s allocations over ``base``'s (vCenter's record of it)."""
    now = datetime.now(UTC)
    cpu, mem = spec.cpuAllocation, spec.memoryAllocation
    if base is not None:
        cpu = _merge(base.cpuAllocation, cpu)
        mem = _merge(base.memoryAllocation, mem)
    return sparse(
        d.ResourceConfigSpec(
            entity=ref,
            changeVersion=str(int(now.timestamp() * 1000)),
            lastModified=now,
            cpuAllocation=cpu,
            memoryAllocation=mem,
        )
    )


def _merge(base: Any, given: Any) -> Any:
    if given is None:
        return base
    return clone(base, **{k: v for k, v in given.__dict__.items() if v is not None})


def _event_args(reg: Registry, pool: MoRef) -> dict[str, Any]:
    owner = reg.prop(pool, "owner")
    return {
        "resourcePool": event_argument(reg, pool, "ResourcePoolEventArgument", "resourcePool"),
        "computeResource": event_argument(
            reg, owner, "ComputeResourceEventArgument", "computeResource"
        ),
    }


def _where(reg: Registry, pool: MoRef) -> tuple[str, str]:
    owner = reg.prop(pool, "owner")
    dc = ancestor(reg, pool, "Datacenter")
    return (
        reg.prop(owner, "name") if owner is not None else "",
        reg.prop(dc, "name") if dc is not None else "",
    )


def _new_pool(
    ctx: Context, this: MoRef, name: str, spec: Any, mtype: str
) -> tuple[MoRef, dict[str, Any]]:
    reg = ctx.registry
    name = entity_name(name)
    check_unique(reg, this, name)
    _check_allocation("cpu", spec.cpuAllocation, True)
    _check_allocation("memory", spec.memoryAllocation, True)
    ref = reg.new_ref(mtype)
    props = ent.resource_pool(this, reg.prop(this, "owner"), name)
    props["config"] = pool_config(ref, spec)
    return ref, props


@handler("ResourcePool", "CreateResourcePool")
def create_resource_pool(ctx: Context, this: MoRef, *, name: str, spec: Any) -> MoRef:
    reg = ctx.registry
    ref, props = _new_pool(ctx, this, name, spec, "ResourcePool")
    reg.add(ref, props)
    reg.append(this, "resourcePool", ref)
    compute, dc = _where(reg, ref)
    emit(
        ctx,
        "ResourcePoolCreatedEvent",
        entity=ref,
        message=f"Created resource pool {props['name']} in compute-resource {compute} in {dc}",
        parent=event_argument(reg, this, "ResourcePoolEventArgument", "resourcePool"),
        **_event_args(reg, ref),
    )
    return ref


def _vapp_config(reg: Registry, spec: Any) -> d.VAppConfigInfo:
    return sparse(
        d.VAppConfigInfo(
            product=[p.info for p in spec.product or [] if p.info is not None] or None,
            property=[p.info for p in spec.property or [] if p.info is not None] or None,
            ipAssignment=spec.ipAssignment or d.VAppIPAssignmentInfo(),
            eula=spec.eula,
            ovfSection=[s.info for s in spec.ovfSection or [] if s.info is not None] or None,
            ovfEnvironmentTransport=spec.ovfEnvironmentTransport,
            installBootRequired=bool(spec.installBootRequired),
            installBootStopDelay=spec.installBootStopDelay or 0,
            entityConfig=spec.entityConfig,
            annotation=spec.annotation or "",
            instanceUuid=spec.instanceUuid or reg.uuid(),
            managedBy=spec.managedBy,
        )
    )


@handler("ResourcePool", "CreateVApp")
def create_vapp(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    resSpec: Any,
    configSpec: Any,
    vmFolder: MoRef | None = None,
) -> MoRef:
    reg = ctx.registry
    dc = ancestor(reg, this, "Datacenter")
    if vmFolder is None:
        if this.type == "VirtualApp":
            vmFolder = reg.prop(this, "parentFolder")
        elif dc is not None:
            vmFolder = reg.prop(dc, "vmFolder")
    elif not ctx.visible(vmFolder):
        raise faults.not_found(vmFolder)
    if vmFolder is None or "VirtualApp" not in (reg.prop(vmFolder, "childType") or []):
        raise faults.invalid_argument("vmFolder")
    ref, props = _new_pool(ctx, this, name, resSpec, "VirtualApp")
    check_unique(reg, vmFolder, props["name"])
    props["parentFolder"] = vmFolder
    props["vAppConfig"] = _vapp_config(reg, configSpec)
    props["childLink"] = None
    reg.add(ref, {k: v for k, v in props.items() if v is not None})
    reg.append(this, "resourcePool", ref)
    reg.append(vmFolder, "childEntity", ref)
    return ref


@handler("ResourcePool", "UpdateConfig")
def update_config(
    ctx: Context, this: MoRef, *, name: str | None = None, config: Any = None
) -> None:
    reg = ctx.registry
    changes: dict[str, Any] = {}
    if name is not None:
        name = entity_name(name, this)
        parent = reg.prop(this, "parent")
        if is_kind(parent, "ResourcePool"):
            check_unique(reg, parent, name, exclude=this)
        changes["name"] = name
    if config is not None:
        _check_allocation("cpu", config.cpuAllocation, False)
        _check_allocation("memory", config.memoryAllocation, False)
        changes["config"] = pool_config(this, config, reg.prop(this, "config"))
    if not changes:
        return
    reg.update(this, changes)
    compute, dc = _where(reg, this)
    emit(
        ctx,
        "ResourcePoolReconfiguredEvent",
        entity=this,
        message=f"Updated configuration for {reg.prop(this, 'name')} in compute-resource "
        f"{compute} in {dc}",
        **_event_args(reg, this),
    )


@destroyer("ResourcePool")
def _destroy_pool(ctx: Context, pool: MoRef, chain: int) -> None:
    reg = ctx.registry
    parent = reg.prop(pool, "parent")
    if parent is None or not is_kind(parent, "ResourcePool"):
        raise faults.invalid_argument(None, "the root resource pool cannot be destroyed")
    compute, dc = _where(reg, pool)
    emit(
        ctx,
        "ResourcePoolDestroyedEvent",
        entity=pool,
        chain_id=chain,
        message=f"Removed resource pool {reg.prop(pool, 'name')} on {compute} in {dc}",
        **_event_args(reg, pool),
    )
    kids = list(reg.prop(pool, "resourcePool") or [])
    vms = list(reg.prop(pool, "vm") or [])
    for kid in kids:
        reg.update(kid, {"parent": parent})
    for vm in vms:
        reg.update(vm, {"resourcePool": parent})
    reg.discard(parent, "resourcePool", pool)
    current = reg.props(parent)
    reg.update(
        parent,
        {
            "resourcePool": [*(current.get("resourcePool") or []), *kids] or None,
            "vm": [*(current.get("vm") or []), *vms] or None,
        },
    )
    reg.remove(pool)


@destroyer("VirtualApp")
def _destroy_vapp(ctx: Context, vapp: MoRef, chain: int) -> None:
    reg = ctx.registry
    for vm in reg.prop(vapp, "vm") or []:
        state = reg.prop(vm, "runtime").powerState
        if state == "poweredOn":
            raise faults.invalid_power_state("poweredOff", state)
    for child in [*(reg.prop(vapp, "vm") or []), *(reg.prop(vapp, "resourcePool") or [])]:
        destroy(ctx, child, chain)
    parent = reg.prop(vapp, "parent")
    if parent is not None and parent in reg:
        reg.discard(parent, "resourcePool", vapp)
    folder = reg.prop(vapp, "parentFolder")
    if folder is not None and folder in reg:
        reg.discard(folder, "childEntity", vapp)
    reg.remove(vapp)
