"""``/guestFile``: the URLs of InitiateFileTransferToGuest / FromGuest.

vCenter answers a transfer request with a URL on the VM's ESXi host,
``https://*/guestFile?id=N&token=T`` here (the client puts the host it connected to in
place of ``*``, as with NFC lease URLs and as govc does). The token is a random 128-bit
ticket for one guest file in one direction: ``PUT`` the bytes to a to-guest URL (stored
in the guest's filesystem with the permissions asked for), ``GET`` a from-guest URL. A
ticket serves one request and expires after :data:`TICKET_SECONDS`; no session cookie is
needed (the ticket is the credential, as on ESXi). Answers: 200; 404 for an unknown or
expired ticket, or a file that went away; 405 for the wrong method; 409 when the file
appeared meanwhile and the ticket does not overwrite; 503 when the guest stopped.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim.guest_fs import GuestFsError
from spherekit.sim.guest_proc import GuestState
from spherekit.sim.http import HttpRequest, HttpResponse, route

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["PREFIX", "TICKET_SECONDS", "serve", "ticket"]

PREFIX = "/guestFile"
#: seconds a transfer URL stays valid
TICKET_SECONDS = 600.0


@dataclass(frozen=True)
class Ticket:
    vm: MoRef
    boot: int
    path: str
    upload: bool
    overwrite: bool
    mode: int | None
    expires: float


def ticket(
    ctx: Context,
    vm: MoRef,
    st: GuestState,
    path: str,
    *,
    upload: bool,
    overwrite: bool,
    mode: int | None,
) -> str:
    """A new transfer URL for ``path`` in ``vm``'s guest."""
    guests = ctx.backend.guests
    now = time.monotonic()
    for token in [k for k, t in guests.transfers.items() if t.expires < now]:
        del guests.transfers[token]
    token = secrets.token_hex(16)
    guests.transfer_id += 1
    guests.transfers[token] = Ticket(
        vm, st.boot, path, upload, overwrite, mode, now + TICKET_SECONDS
    )
    return f"https://*{PREFIX}?id={guests.transfer_id}&token={token}"


def _text(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, (message + "\n").encode(), [("content-type", "text/plain; charset=utf-8")]
    )


@route(PREFIX)
def serve(backend: Backend, request: HttpRequest) -> HttpResponse:
    guests = backend.guests
    with backend.registry.lock:
        t = guests.transfers.get(request.query.get("token", ""))
        if t is None or t.expires < time.monotonic():
            return _text(404, "unknown or expired guest file transfer ticket")
        if request.method != ("PUT" if t.upload else "GET"):
            allowed = "PUT" if t.upload else "GET"
            return HttpResponse(405, b"", [("allow", allowed)])
        del guests.transfers[request.query["token"]]
        st = guests.states.get(t.vm)
        if st is None or st.fs is None or st.boot != t.boot or not st.running:
            return _text(503, "the guest is not running")
        fs = st.fs
        try:
            if not t.upload:
                data = fs.read(t.path)
                headers = [
                    ("content-type", "application/octet-stream"),
                    ("content-length", str(len(data))),
                ]
                return HttpResponse(200, data, headers)
            if fs.exists(t.path) and not t.overwrite:
                return _text(409, f"{t.path} exists")
            fs.write(t.path, request.body, mode=t.mode)
        except GuestFsError as e:
            return _text(404 if e.kind == "notfound" else 409, f"{e.kind}: {e.path}")
    return HttpResponse(200, b"")
