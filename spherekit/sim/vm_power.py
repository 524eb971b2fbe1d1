"""VirtualMachine power: on, off, reset, suspend, guest shutdown / reboot / standby, questions.

The power state lives in ``runtime.powerState`` and, as in vCenter, is mirrored in
``summary.runtime``; both change together in one registry update, and the guest model
hears of every change (``guests.powered``). Each operation posts vCenter's events with
vCenter's messages (``VmStartingEvent`` then ``VmPoweredOnEvent``, ...), chained to the
task that caused them.

The guest operations (``ShutdownGuest``, ``RebootGuest``, ``StandbyGuest``) are not tasks:
vCenter asks VMware Tools and returns at once (``ToolsUnavailable`` when tools are not
running); the guest then completes the request a little later, as a real guest OS does.

A VM *question* (``runtime.question``) is raised through :func:`ask` (or
:func:`ask_moved_or_copied`, vCenter's "moved or copied" question after a VM's files were
copied) and answered with ``AnswerVM``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.events import emit
from spherekit.sim.methods import handler
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = [
    "GUEST_DELAY",
    "ask",
    "ask_moved_or_copied",
    "change_power",
    "set_power_state",
    "start_task",
    "vm_event",
]

#: seconds between a guest shutdown / reboot / standby request and the guest acting on it
GUEST_DELAY = 0.1

ON, OFF, SUSPENDED = "poweredOn", "poweredOff", "suspended"


# -- helpers shared by the VM modules ----------------------------------------------------------


def _name(ctx: Context, ref: MoRef | None) -> str:
    if ref is None or ref not in ctx.registry:
        return ""
    return str(ctx.registry.prop(ref, "name") or ref.value)


def datacenter_of(ctx: Context, ref: MoRef) -> MoRef | None:
    reg = ctx.registry
    cur: MoRef | None = ref
    while cur is not None and cur in reg:
        if cur.type == "Datacenter":
            return cur
        cur = reg.prop(cur, "parent")
    return None


def vm_event(
    ctx: Context, event_type: str, vm: MoRef, text: str, chain_id: int | None = None, **fields: Any
) -> None:
    """Post a VmEvent about ``vm``; ``text`` may use ``{vm}``, ``{host}`` and ``{dc}``."""
    reg = ctx.registry
    props = reg.props(vm)
    host = props["runtime"].host
    config = props.get("config")
    message = text.format(
        vm=props.get("name", vm.value),
        host=_name(ctx, host),
        dc=_name(ctx, datacenter_of(ctx, vm)),
    )
    template = bool(config.template) if config is not None else False
    emit(
        ctx, event_type, entity=vm, message=message, chain_id=chain_id, template=template, **fields
    )


def start_task(
    ctx: Context, entity: MoRef, method: str, description_id: str, work: Callable[[int], Any]
) -> MoRef:
    """Start a task whose work gets the task's event chain id (for the events it posts)."""
    holder: list[MoRef] = []

    def run() -> Any:
        info = ctx.registry.prop(holder[0], "info")
        return work(int(info.eventChainId))

    # handlers hold the registry lock, so the task cannot run before ``holder`` is filled
    with ctx.registry.lock:
        holder.append(ctx.backend.tasks.start(ctx, entity, method, description_id, run))
    return holder[0]


def _require_vm(ctx: Context, vm: MoRef) -> Any:
    if vm not in ctx.registry:
        raise faults.not_found(vm)
    return ctx.registry.props(vm)


# -- power state -----------------------------------------------------------------------------


def set_power_state(ctx: Context, vm: MoRef, state: str, *, guest_follows: bool = True) -> None:
    """Move ``vm`` to ``state`` (no events); InvalidPowerState if it is already there.
    Without ``guest_follows`` the caller tells the guest (``guests.powered``) itself."""
    reg = ctx.registry
    props = _require_vm(ctx, vm)
    runtime = props["runtime"]
    if runtime.powerState == state:
        raise faults.invalid_power_state(state, runtime.powerState)
    on = state == ON
    now = datetime.now(UTC)
    runtime = clone(
        runtime,
        powerState=state,
        bootTime=now if on else None,
        suspendTime=now if state == SUSPENDED else None,
    )
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
    if guest_follows:
        ctx.backend.guests.powered(ctx, vm, on)


