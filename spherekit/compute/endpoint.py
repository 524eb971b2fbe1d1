"""Endpoint awareness, and how the lifecycle modules address a VM.

A session may talk to a vCenter (``about.apiType == "VirtualCenter"``) or to a standalone
ESXi host (``"HostAgent"``). Some calls exist only on vCenter: cloning, migration and
relocation, guest customization. Against a host they would fail late, with a bare
``NotSupported`` from the server; :func:`require_vcenter` makes them fail early, before
anything is written, with a message that says why and what to do::

    require_vcenter(session, "cloning a VM")   # raises NeedsVCenter on ESXi

:func:`vm_ref` and :func:`read_one` are the small shared steps of the lifecycle modules
(power, reconfigure, snapshots, migration): a VM argument (a MoRef or a handle) checked and
turned into a MoRef, and the properties of one object in one ``RetrievePropertiesEx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from spherekit.errors import UsageError
from spherekit.property import filter_spec, retrieve
from spherekit.schema import registry
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["NeedsVCenter", "VmArg", "api_type", "is_esx", "read_one", "require_vcenter", "vm_ref"]

#: a VM as the lifecycle functions take it: a reference or a handle
VmArg = MoRef | ManagedObject


class NeedsVCenter(UsageError):
    """The call needs vCenter, and the session is connected to a standalone ESXi host."""


def api_type(session: Session) -> str:
    """``VirtualCenter`` or ``HostAgent`` (from the ServiceContent; no remote call)."""
    about = session.content.about if session.content is not None else None
    return str(about.apiType) if about is not None and about.apiType else "VirtualCenter"


def is_esx(session: Session) -> bool:
    """True when the session talks to a standalone ESXi host rather than vCenter."""
    return api_type(session) == "HostAgent"


def require_vcenter(session: Session, what: str) -> None:
    """Raise :class:`NeedsVCenter` (before any write) unless the endpoint is vCenter.

    ``what`` names the operation for the message, e.g. ``"migrating a VM"``.
    """
    if is_esx(session):
        about = session.content.about
        name = getattr(about, "fullName", None) or "a standalone ESXi host"
        raise NeedsVCenter(
            f"{what} needs vCenter, but this session is connected to {name} "
            "(about.apiType HostAgent); connect to the vCenter that manages the host instead"
        )


def as_ref(obj: Any, kind: str, what: str) -> MoRef:
    """``obj`` (a MoRef or handle of type ``kind`` or a subtype) as a MoRef; else UsageError."""
    ref = obj.ref if isinstance(obj, ManagedObject) else obj
    if not isinstance(ref, MoRef):
        raise UsageError(f"{what} must be a {kind} reference or handle, got {obj!r}")
    cur: str | None = ref.type
    while cur is not None and cur != kind:
        cur = registry.MANAGED_BASES.get(cur)
    if cur is None:
        raise UsageError(f"{what} must be a {kind}, got {ref}")
    return ref


def vm_ref(vm: VmArg) -> MoRef:
    """The VM's MoRef; UsageError for anything that is not a VirtualMachine."""
    return as_ref(vm, "VirtualMachine", "vm")


def read_one(session: Session, obj: MoRef, paths: Sequence[str]) -> dict[str, Any]:
    """``paths`` of one object in one call; a path that is unset is absent from the dict.

    Raises UsageError when the object does not exist (any more).
    """
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    try:
        rows = retrieve(session, filter_spec(obj.type, list(paths), [obj]), ignore_missing=True)
    except ManagedObjectNotFound as e:
        raise UsageError(f"{obj} does not exist (any more): {e}") from e
    if not rows:
        raise UsageError(f"{obj} does not exist (any more), or this user may not see it")
    return rows[0][1]
