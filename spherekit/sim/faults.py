"""Faults as vCenter raises them: the fault object with its fields and the message text.

Handlers raise these (MethodFault subclasses are exceptions); the dispatcher writes them
as SOAP faults, and a task writes them into ``info.error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        InvalidArgument,
        InvalidPowerState,
        InvalidProperty,
        InvalidRequest,
        ManagedObjectNotFound,
        MethodFault,
        MethodNotFound,
        NotSupported,
    )
    from spherekit.schema.vim25.data import (
        SystemError as SystemErrorFault,
    )

__all__ = [
    "invalid_argument",
    "invalid_power_state",
    "invalid_property",
    "invalid_request",
    "method_not_found",
    "not_found",
    "not_supported",
    "system_error",
    "with_msg",
]

F = TypeVar("F", bound="MethodFault")

_POWER_TEXT = {"poweredOn": "Powered on", "poweredOff": "Powered off", "suspended": "Suspended"}


def with_msg(fault: F, msg: str) -> F:
    """``fault`` carrying ``msg`` as its fault string / localized message."""
    fault.msg = msg
    return fault


def not_found(ref: MoRef) -> ManagedObjectNotFound:
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    return with_msg(
        ManagedObjectNotFound(obj=ref),
        f"The object 'vim.{ref.type}:{ref.value}' has already been deleted or has not been "
        "completely created",
    )


def invalid_property(name: str) -> InvalidProperty:
    from spherekit.schema.vim25.data import InvalidProperty

    return with_msg(InvalidProperty(name=name), f"Invalid property: {name!r}")


def invalid_argument(name: str | None, why: str = "") -> InvalidArgument:
    from spherekit.schema.vim25.data import InvalidArgument

    text = "A specified parameter was not correct: " + (name or "")
    return with_msg(InvalidArgument(invalidProperty=name), text + (f" ({why})" if why else ""))


def invalid_request(msg: str) -> InvalidRequest:
    from spherekit.schema.vim25.data import InvalidRequest

    return with_msg(InvalidRequest(), msg)


def method_not_found(this: MoRef, method: str) -> MethodNotFound:
    from spherekit.schema.vim25.data import MethodNotFound

    return with_msg(
        MethodNotFound(receiver=this, method=method),
        f"{method} is not implemented by spherekit.sim for {this.type}",
    )


def not_supported(msg: str = "The operation is not supported on the object.") -> NotSupported:
    from spherekit.schema.vim25.data import NotSupported

    return with_msg(NotSupported(), msg)


def invalid_power_state(requested: str | None, existing: str) -> InvalidPowerState:
    from spherekit.schema.vim25.data import InvalidPowerState
    from spherekit.schema.vim25.enums import VirtualMachinePowerState as P

    return with_msg(
        InvalidPowerState(
            requestedState=P(requested) if requested else None, existingState=P(existing)
        ),
        "The attempted operation cannot be performed in the current state "
        f"({_POWER_TEXT.get(existing, existing)}).",
    )


def system_error(reason: str) -> SystemErrorFault:
    from spherekit.schema.vim25.data import SystemError as SystemErrorFault

    fault = SystemErrorFault(reason=reason)
    return with_msg(fault, f"A general system error occurred: {reason}")
