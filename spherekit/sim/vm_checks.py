"""VirtualMachineProvisioningChecker and VirtualMachineCompatibilityChecker: may a VM go
to a host, a pool, a datastore?

Compatibility model (:func:`check`): every simulated host has the same CPU and memory, so
those always agree; what can fail is where the host is and what it sees. A disconnected
host (``HostNotConnected``) or one in maintenance mode (``InvalidHostState``), a host in
another datacenter while the VM is powered on (``DatacenterMismatch``), a pool outside the
host's compute resource (``InvalidArgument``), a datastore of the VM the host does not
mount (``CannotAccessVmDisk``) and a network the host does not see (``CannotAccessNetwork``:
an error for a powered-on VM, a warning otherwise). MigrateVM_Task and RelocateVM_Task
(:mod:`spherekit.sim.vm_migrate`) fail with the first error; CheckMigrate_Task,
CheckRelocate_Task, QueryVMotionCompatibilityEx_Task and CheckCompatibility_Task report
them all as ``CheckResult`` entries (the task's entity is the VM checked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.managed_entity import ancestor
from spherekit.sim.methods import handler
from spherekit.sim.vm_device_info import file_name, networks_of
from spherekit.sim.vm_power import start_task

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["check", "default_host", "visible"]


def _lmf(fault: Any) -> d.LocalizedMethodFault:
    return d.LocalizedMethodFault(fault=fault, localizedMessage=fault.msg or None)


def _fault(cls: Any, msg: str, **fields: Any) -> Any:
    return faults.with_msg(cls(**fields), msg)


def check(
    ctx: Context,
    vm: MoRef,
    host: MoRef | None,
    pool: MoRef | None,
    datastore: MoRef | None = None,
) -> tuple[list[Any], list[Any]]:
    """(errors, warnings) of moving ``vm`` to ``host`` / ``pool`` (and ``datastore``)."""
    reg = ctx.registry
    props = reg.props(vm)
    on = props["runtime"].powerState == "poweredOn"
    errors: list[Any] = []
    warnings: list[Any] = []
    vm_dc = ancestor(reg, vm, "Datacenter")
    if pool is not None and host is not None:
        compute = ancestor(reg, pool, "ComputeResource")
        if compute is None or host not in (reg.prop(compute, "host") or []):
            errors.append(faults.invalid_argument("pool", "not a pool of the host's cluster"))
    if host is None:
        return errors, warnings
    runtime = reg.prop(host, "runtime")
    name = reg.prop(host, "name")
    if runtime.connectionState != "connected":
        errors.append(_fault(d.HostNotConnected, f"Host {name} is not connected."))
    elif runtime.inMaintenanceMode:
        errors.append(
            _fault(
                d.InvalidHostState,
                f"The operation is not allowed in the current state of the host {name}.",
                host=host,
            )
        )
    host_dc = ancestor(reg, host, "Datacenter")
    if on and host_dc != vm_dc and vm_dc is not None:
        arg = d.DatacenterMismatchArgument(entity=host, inputDatacenter=host_dc)
        errors.append(
            _fault(
                d.DatacenterMismatch,
                "The input arguments had entities that did not belong to the same datacenter.",
                invalidArgument=[arg],
                expectedDatacenter=vm_dc,
            )
        )
    mounted = set(reg.prop(host, "datastore") or [])
    seen = set(reg.prop(host, "network") or [])
    for dev in props["config"].hardware.device or []:
        label = dev.deviceInfo.label if dev.deviceInfo is not None else str(dev.key)
        if isinstance(dev, d.VirtualDisk) and dev.backing is not None:
            ds = datastore or getattr(dev.backing, "datastore", None)
            if ds is not None and ds not in mounted:
                inner = faults.invalid_datastore_path(file_name(dev))
                errors.append(
                    _fault(
                        d.CannotAccessVmDisk,
                        f"Virtual disk '{label}' is not accessible on the host: {file_name(dev)}",
                        device=label,
                        backing=file_name(dev),
                        connected=True,
                        fault=_lmf(inner),
                    )
                )
        elif isinstance(dev, d.VirtualEthernetCard):
            for net in networks_of([dev]):
                if net in reg and net not in seen:
                    net_name = reg.prop(net, "name")
                    fault = _fault(
                        d.CannotAccessNetwork,
                        f"Network '{net_name}' of {label} is not accessible on host {name}.",
                        device=label,
                        backing=net_name,
                        connected=bool(getattr(dev.connectable, "connected", False)),
                        network=net,
                    )
                    (errors if on else warnings).append(fault)
    return errors, warnings


def _result(
    ctx: Context, vm: MoRef, host: MoRef | None, errors: list[Any], warnings: list[Any]
) -> Any:
    return d.CheckResult(
        vm=vm,
        host=host,
        warning=[_lmf(x) for x in warnings] or None,
        error=[_lmf(x) for x in errors] or None,
    )


def default_host(ctx: Context, vm: MoRef, pool: MoRef | None) -> MoRef | None:
    """The VM's host if it belongs to ``pool``'s compute resource, else its first host."""
    reg = ctx.registry
    if pool is None:
        return None
    compute = ancestor(reg, pool, "ComputeResource")
    hosts = list(reg.prop(compute, "host") or []) if compute is not None else []
    current = reg.props(vm)["runtime"].host
    return current if current in hosts else (hosts[0] if hosts else None)


def visible(ctx: Context, *refs: MoRef | None) -> None:
    for ref in refs:
        if ref is not None and not ctx.visible(ref):
            raise faults.not_found(ref)


# -- checks -----------------------------------------------------------------------------------


@handler("VirtualMachineProvisioningChecker", "CheckMigrate_Task")
def check_migrate(
    ctx: Context,
    this: MoRef,
    *,
    vm: MoRef,
    host: MoRef | None = None,
    pool: MoRef | None = None,
    state: str | None = None,
    testType: list[str] | None = None,
) -> MoRef:
    visible(ctx, vm, host, pool)

    def work(chain: int) -> list[Any]:
        errors, warnings = check(ctx, vm, host or default_host(ctx, vm, pool), pool)
        current = ctx.registry.props(vm)["runtime"].powerState
        if state is not None and state != current:
            errors.insert(0, faults.invalid_power_state(state, current))
        return [_result(ctx, vm, host, errors, warnings)]

    return start_task(
        ctx, vm, "CheckMigrate_Task", "VirtualMachineProvisioningChecker.checkMigrate", work
    )


@handler("VirtualMachineProvisioningChecker", "CheckRelocate_Task")
def check_relocate(
    ctx: Context,
    this: MoRef,
    *,
    vm: MoRef,
    spec: d.VirtualMachineRelocateSpec,
    testType: list[str] | None = None,
) -> MoRef:
    visible(ctx, vm, spec.host, spec.pool, spec.datastore)

    def work(chain: int) -> list[Any]:
        host = spec.host or default_host(ctx, vm, spec.pool)
        errors, warnings = check(ctx, vm, host, spec.pool, spec.datastore)
        return [_result(ctx, vm, host, errors, warnings)]

    desc = "VirtualMachineProvisioningChecker.checkRelocate"
    return start_task(ctx, vm, "CheckRelocate_Task", desc, work)


@handler("VirtualMachineProvisioningChecker", "QueryVMotionCompatibilityEx_Task")
def query_vmotion_compatibility_ex(
    ctx: Context, this: MoRef, *, vm: list[MoRef], host: list[MoRef]
) -> MoRef:
    visible(ctx, *vm, *host)

    def work(chain: int) -> list[Any]:
        out = []
        for v in vm:
            for h in host:
                errors, warnings = check(ctx, v, h, None)
                out.append(_result(ctx, v, h, errors, warnings))
        return out

    desc = "VirtualMachineProvisioningChecker.queryVMotionCompatibilityEx"
    return start_task(ctx, vm[0] if vm else this, "QueryVMotionCompatibilityEx_Task", desc, work)


@handler("VirtualMachineCompatibilityChecker", "CheckCompatibility_Task")
def check_compatibility(
    ctx: Context,
    this: MoRef,
    *,
    vm: MoRef,
    host: MoRef | None = None,
    pool: MoRef | None = None,
    testType: list[str] | None = None,
) -> MoRef:
    visible(ctx, vm, host, pool)

    def work(chain: int) -> list[Any]:
        errors, warnings = check(ctx, vm, host or default_host(ctx, vm, pool), pool)
        return [_result(ctx, vm, host, errors, warnings)]

    desc = "VirtualMachineCompatibilityChecker.checkCompatibility"
    return start_task(ctx, vm, "CheckCompatibility_Task", desc, work)