def change_power(ctx: Context, vm: MoRef, state: str, chain_id: int | None = None) -> None:
    """Power ``vm`` on, off or suspend it as vCenter does: checks, state, events."""
    props = _require_vm(ctx, vm)
    current = props["runtime"].powerState
    if state == ON:
        if props["config"].template:
            raise faults.not_supported()
        if current == ON:
            raise faults.invalid_power_state(ON, current)
        resuming = current == SUSPENDED
        first = "VmResumingEvent" if resuming else "VmStartingEvent"
        text = (
            "{vm} on {host} in {dc} is resumed"
            if resuming
            else ("{vm} on host {host} in {dc} is starting")
        )
        vm_event(ctx, first, vm, text, chain_id)
        set_power_state(ctx, vm, ON, guest_follows=False)
        vm_event(ctx, "VmPoweredOnEvent", vm, "{vm} on {host} in {dc} is powered on", chain_id)
        ctx.backend.guests.powered(ctx, vm, True)  # the guest boots (and customizes) after
    elif state == OFF:
        if current == OFF:
            raise faults.invalid_power_state(OFF, current)
        vm_event(ctx, "VmStoppingEvent", vm, "{vm} on host {host} in {dc} is stopping", chain_id)
        set_power_state(ctx, vm, OFF)
        vm_event(ctx, "VmPoweredOffEvent", vm, "{vm} on {host} in {dc} is powered off", chain_id)
    elif state == SUSPENDED:
        if current != ON:
            raise faults.invalid_power_state(SUSPENDED, current)
        vm_event(
            ctx, "VmSuspendingEvent", vm, "{vm} on {host} in {dc} is being suspended", chain_id
        )
        set_power_state(ctx, vm, SUSPENDED)
        vm_event(ctx, "VmSuspendedEvent", vm, "{vm} on {host} in {dc} is suspended", chain_id)
    else:
        raise ValueError(f"not a power state: {state!r}")


def reset(ctx: Context, vm: MoRef, chain_id: int | None = None) -> None:
    """A hard reset: the VM stays on, boots again (new ``bootTime``), the guest restarts."""
    props = _require_vm(ctx, vm)
    current = props["runtime"].powerState
    if current != ON:
        raise faults.invalid_power_state(ON, current)
    vm_event(ctx, "VmResettingEvent", vm, "{vm} on {host} in {dc} is reset", chain_id)
    ctx.backend.guests.powered(ctx, vm, False)
    runtime = clone(props["runtime"], bootTime=datetime.now(UTC))
    ctx.registry.update(vm, {"runtime": runtime, "summary.runtime": runtime})
    ctx.backend.guests.powered(ctx, vm, True)


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
    return start_task(
        ctx,
        this,
        "PowerOnVM_Task",
        "VirtualMachine.powerOn",
        lambda chain: change_power(ctx, this, ON, chain),
    )


@handler("VirtualMachine", "PowerOffVM_Task")
def power_off(ctx: Context, this: MoRef) -> MoRef:
    return start_task(
        ctx,
        this,
        "PowerOffVM_Task",
        "VirtualMachine.powerOff",
        lambda chain: change_power(ctx, this, OFF, chain),
    )


@handler("VirtualMachine", "SuspendVM_Task")
def suspend(ctx: Context, this: MoRef) -> MoRef:
    return start_task(
        ctx,
        this,
        "SuspendVM_Task",
        "VirtualMachine.suspend",
        lambda chain: change_power(ctx, this, SUSPENDED, chain),
    )


@handler("VirtualMachine", "ResetVM_Task")
def reset_vm(ctx: Context, this: MoRef) -> MoRef:
    return start_task(
        ctx, this, "ResetVM_Task", "VirtualMachine.reset", lambda chain: reset(ctx, this, chain)
    )


# -- guest operations (through VMware Tools) ------------------------------------------------


def _tools_check(ctx: Context, vm: MoRef) -> None:
    props = ctx.registry.props(vm)
    current = props["runtime"].powerState
    if current != ON:
        raise faults.invalid_power_state(ON, current)
    guest = props.get("guest")
    if guest is None or guest.toolsRunningStatus != "guestToolsRunning":
        raise faults.tools_unavailable()


def _later(ctx: Context, vm: MoRef, act: Callable[[], None]) -> None:
    """Run ``act`` under the registry lock after GUEST_DELAY, if the VM is still on."""
    backend = ctx.backend

    def fire() -> None:
        with backend.registry.lock:
            if backend.closing or vm not in backend.registry:
                return
            if backend.registry.props(vm)["runtime"].powerState != ON:
                return
            act()

    timer = threading.Timer(GUEST_DELAY, fire)
    timer.daemon = True
    timer.start()


@handler("VirtualMachine", "ShutdownGuest")
def shutdown_guest(ctx: Context, this: MoRef) -> None:
    _tools_check(ctx, this)
    vm_event(ctx, "VmGuestShutdownEvent", this, "Guest OS shut down for {vm} on {host} in {dc}")

    def off() -> None:
        set_power_state(ctx, this, OFF)
        vm_event(ctx, "VmPoweredOffEvent", this, "{vm} on {host} in {dc} is powered off")

    _later(ctx, this, off)


@handler("VirtualMachine", "RebootGuest")
def reboot_guest(ctx: Context, this: MoRef) -> None:
    _tools_check(ctx, this)
    vm_event(ctx, "VmGuestRebootEvent", this, "Guest OS reboot for {vm} on {host} in {dc}")

    def reboot() -> None:  # the guest restarts; the VM itself stays powered on
        ctx.backend.guests.powered(ctx, this, False)
        ctx.backend.guests.powered(ctx, this, True)

    _later(ctx, this, reboot)


