"""Importing an OVF package: ParseDescriptor, CreateImportSpec, ImportVApp, the disks over NFC.

:func:`describe` reads the package's descriptor through ``OvfManager.ParseDescriptor``
(errors are a :class:`OvfError` before anything is written). :func:`import_package` then,
inside an :class:`~spherekit.compute.ops.Operation`:

1. maps the OVF's networks (explicit mapping, else a network of the same name in the
   datacenter; an OVF network that is neither is an error before any write);
2. builds the import spec with ``CreateImportSpec`` (its errors raise, its warnings are
   returned) and checks that every file it needs is in the package (and its manifest);
3. calls ``ResourcePool.ImportVApp`` (journaled; the undo aborts the lease and removes the
   partial VM, and checks it is gone), waits for the lease, keeps it alive;
4. streams each disk from the package to its device URL (``*`` is the session's host)
   with :func:`spherekit.transfer.http.put`, which hashes it on the way with the manifest's
   algorithm (in a thread beside the send); a digest that does not match the manifest
   fails the operation, which aborts the lease and removes the VM;
5. completes the lease. The VM is returned; the caller decides what it becomes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit import property as prop
from spherekit.errors import SpherekitError, UsageError
from spherekit.schema.base import MoRef
from spherekit.transfer import http
from spherekit.transfer.lease import Lease, LeaseError
from spherekit.transfer.ova import Package, PackageError, check_digest

if TYPE_CHECKING:
    from spherekit.compute.ops import Operation
    from spherekit.schema.vim25.data import OvfFileItem
    from spherekit.session import Session

__all__ = [
    "Imported",
    "OvfError",
    "OvfSummary",
    "PercentCallback",
    "Prepared",
    "describe",
    "import_package",
    "map_networks",
    "prepare",
]

#: ``on_progress(percent, bytes_done, bytes_total)``: true percentages of the bytes moved
PercentCallback = Callable[[int, int, int], None]
_VMDK = "application/x-vnd.vmware-streamVmdk"


class OvfError(UsageError):
    """The server refused the OVF descriptor (ParseDescriptor / CreateImportSpec errors)."""


@dataclass(frozen=True)
class OvfSummary:
    """What ``ParseDescriptor`` says about a package."""

    name: str
    networks: list[str]
    annotation: str
    warnings: list[str] = field(default_factory=list)


def _messages(faults: Sequence[Any] | None) -> list[str]:
    out = []
    for f in faults or ():
        inner = getattr(f, "fault", None)
        out.append(getattr(f, "localizedMessage", None) or getattr(inner, "msg", None) or str(f))
    return out


def _descriptor_text(package: Package) -> str:
    try:
        return package.descriptor.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageError(f"{package.source}: the descriptor is not UTF-8 text") from None


def describe(session: Session, package: Package) -> OvfSummary:
    """``ParseDescriptor``: the package's default name, networks and warnings."""
    from spherekit.schema.vim25.data import OvfParseDescriptorParams

    mgr = session.content.ovfManager
    if mgr is None:
        raise UsageError("this endpoint has no OvfManager, so OVF packages cannot be imported")
    from spherekit.schema.vim25.data import MethodNotFound

    try:
        result = session.call(
            mgr, "ParseDescriptor", ovfDescriptor=_descriptor_text(package),
            pdp=OvfParseDescriptorParams(locale="", deploymentOption=""),
        )  # fmt: skip
    except MethodNotFound:  # govmomi's vcsim: read the few facts needed here ourselves
        return _local_summary(package)
    errors = _messages(result.error)
    if errors:
        raise OvfError(f"{package.source}: the descriptor is not valid: {'; '.join(errors)}")
    if result.virtualApp:
        raise OvfError(f"{package.source} is a vApp (VirtualSystemCollection); import a VM")
    return OvfSummary(
        name=result.defaultEntityName or "image",
        networks=[n.name for n in result.network or ()],
        annotation=result.annotation or "",
        warnings=_messages(result.warning),
    )


_OVF_NS = "{http://schemas.dmtf.org/ovf/envelope/1}"


