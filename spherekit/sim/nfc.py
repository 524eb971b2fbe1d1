"""HttpNfcLease and the NFC endpoints that move disk bytes for ImportVApp and ExportVm.

A lease is ``initializing`` (``initializeProgress`` rising; ``Settings.lease_init_delay``)
and then ``ready``, with ``info`` listing one device URL per disk:
``https://*/nfc/<ticket>/disk-0.vmdk`` (the client puts the host it connected to in place
of ``*``, as with vCenter). The ticket in the URL is the credential, as on ESXi: a random
128-bit token, and NFC requests need no session cookie (ESXi hosts, which serve these URLs
for vCenter, do not know vCenter's sessions; VMware's own samples upload without one).
``HttpNfcLeaseProgress`` keeps the lease alive; without it for ``Settings.lease_timeout``
seconds the lease goes to ``error`` with a ``Timedout`` fault. ``HttpNfcLeaseComplete``
moves it to ``done``; ``HttpNfcLeaseAbort`` to ``error``. For an import lease, entering
``error`` removes what the import created (vCenter's documented behaviour).

Endpoints under ``/nfc/<ticket>/<target>``: PUT or POST stores the body as the disk's file
on its datastore (import leases; a streaming route, so the served simulator takes disks of
any size, spooled to disk and written outside the registry lock), GET returns the stored
bytes (export leases), HEAD their size (``x-content-length``). 404 for an unknown ticket
or target, 409 for a lease that is not ``ready``, 405 for a method the lease does not
allow. A disk that has no file yet (the VMs of the default
inventory) is exported as a small generated stream-optimized VMDK header (see
:func:`placeholder`), the same bytes every time.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim import faults
from spherekit.sim.methods import handler
from spherekit.sim.storage import parse_ds_path

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context
    from spherekit.sim.http import HttpRequest, HttpResponse

__all__ = [
    "PREFIX",
    "Lease",
    "Leases",
    "Transfer",
    "disk_sizes",
    "leases_of",
    "placeholder",
    "serve",
]

#: where the lease URLs are served (registered by spherekit.sim.http)
PREFIX = "/nfc"

Hook = Callable[["Context"], None]


@dataclass
class Transfer:
    """One device URL of a lease: the disk file behind it and what moved through it."""

    key: str
    import_key: str
    target: str
    file_name: str  # "[LocalDS_0] vm/vm.vmdk"
    capacity_kb: int
    datastore_key: str
    sha1: str | None = None
    sha256: str | None = None
    size: int | None = None
    checksum_type: str = "sha1"

    def record(self, data: bytes) -> None:
        self.sha1 = hashlib.sha1(data).hexdigest()
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.size = len(data)


@dataclass
class Lease:
    ref: MoRef
    ticket: str
    kind: str  # "import" or "export"
    entity: MoRef
    transfers: list[Transfer]
    session: Any
    timeout: float
    ready_at: float
    deadline: float = 0.0
    timed_out: bool = False
    on_done: Hook | None = None
    on_error: Hook | None = None
    finished: bool = field(default=False)

    def transfer(self, target: str) -> Transfer | None:
        return next((t for t in self.transfers if t.target == target), None)


class Leases:
    """The leases of one backend and the thread that makes them ready and expires them."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_ref: dict[MoRef, Lease] = {}
        self.by_ticket: dict[str, Lease] = {}
        self._thread: threading.Thread | None = None

    def create(
        self,
        ctx: Context,
        kind: str,
        entity: MoRef,
        transfers: list[Transfer],
        *,
        on_done: Hook | None = None,
        on_error: Hook | None = None,
    ) -> MoRef:
        """A new lease on ``entity`` (owned by the caller's session); registry lock held."""
        settings = ctx.backend.settings
        ticket = secrets.token_hex(16)
        ref = ctx.add_owned(
            "HttpNfcLease",
            {
                "state": e.HttpNfcLeaseState.initializing,
                "initializeProgress": 0,
                "transferProgress": 0,
                "mode": e.HttpNfcLeaseMode.pushOrGet,
                "capabilities": d.HttpNfcLeaseCapabilities(
                    pullModeSupported=False, corsSupported=False
                ),
            },
        )
        now = time.monotonic()
        lease = Lease(
            ref, ticket, kind, entity, transfers, ctx.session, settings.lease_timeout,
            now + settings.lease_init_delay, on_done=on_done, on_error=on_error,
        )  # fmt: skip
        self.by_ref[ref] = lease
        self.by_ticket[ticket] = lease
        if settings.lease_init_delay <= 0:
            self._ready(lease)
        self._wake()
        return ref

    # -- state changes (registry lock held) ----------------------------------------------------

    def _ready(self, lease: Lease) -> None:
        reg = self.backend.registry
        urls = [
            d.HttpNfcLeaseDeviceUrl(
                key=t.key,
                importKey=t.import_key,
                url=f"https://*/nfc/{lease.ticket}/{t.target}",
                sslThumbprint="",
                disk=True,
                targetId=t.target,
                datastoreKey=t.datastore_key,
            )
            for t in lease.transfers
        ]
        info = d.HttpNfcLeaseInfo(
            lease=lease.ref,
            entity=lease.entity,
            deviceUrl=urls or None,
            totalDiskCapacityInKB=sum(t.capacity_kb for t in lease.transfers),
            leaseTimeout=max(1, round(lease.timeout)),
        )
        lease.deadline = time.monotonic() + lease.timeout
        reg.update(
            lease.ref, {"state": e.HttpNfcLeaseState.ready, "initializeProgress": 100, "info": info}
        )

    def finish(self, ctx: Context, lease: Lease, error: d.MethodFault | None) -> None:
        """``done`` (error None) or ``error`` with ``error``; runs the lease's hook."""
        reg = self.backend.registry
        lease.finished = True
        self.by_ticket.pop(lease.ticket, None)
        self.by_ref.pop(lease.ref, None)
        if error is None:
            if lease.ref in reg:
                reg.update(lease.ref, {"state": e.HttpNfcLeaseState.done, "transferProgress": 100})
            if lease.on_done is not None:
                lease.on_done(ctx)
            return
        if lease.ref in reg:
            fault = d.LocalizedMethodFault(fault=error, localizedMessage=error.msg or None)
            reg.update(lease.ref, {"state": e.HttpNfcLeaseState.error, "error": fault})
        if lease.on_error is not None:
            lease.on_error(ctx)

    # -- the clock ------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="spherekit-sim-leases", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        from spherekit.sim.backend import Context

        backend = self.backend
        reg = backend.registry
        while True:
            with reg.lock:
                if backend.closing or not self.by_ref:
                    self._thread = None
                    return
                now = time.monotonic()
                for lease in list(self.by_ref.values()):
                    ctx = Context(backend, lease.session, lease.ref, "HttpNfcLeaseTimeout")
                    if lease.ref not in reg:  # its session ended
                        self.finish(ctx, lease, _timed_out())
                    elif reg.prop(lease.ref, "state") == "initializing":
                        if now >= lease.ready_at:
                            self._ready(lease)
                    elif now >= lease.deadline:
                        lease.timed_out = True
                        self.finish(ctx, lease, _timed_out())
                waits = [
                    x.ready_at if x.deadline == 0 else x.deadline for x in self.by_ref.values()
                ]
            time.sleep(min(0.5, max(0.01, min(waits, default=now) - time.monotonic())))


