"""Finding managed objects: by inventory path (govc style), UUID, IP or DNS name.

All lookups go through the server's SearchIndex; each is one call. A lookup that finds
nothing raises :class:`NotFound` naming what was looked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.errors import SpherekitError, UsageError
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["NotFound", "by_dns_name", "by_ip", "by_path", "by_uuid", "child"]


class NotFound(SpherekitError, LookupError):
    """No managed object matches the lookup."""


def _index(session: Session) -> MoRef:
    idx = session.content.searchIndex
    if idx is None:
        raise UsageError("this endpoint has no SearchIndex")
    return idx


def _datacenter(dc: MoRef | ManagedObject | None) -> MoRef | None:
    return dc.ref if isinstance(dc, ManagedObject) else dc


def by_path(session: Session, path: str) -> MoRef:
    """The object at an inventory path such as ``/DC0/vm/DC0_H0_VM0`` or ``DC0/host``.

    Paths are relative to the root folder; ``/`` alone is the root folder. Names with a
    ``/`` in them are written with ``%2f``, as vSphere itself escapes them.
    """
    if not isinstance(path, str) or not path.strip():
        raise UsageError("an inventory path is a non-empty string such as /DC0/vm/NAME")
    clean = path.strip().strip("/")
    if not clean:
        return session.content.rootFolder
    ref: MoRef | None = session.call(_index(session), "FindByInventoryPath", inventoryPath=clean)
    if ref is None:
        raise NotFound(f"nothing at inventory path {path!r} (paths look like /DC0/vm/NAME)")
    return ref


def child(session: Session, parent: MoRef | ManagedObject, name: str) -> MoRef:
    """The direct child of ``parent`` named ``name``."""
    ref: MoRef | None = session.call(_index(session), "FindChild", entity=parent, name=name)
    if ref is None:
        raise NotFound(f"{parent} has no child named {name!r}")
    return ref


def by_uuid(
    session: Session,
    uuid: str,
    *,
    datacenter: MoRef | ManagedObject | None = None,
    vm: bool = True,
    instance_uuid: bool = False,
) -> MoRef:
    """A VM (or with ``vm=False`` a host) by BIOS UUID, or by instance UUID."""
    ref: MoRef | None = session.call(
        _index(session),
        "FindByUuid",
        datacenter=_datacenter(datacenter),
        uuid=uuid,
        vmSearch=vm,
        instanceUuid=instance_uuid if vm else None,
    )
    if ref is None:
        kind = "instance UUID" if instance_uuid else "UUID"
        raise NotFound(f"no {'VM' if vm else 'host'} with {kind} {uuid}")
    return ref


def by_ip(
    session: Session,
    ip: str,
    *,
    datacenter: MoRef | ManagedObject | None = None,
    vm: bool = True,
) -> MoRef:
    """A VM (guest IP reported by VMware Tools) or a host by IP address."""
    ref: MoRef | None = session.call(
        _index(session), "FindByIp", datacenter=_datacenter(datacenter), ip=ip, vmSearch=vm
    )
    if ref is None:
        raise NotFound(f"no {'VM' if vm else 'host'} with IP address {ip}")
    return ref


def by_dns_name(
    session: Session,
    name: str,
    *,
    datacenter: MoRef | ManagedObject | None = None,
    vm: bool = True,
) -> MoRef:
    """A VM (guest host name reported by VMware Tools) or a host by DNS name."""
    ref: MoRef | None = session.call(
        _index(session),
        "FindByDnsName",
        datacenter=_datacenter(datacenter),
        dnsName=name,
        vmSearch=vm,
    )
    if ref is None:
        raise NotFound(f"no {'VM' if vm else 'host'} with DNS name {name}")
    return ref