def _local_summary(package: Package) -> OvfSummary:
    """Name and networks from the descriptor itself, for an endpoint without
    ParseDescriptor (CreateImportSpec still checks the descriptor before any write)."""
    from lxml import etree

    try:
        root = etree.fromstring(package.descriptor, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as e:
        raise OvfError(f"{package.source}: the descriptor is not valid XML: {e}") from None
    system = root.find(f"{_OVF_NS}VirtualSystem")
    name = system.findtext(f"{_OVF_NS}Name") if system is not None else None
    if not name and system is not None:
        name = system.get(f"{_OVF_NS}id")
    nets = [n.get(f"{_OVF_NS}name") or "" for n in root.iter(f"{_OVF_NS}Network")]
    return OvfSummary(
        name=name or "image",
        networks=[n for n in nets if n],
        annotation="",
        warnings=["this endpoint has no OvfManager.ParseDescriptor; the descriptor was read "
                  "locally"],
    )  # fmt: skip


def map_networks(
    session: Session,
    datacenter: MoRef,
    ovf_networks: Sequence[str],
    mapping: Mapping[str, str | MoRef] | None,
    networks: Mapping[MoRef, str] | None = None,
) -> list[Any]:
    """``OvfNetworkMapping``s for every OVF network (UsageError for one that has no match).

    ``networks`` are the datacenter's networks (name by reference) when the caller has read
    them already (the placement inventory has); else they are read here, if the OVF has any.
    """
    from spherekit.schema.vim25.data import OvfNetworkMapping

    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(ovf_networks))
    if unknown:
        raise UsageError(
            f"network_mapping names {', '.join(map(repr, unknown))}, which the OVF does not "
            f"use (its networks: {', '.join(map(repr, ovf_networks)) or 'none'})"
        )
    if not ovf_networks:
        return []
    if networks is None:
        rows = prop.fetch(session, "Network", ["name"], root=datacenter)
        networks = {ref: str(values.get("name", "")) for ref, values in rows}
    by_name: dict[str, MoRef] = {}
    for ref, net_name in networks.items():
        by_name.setdefault(net_name, ref)
    out = []
    for net in ovf_networks:
        want = mapping.get(net, net)
        if isinstance(want, MoRef):
            ref = want
        elif want in by_name:
            ref = by_name[want]
        else:
            have = ", ".join(sorted(map(repr, by_name))) or "none"
            how = f"{want!r}, mapped from OVF network {net!r}," if net in mapping else repr(net)
            raise UsageError(
                f"network {how} does not exist in {datacenter} (networks there: {have}); pass "
                f"network_mapping={{{net!r}: '<one of them>'}}"
            )
        out.append(OvfNetworkMapping(name=net, network=ref))
    return out


@dataclass
class Prepared:
    """A checked import: the import spec, the files it needs, the server's warnings."""

    import_spec: Any
    items: list[OvfFileItem]
    warnings: list[str]


@dataclass
class Imported:
    """The VM an import created and what it moved."""

    vm: MoRef
    bytes: int
    warnings: list[str]


def prepare(
    session: Session,
    package: Package,
    *,
    name: str,
    datacenter: MoRef,
    pool: MoRef,
    datastore: MoRef,
    host: MoRef | None = None,
    network_mapping: Mapping[str, str | MoRef] | None = None,
    ovf_networks: Sequence[str] = (),
    networks: Mapping[MoRef, str] | None = None,
) -> Prepared:
    """Map networks, ``CreateImportSpec``, check the package has every file: reads only,
    so every problem is an error (UsageError) before anything is written. ``networks``:
    see :func:`map_networks`."""
    from spherekit.schema.vim25.data import OvfCreateImportSpecParams

    mapped = map_networks(session, datacenter, ovf_networks, network_mapping, networks)
    mgr = session.content.ovfManager
    assert mgr is not None  # describe() checked it
    result = session.call(
        mgr, "CreateImportSpec", ovfDescriptor=_descriptor_text(package),
        resourcePool=pool, datastore=datastore,
        cisp=OvfCreateImportSpecParams(
            locale="", deploymentOption="", entityName=name, hostSystem=host,
            networkMapping=mapped or None,
        ),
    )  # fmt: skip
    errors = _messages(result.error)
    if errors or result.importSpec is None:
        raise OvfError(f"{package.source}: CreateImportSpec refused it: {'; '.join(errors)}")
    items: list[OvfFileItem] = list(result.fileItem or ())
    paths = [i.path for i in items]
    missing = package.missing(paths)
    if missing:
        raise PackageError(f"{package.source} lacks {', '.join(missing)}, which the OVF needs")
    if package.manifest:
        unlisted = [p for p in paths if p not in package.manifest]
        if unlisted:
            raise PackageError(
                f"{package.source}: the manifest lists no digest for {', '.join(unlisted)}; "
                "the package is corrupt or was changed"
            )
    return Prepared(result.importSpec, items, _messages(result.warning))


