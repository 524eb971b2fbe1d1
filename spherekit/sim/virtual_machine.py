"""VirtualMachine: power operations (as tasks).

The power state lives in ``runtime.powerState`` and, as in vCenter, is mirrored in
``summary.runtime``; both change together in one registry update.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.methods import handler
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["set_power_state"]


def set_power_state(ctx: Context, vm: MoRef, state: str) -> None:
    """Move ``vm`` to ``state``; InvalidPowerState if it is already there."""
    reg = ctx.registry
    if vm not in reg:
        raise faults.not_found(vm)
    props = reg.props(vm)
    runtime = props["runtime"]
    if runtime.powerState == state:
        raise faults.invalid_power_state(state, runtime.powerState)
    on = state == "poweredOn"
    runtime = clone(runtime, powerState=state, bootTime=datetime.now(UTC) if on else None)
    changes = {"runtime": runtime, "summary.runtime": runtime}
    guest = props.get("guest")
    if guest is not None:
        changes["guest"] = clone(
            guest,
            guestState="running"
            if on and guest.toolsRunningStatus == "guestToolsRunning"
            else "notRunning",
            ipAddress=guest.ipAddress if on else None,
        )
    reg.update(vm, changes)
    ctx.backend.guests.powered(ctx, vm, on)


def _host_check(ctx: Context, vm: MoRef, host: MoRef | None) -> None:
    if host is None:
        return
    if not ctx.visible(host):
        raise faults.not_found(host)
    if host != ctx.registry.props(vm)["runtime"].host:
        raise faults.not_supported("powering on on another host is not simulated yet")


@handler("VirtualMachine", "PowerOnVM_Task")
def power_on(ctx: Context, this: MoRef, *, host: MoRef | None = None) -> MoRef:
    _host_check(ctx, this, host)
    return ctx.backend.tasks.start(
        ctx,
        this,
        "PowerOnVM_Task",
        "VirtualMachine.powerOn",
        lambda: set_power_state(ctx, this, "poweredOn"),
    )


@handler("VirtualMachine", "PowerOffVM_Task")
def power_off(ctx: Context, this: MoRef) -> MoRef:
    return ctx.backend.tasks.start(
        ctx,
        this,
        "PowerOffVM_Task",
        "VirtualMachine.powerOff",
        lambda: set_power_state(ctx, this, "poweredOff"),
    )