_LEASES: WeakKeyDictionary[Backend, Leases] = WeakKeyDictionary()
_LOCK = threading.Lock()


def leases_of(backend: Backend) -> Leases:
    """The leases of ``backend`` (created on first use)."""
    with _LOCK:
        found = _LEASES.get(backend)
        if found is None or found.backend.registry is not backend.registry:
            found = _LEASES[backend] = Leases(backend)
        return found


def _timed_out() -> d.Timedout:
    return faults.with_msg(d.Timedout(), "Operation timed out.")


def _lease(ctx: Context, ref: MoRef) -> Lease:
    """The live lease ``ref``; Timedout / InvalidState as vCenter answers a finished one."""
    lease = leases_of(ctx.backend).by_ref.get(ref)
    if lease is not None:
        return lease
    state = ctx.registry.prop(ref, "state")
    error = ctx.registry.prop(ref, "error")
    if state == "error" and error is not None and isinstance(error.fault, d.Timedout):
        raise _timed_out()
    raise faults.with_msg(
        d.InvalidState(), f"The lease is in the {state} state; the operation is not allowed."
    )


@handler("HttpNfcLease", "HttpNfcLeaseProgress")
def progress(ctx: Context, this: MoRef, *, percent: int) -> None:
    lease = _lease(ctx, this)
    if not 0 <= percent <= 100:
        raise faults.invalid_argument("percent", "a percentage is between 0 and 100")
    lease.deadline = time.monotonic() + lease.timeout
    ctx.registry.update(this, {"transferProgress": percent})