@handler("VirtualMachine", "StandbyGuest")
def standby_guest(ctx: Context, this: MoRef) -> None:
    _tools_check(ctx, this)
    vm_event(ctx, "VmGuestStandbyEvent", this, "Guest OS standby for {vm} on {host} in {dc}")
    ops = ctx.registry.props(this)["config"].defaultPowerOps
    if ops is not None and ops.standbyAction == "powerOnSuspend":
        return  # the guest sleeps inside a running VM

    def sleep() -> None:  # standbyAction "checkpoint": the VM is suspended
        set_power_state(ctx, this, SUSPENDED)
        vm_event(ctx, "VmSuspendedEvent", this, "{vm} on {host} in {dc} is suspended")

    _later(ctx, this, sleep)


# -- questions --------------------------------------------------------------------------------


@dataclass
class _Pending:
    id: str
    on_answer: Callable[[Context, str], None] | None


_QUESTIONS: weakref.WeakKeyDictionary[Backend, dict[MoRef, _Pending]] = weakref.WeakKeyDictionary()
_COUNTER: weakref.WeakKeyDictionary[Backend, list[int]] = weakref.WeakKeyDictionary()

UUID_ALTERED = (
    "This virtual machine might have been moved or copied.\n"
    "In order to configure certain management and networking features, VMware ESX needs "
    "to know if this virtual machine was moved or copied.\n\n"
    'If you don\'t know, answer "I Copied It".\n'
)


def ask(
    ctx: Context,
    vm: MoRef,
    text: str,
    choices: list[tuple[str, str]],
    default: int = 0,
    *,
    message_id: str | None = None,
    on_answer: Callable[[Context, str], None] | None = None,
) -> str:
    """Raise a question on ``vm`` (``runtime.question``); return its id (``_vmx1``, ...).

    ``choices`` are (key, label) pairs; ``on_answer(ctx, key)`` runs when AnswerVM picks one.
    """
    from spherekit.schema.vim25.data import (
        ChoiceOption,
        ElementDescription,
        VirtualMachineMessage,
        VirtualMachineQuestionInfo,
    )

    backend = ctx.backend
    with ctx.registry.lock:
        props = _require_vm(ctx, vm)
        counter = _COUNTER.setdefault(backend, [0])
        counter[0] += 1
        qid = f"_vmx{counter[0]}"
        info = VirtualMachineQuestionInfo(
            id=qid,
            text=f"{message_id}:{text}" if message_id else text,
            choice=ChoiceOption(
                choiceInfo=[
                    ElementDescription(key=k, label=label, summary=label.replace("_", ""))
                    for k, label in choices
                ],
                defaultIndex=default,
            ),
            message=[VirtualMachineMessage(id=message_id, text=text)] if message_id else None,
        )
        runtime = clone(props["runtime"], question=info)
        ctx.registry.update(vm, {"runtime": runtime, "summary.runtime": runtime})
        _QUESTIONS.setdefault(backend, {})[vm] = _Pending(qid, on_answer)
        return qid


def ask_moved_or_copied(ctx: Context, vm: MoRef) -> str:
    """vCenter's ``msg.uuid.altered`` question; "I Copied It" gives the VM a new BIOS UUID
    and new generated MAC addresses, "I Moved It" keeps them."""

    def answered(actx: Context, key: str) -> None:
        if key != "2":
            return
        from spherekit.sim.vm_reconfig import new_identity

        new_identity(actx, vm)

    choices = [("0", "Cancel"), ("1", "I _Moved It"), ("2", "I _Copied It")]
    return ask(ctx, vm, UUID_ALTERED, choices, 2, message_id="msg.uuid.altered", on_answer=answered)


def context_for(backend: Backend, vm: MoRef) -> Context:
    """A context for simulator-internal actions on ``vm`` (no caller session)."""
    from spherekit.sim.backend import Context

    return Context(backend, None, vm, "")


@handler("VirtualMachine", "AnswerVM")
def answer_vm(ctx: Context, this: MoRef, *, questionId: str, answerChoice: str) -> None:
    runtime = ctx.registry.props(this)["runtime"]
    question = runtime.question
    pending = _QUESTIONS.get(ctx.backend, {}).get(this)
    if question is None or question.id != questionId:
        raise faults.invalid_argument("questionId")
    keys = [c.key for c in question.choice.choiceInfo]
    if answerChoice not in keys:
        raise faults.invalid_argument("answerChoice")
    runtime = clone(runtime, question=None)
    ctx.registry.update(this, {"runtime": runtime, "summary.runtime": runtime})
    _QUESTIONS.get(ctx.backend, {}).pop(this, None)
    if pending is not None and pending.on_answer is not None:
        pending.on_answer(ctx, answerChoice)