def import_package(
    op: Operation,
    package: Package,
    prepared: Prepared,
    *,
    name: str,
    pool: MoRef,
    folder: MoRef,
    host: MoRef | None = None,
    on_progress: PercentCallback | None = None,
    ready_timeout: float = 600.0,
) -> Imported:
    """``ImportVApp`` and the disks (see the module documentation); returns the VM."""
    session = op.session
    lease_ref: MoRef = op.write(pool, "ImportVApp", spec=prepared.import_spec, folder=folder,
                                host=host)  # fmt: skip
    lease = Lease(op, lease_ref)
    undo = f"abort {lease_ref} and remove the partial VM {name!r}"
    op.on_undo(undo, lambda: _undo_import(op, lease, folder, name))
    if op.plan:
        op.write(lease_ref, "HttpNfcLeaseComplete")
        return Imported(MoRef("VirtualMachine", f"planned-{lease_ref.value}"), 0, [])
    with lease:
        info = lease.wait_ready(ready_timeout)
        vm = info.entity
        if vm is None:
            raise LeaseError(f"{lease_ref} is ready but names no VM")
        lease.start_keepalive()
        moved = _upload(session, lease, package, prepared.items, on_progress)
        lease.complete()
    op.forget_undo(undo)
    if on_progress is not None:
        on_progress(100, moved, moved)
    return Imported(vm, moved, prepared.warnings)


def _upload(
    session: Session,
    lease: Lease,
    package: Package,
    items: Sequence[OvfFileItem],
    on_progress: PercentCallback | None,
) -> int:
    assert lease.info is not None
    by_key = {u.importKey: u for u in lease.info.deviceUrl or ()}
    by_path = {i.path: i for i in items}
    sizes = {i.path: package.size_of(i.path) or int(i.size or 0) for i in items}
    total = max(1, sum(sizes.values()))
    done_before = 0
    for path, reader, size in package.files(by_path):
        item = by_path[path]
        url = by_key.get(item.deviceId)
        if url is None:
            raise LeaseError(f"{lease.ref} has no device URL for {path} ({item.deviceId})")
        entry = package.manifest.get(path)
        try:
            sent = http.put(
                session, url.url, reader, size=size,
                on_progress=lease.file_progress(done_before, total, on_progress),
                headers={"Content-Type": _VMDK}, digests=[entry.algorithm] if entry else (),
            )  # fmt: skip
        except http.SourceError as e:  # a local read error is the package's, not the network's
            cause = e.__cause__ if isinstance(e.__cause__, OSError) else None
            why = (cause.strerror or str(cause)) if cause is not None else str(e)
            raise PackageError(
                f"{package.source}: reading {path} failed ({why}); the package changed or is "
                "damaged: check it and import again"
            ) from e
        check_digest(path, entry, sent.digests)
        done_before += sent.size
        lease.check()
    return done_before


def _exists(session: Session, vm: MoRef) -> bool:
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    try:
        spec = prop.filter_spec("VirtualMachine", ["name"], [vm])
        return bool(prop.retrieve(session, spec, ignore_missing=True))
    except ManagedObjectNotFound:
        return False


def _undo_import(op: Operation, lease: Lease, folder: MoRef, name: str) -> None:
    """Abort the lease (vCenter then removes the VM); destroy the VM if it is still there."""
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    session = op.session
    lease.abort(f"spherekit: the import of {name!r} failed; aborted and removed")
    vm = lease.info.entity if lease.info is not None else None
    if vm is None:
        idx = session.content.searchIndex
        found = session.call(idx, "FindChild", entity=folder, name=name) if idx else None
        vm = found if isinstance(found, MoRef) and found.type == "VirtualMachine" else None
    if vm is not None and _exists(session, vm):
        try:
            op.write(vm, "Destroy_Task")
        except ManagedObjectNotFound:
            pass
    if vm is not None and _exists(session, vm):
        raise SpherekitError(f"the partial VM {vm} ({name!r}) is still there; remove it by hand")