@handler("HttpNfcLease", "HttpNfcLeaseComplete")
def complete(ctx: Context, this: MoRef) -> None:
    lease = _lease(ctx, this)
    if ctx.registry.prop(this, "state") != "ready":
        raise faults.with_msg(d.InvalidState(), "The lease is not ready yet.")
    leases_of(ctx.backend).finish(ctx, lease, None)


@handler("HttpNfcLease", "HttpNfcLeaseAbort")
def abort(ctx: Context, this: MoRef, *, fault: d.LocalizedMethodFault | None = None) -> None:
    lease = _lease(ctx, this)
    cause: d.MethodFault = (
        fault.fault
        if fault is not None and fault.fault is not None
        else faults.with_msg(d.RequestCanceled(), "The task was canceled by a user.")
    )
    if fault is not None and fault.localizedMessage and not cause.msg:
        cause.msg = fault.localizedMessage
    leases_of(ctx.backend).finish(ctx, lease, cause)


@handler("HttpNfcLease", "HttpNfcLeaseGetManifest")
def get_manifest(ctx: Context, this: MoRef) -> list[d.HttpNfcLeaseManifestEntry] | None:
    lease = _lease(ctx, this)
    if ctx.registry.prop(this, "state") != "ready":
        raise faults.with_msg(d.InvalidState(), "The lease is not ready yet.")
    out = []
    for t in lease.transfers:
        if t.size is None:
            continue
        if t.sha1 is None:
            t.sha1, t.sha256 = _file_digests(ctx, t)  # hashed once, when first asked for
        checksum = t.sha256 if t.checksum_type == "sha256" else t.sha1
        out.append(
            d.HttpNfcLeaseManifestEntry(
                key=t.key,
                sha1=t.sha1 or "",
                checksum=checksum,
                checksumType=t.checksum_type,
                size=t.size,
                disk=True,
                capacity=t.capacity_kb * 1024,
                populatedSize=t.size,
            )
        )
    return out or None


@handler("HttpNfcLease", "HttpNfcLeaseSetManifestChecksumType")
def set_checksum_type(
    ctx: Context, this: MoRef, *, deviceUrlsToChecksumTypes: list[d.KeyValue] | None = None
) -> None:
    lease = _lease(ctx, this)
    for kv in deviceUrlsToChecksumTypes or []:
        found = next((t for t in lease.transfers if t.key == kv.key), None)
        if found is None:
            raise faults.invalid_argument("deviceUrlsToChecksumTypes", f"no device {kv.key}")
        if kv.value not in ("sha1", "sha256"):
            raise faults.invalid_argument("deviceUrlsToChecksumTypes", f"{kv.value}")
        found.checksum_type = kv.value


# -- the bytes ---------------------------------------------------------------------------------


def placeholder(capacity_kb: int, name: str) -> bytes:
    """A stream-optimized VMDK header with its descriptor and no grains: what the
    simulator exports for a disk that has no file yet (deterministic)."""
    sectors = capacity_kb * 2
    descriptor = (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        'createType="streamOptimized"\n\n# Extent description\n'
        f'RW {sectors} SPARSE "{name}"\n\n# The Disk Data Base\n#DDB\n\n'
        'ddb.adapterType = "lsilogic"\nddb.virtualHWVersion = "21"\n'
    ).encode()
    header = b"KDMV" + struct.pack("<IIQQQQIQQQ", 3, 0x30001, sectors, 128, 1, 1, 4, 0, 0, 0)
    header = header.ljust(512, b"\0")
    return header + descriptor.ljust(512, b"\0")


