"""Power operations on existing VMs: on, off, guest shutdown, reboot, reset, suspend.

Each function reads the VM's power state (and whether VMware Tools run) in one call, then
makes at most the one write it needs through an :class:`~spherekit.compute.ops.Operation`
(journaled; ``plan=True`` lists the write without making it), and returns a
:class:`PowerResult` saying what happened.

Idempotence: asking for the state a VM is already in (``power_on`` of a running VM,
``power_off`` or ``shutdown_guest`` of a stopped one, ``suspend`` of a suspended one) is a
no-op: nothing is sent, nothing is journaled (the journal records calls made to the
server), and the result says ``changed=False``. Asking for something the state does not
allow (``reset`` or ``reboot`` of a VM that is off, ``suspend`` of one that is off, powering
a template) raises :class:`~spherekit.errors.UsageError` before anything is sent.

Guest operations fall back to hard ones, and say so in ``PowerResult.fallback``:
``shutdown_guest`` asks the guest OS to shut down (``ShutdownGuest``), waits push-based
for ``runtime.powerState`` to become ``poweredOff``, and powers the VM off
(``PowerOffVM_Task``) when the guest has not done so within ``timeout`` seconds, or at once
when VMware Tools are not running; ``reboot`` asks for ``RebootGuest`` and resets the VM
(``ResetVM_Task``) when tools are not running. ``fallback=False`` raises instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit.compute.endpoint import VmArg, read_one, vm_ref
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import UsageError, WaitTimeout
from spherekit.property import wait_for
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.compute.journal import Journal
    from spherekit.session import Session

__all__ = [
    "PowerResult",
    "power_off",
    "power_on",
    "power_state",
    "reboot",
    "reset",
    "shutdown_guest",
    "suspend",
]

ON, OFF, SUSPENDED = "poweredOn", "poweredOff", "suspended"
_PATHS = ["name", "runtime.powerState", "guest.toolsRunningStatus", "config.template"]


@dataclass(frozen=True)
class PowerResult:
    """What a power operation did."""

    vm: MoRef
    action: str
    #: the power state before, and after (for a plan: the one expected)
    before: str
    after: str
    #: False when the VM was already where it was asked to go (nothing was sent)
    changed: bool
    #: the methods called (or planned), in order
    methods: list[str] = field(default_factory=list)
    #: why a hard operation replaced the guest one (None when it did not)
    fallback: str | None = None
    planned: list[PlannedCall] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.action} {self.vm}: nothing to do, already {self.before}"
        text = f"{self.action} {self.vm}: {self.before} -> {self.after} ({', '.join(self.methods)})"
        return text + (f"; fallback: {self.fallback}" if self.fallback else "")


@dataclass
class _State:
    ref: MoRef
    name: str
    power: str
    tools: bool
    template: bool


def _state(session: Session, vm: VmArg) -> _State:
    ref = vm_ref(vm)
    v = read_one(session, ref, _PATHS)
    return _State(
        ref,
        str(v.get("name", ref.value)),
        str(v.get("runtime.powerState", OFF)),
        v.get("guest.toolsRunningStatus") == "guestToolsRunning",
        bool(v.get("config.template")),
    )


def _no_template(st: _State, action: str) -> None:
    if st.template:
        raise UsageError(
            f"cannot {action} {st.name} ({st.ref}): it is a template; "
            "mark it as a virtual machine first"
        )


def _done(st: _State, action: str) -> PowerResult:
    return PowerResult(st.ref, action, st.power, st.power, changed=False)


def _simple(
    session: Session,
    vm: VmArg,
    journal: Journal,
    action: str,
    method: str,
    *,
    allowed: tuple[str, ...],
    noop: tuple[str, ...],
    after: str,
    plan: bool,
) -> PowerResult:
    st = _state(session, vm)
    _no_template(st, action)
    if st.power in noop:
        return _done(st, action)
    if st.power not in allowed:
        raise UsageError(
            f"cannot {action} {st.name} ({st.ref}): it is {st.power} "
            f"(allowed when {' or '.join(allowed)})"
        )
    with Operation(session, journal, f"{action} {st.name}", plan=plan) as op:
        op.write(st.ref, method)
    return PowerResult(st.ref, action, st.power, after, True, [method], planned=op.planned)


def power_on(session: Session, vm: VmArg, journal: Journal, *, plan: bool = False) -> PowerResult:
    """Power the VM on (or resume it when suspended); a no-op when it is on."""
    return _simple(session, vm, journal, "power on", "PowerOnVM_Task",
                   allowed=(OFF, SUSPENDED), noop=(ON,), after=ON, plan=plan)  # fmt: skip


def power_off(session: Session, vm: VmArg, journal: Journal, *, plan: bool = False) -> PowerResult:
    """Power the VM off (hard); a no-op when it is off."""
    return _simple(session, vm, journal, "power off", "PowerOffVM_Task",
                   allowed=(ON, SUSPENDED), noop=(OFF,), after=OFF, plan=plan)  # fmt: skip


def reset(session: Session, vm: VmArg, journal: Journal, *, plan: bool = False) -> PowerResult:
    """Reset the VM (hard); it must be powered on."""
    return _simple(session, vm, journal, "reset", "ResetVM_Task",
                   allowed=(ON,), noop=(), after=ON, plan=plan)  # fmt: skip


def suspend(session: Session, vm: VmArg, journal: Journal, *, plan: bool = False) -> PowerResult:
    """Suspend the VM; a no-op when it is suspended; it must not be off."""
    return _simple(session, vm, journal, "suspend", "SuspendVM_Task",
                   allowed=(ON,), noop=(SUSPENDED,), after=SUSPENDED, plan=plan)  # fmt: skip


def _is_tools_unavailable(e: BaseException) -> bool:
    from spherekit.schema.vim25.data import ToolsUnavailable

    return isinstance(e, ToolsUnavailable)


def shutdown_guest(
    session: Session,
    vm: VmArg,
    journal: Journal,
    *,
    timeout: float = 300.0,
    fallback: bool = True,
    plan: bool = False,
) -> PowerResult:
    """Shut the guest OS down, waiting up to ``timeout`` s; else power off (see module doc).

    A no-op when the VM is off. A suspended VM, or one whose tools are not running, cannot
    shut down its guest: it is powered off (``fallback`` says why), or with
    ``fallback=False`` UsageError is raised.
    """
    if timeout < 0:
        raise UsageError(f"timeout must not be negative, got {timeout}")
    st = _state(session, vm)
    action = "shutdown guest"
    _no_template(st, action)
    if st.power == OFF:
        return _done(st, action)
    reason = None
    if st.power == SUSPENDED:
        reason = "the VM is suspended, so its guest cannot shut down"
    elif not st.tools:
        reason = "VMware Tools are not running, so the guest cannot be asked to shut down"
    if reason is not None and not fallback:
        raise UsageError(f"cannot shut down the guest of {st.name} ({st.ref}): {reason}")
    methods: list[str] = []
    with Operation(session, journal, f"{action} {st.name}", plan=plan) as op:
        if reason is None:
            try:
                op.write(st.ref, "ShutdownGuest")
                methods.append("ShutdownGuest")
            except Exception as e:
                if not (_is_tools_unavailable(e) and fallback):
                    raise
                reason = "VMware Tools stopped running before the shutdown request"
            if reason is None and not plan:
                try:
                    wait_for(session, st.ref, "runtime.powerState", lambda v: v == OFF,
                             timeout=timeout)  # fmt: skip
                except WaitTimeout:
                    if not fallback:
                        raise
                    reason = f"the guest did not shut down within {timeout:g} s"
        if reason is not None:
            _hard_off(op, st.ref)
            methods.append("PowerOffVM_Task")
    return PowerResult(st.ref, action, st.power, OFF, True, methods, reason, op.planned)


def _hard_off(op: Operation, ref: MoRef) -> None:
    """PowerOffVM_Task; a VM that went off on its own meanwhile is fine."""
    from spherekit.schema.vim25.data import InvalidPowerState

    try:
        op.write(ref, "PowerOffVM_Task")
    except InvalidPowerState:
        if read_one(op.session, ref, ["runtime.powerState"]).get("runtime.powerState") != OFF:
            raise


def reboot(
    session: Session, vm: VmArg, journal: Journal, *, fallback: bool = True, plan: bool = False
) -> PowerResult:
    """Ask the guest OS to restart (``RebootGuest``, which returns at once); when VMware
    Tools are not running, reset the VM instead (``fallback`` says so), or with
    ``fallback=False`` raise UsageError. The VM must be powered on."""
    st = _state(session, vm)
    action = "reboot"
    _no_template(st, action)
    if st.power != ON:
        raise UsageError(
            f"cannot reboot {st.name} ({st.ref}): it is {st.power}; power it on instead"
        )
    reason = None if st.tools else "VMware Tools are not running, so the guest cannot reboot"
    if reason is not None and not fallback:
        raise UsageError(f"cannot reboot the guest of {st.name} ({st.ref}): {reason}")
    methods: list[str] = []
    with Operation(session, journal, f"{action} {st.name}", plan=plan) as op:
        if reason is None:
            try:
                op.write(st.ref, "RebootGuest")
                methods.append("RebootGuest")
            except Exception as e:
                if not (_is_tools_unavailable(e) and fallback):
                    raise
                reason = "VMware Tools stopped running before the reboot request"
        if reason is not None:
            op.write(st.ref, "ResetVM_Task")
            methods.append("ResetVM_Task")
    return PowerResult(st.ref, action, ON, ON, True, methods, reason, op.planned)


def power_state(session: Session, vm: VmArg) -> str:
    """The VM's ``runtime.powerState`` (one read)."""
    value: Any = read_one(session, vm_ref(vm), ["runtime.powerState"]).get("runtime.powerState")
    return str(value)