def _read(backend: Backend, t: Transfer) -> bytes:
    storage = backend.storage
    try:
        ds, rel = parse_ds_path(t.file_name)
        if storage.exists(ds, rel):
            return storage.read(ds, rel)
    except ValueError:
        pass
    return placeholder(t.capacity_kb, t.target)


def disk_sizes(ctx: Context, vm: MoRef) -> dict[str, int]:
    """The size of the bytes an export of ``vm`` serves, by device key."""
    from spherekit.sim.ovf_writer import export_disks

    devices = ctx.registry.prop(vm, "config").hardware.device or []
    out = {}
    for x in export_disks(vm, list(devices)):
        t = Transfer(x.key, "", x.target, x.file_name, int(x.disk.capacityInKB or 0), "")
        out[x.key] = len(_read(ctx.backend, t))
    return out


def _text(status: int, message: str) -> HttpResponse:
    from spherekit.sim.http import HttpResponse

    return HttpResponse(status, (message + "\n").encode(), [("content-type", "text/plain")])


def serve(backend: Backend, request: HttpRequest) -> HttpResponse:
    """The NFC endpoint (``/nfc/<ticket>/<target>``)."""
    from spherekit.sim.http import HttpResponse

    parts = request.path.removeprefix("/nfc/").split("/")
    if len(parts) != 2:
        return _text(404, "no such NFC device URL")
    ticket, target = parts
    reg = backend.registry
    method = request.method
    with reg.lock:
        lease = leases_of(backend).by_ticket.get(ticket)
        t = lease.transfer(target) if lease is not None else None
        if lease is None or t is None:
            return _text(404, "no such NFC lease or device (the lease may have ended)")
        state = reg.prop(lease.ref, "state") if lease.ref in reg else "error"
        if state != "ready":
            return _text(409, f"the lease is {state}, not ready")
        if lease.kind == "export" and method in ("GET", "HEAD"):
            data = _read(backend, t)
            t.record(data)
            headers = [
                ("content-type", "application/octet-stream"),
                ("x-content-length", str(len(data))),
            ]
            return HttpResponse(200, b"" if method == "HEAD" else data, headers)
        if lease.kind != "import" or method not in ("PUT", "POST"):
            allowed = "PUT, POST" if lease.kind == "import" else "GET, HEAD"
            return HttpResponse(405, f"use {allowed}\n".encode(), [("allow", allowed)])
        ds, rel = parse_ds_path(t.file_name)
    # the bytes are written outside the lock (a large upload must not stall every call)
    storage = backend.storage
    # the upload is the whole (stream-optimized) disk: it replaces the descriptor and the
    # sparse extent ImportVApp made, which go first, so the disk is stored as a new file
    # rather than renamed over the old one (ext4 flushes a file renamed over another: tens
    # of milliseconds per 100 MB that the client would wait for)
    flat = rel.removesuffix(".vmdk") + "-flat.vmdk"
    for old in (rel, flat):
        if storage.exists(ds, old):
            storage.delete(ds, old)
    # the manifest's checksums are computed when a client asks for them (GetManifest):
    # most importers never do, and hashing gigabytes would slow every upload
    if request.stream is not None:
        storage.write_stream(ds, rel, request.stream)
    else:
        storage.write(ds, rel, request.body)
    size = storage.path(ds, rel).stat().st_size
    with reg.lock:
        t.sha1 = t.sha256 = None
        t.size = size
    return HttpResponse(200, b"", [("content-type", "text/plain")])


def _file_digests(ctx: Context, t: Transfer) -> tuple[str, str]:
    """SHA-1 and SHA-256 of a transferred disk file, read once."""
    ds, rel = parse_ds_path(t.file_name)
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    with ctx.backend.storage.path(ds, rel).open("rb") as f:
        while chunk := f.read(1 << 20):
            sha1.update(chunk)
            sha256.update(chunk)
    return sha1.hexdigest(), sha256.hexdigest()
