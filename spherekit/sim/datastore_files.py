"""``/folder``: datastore files over HTTP, as vCenter serves them.

``/folder/<path>?dcPath=<datacenter path>&dsName=<datastore>``:

- ``GET`` a file: its bytes (``application/octet-stream``; ``Range: bytes=a-b`` answers
  ``206`` with ``Content-Range``, an unsatisfiable range ``416``). ``GET`` a folder, the
  datastore root, ``/folder?dcPath=DC0`` (its datastores) or ``/folder`` (the datacenters):
  an HTML index. ``HEAD``: the same headers without the body.
- ``PUT``: create (``201 Created``) or replace (``200 OK``) a file; missing folders on the way
  are created, as vCenter does; a folder or the root is ``405``. The body is stored through
  :class:`~spherekit.sim.storage.Storage` (the served simulator streams it to disk, any size).
- ``DELETE``: a file or a folder with its contents (``204``).
- Unknown datacenter, datastore or file: ``404``; ``..`` in the path: ``400``.

On an ESXi endpoint (``--esx``) ``dcPath`` is optional and means ``ha-datacenter``.
Authentication as vCenter: the SOAP session's ``vmware_soap_session`` cookie, or HTTP basic
auth with the simulator's credentials; otherwise ``401``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from spherekit.sim.backend import Backend
from spherekit.sim.datastore import datacenter_by_path, datastore_in
from spherekit.sim.dispatch import session_cookie
from spherekit.sim.http import HttpRequest, HttpResponse, route
from spherekit.sim.service_instance import SERVICE_INSTANCE

__all__ = ["folder"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_OCTETS = "application/octet-stream"


def _text(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> HttpResponse:
    headers = [("content-type", "text/plain; charset=utf-8"), *(extra or [])]
    return HttpResponse(status, (message + "\n").encode(), headers)


def _authenticated(backend: Backend, request: HttpRequest) -> bool:
    cookie = session_cookie(request.headers.get("cookie"))
    if cookie:
        with backend.registry.lock:
            if backend.sessions.by_cookie(cookie) is not None:
                return True
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = raw.partition(":")
        s = backend.settings
        same_user = hmac.compare_digest(user.encode(), s.user.encode())
        same_password = hmac.compare_digest(password.encode(), s.password.encode())
        return bool(sep) and same_user and same_password
    return False


def _index(title: str, rows: list[tuple[str, str, str, str]]) -> bytes:
    """vCenter's plain HTML index: (href, name, modified, size) rows."""
    out = [
        "<!DOCTYPE html><html><head>"
        '<meta http-equiv="content-type" content="text/html; charset=utf-8">'
        f"<title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1><table>",
        "<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>",
        '<tr><td><a href="..">Parent Directory</a></td><td></td><td></td></tr>',
    ]
    for href, name, modified, size in rows:
        out.append(
            f'<tr><td><a href="{html.escape(href)}">{html.escape(name)}</a></td>'
            f'<td align="right">{modified}</td><td align="right">{size}</td></tr>'
        )
    out.append("</table></body></html>\n")
    return "".join(out).encode()


def _listing(query: str, entries: list[Path], base: str) -> bytes:
    rows = []
    for p in entries:
        if p.name.endswith(".sim-partial"):
            continue
        st = p.stat()
        when = datetime.fromtimestamp(st.st_mtime, UTC).strftime("%d-%b-%Y %H:%M")
        is_dir = p.is_dir()
        name = p.name + ("/" if is_dir else "")
        href = f"{base}/{quote(p.name)}{'/' if is_dir else ''}?{query}"
        rows.append((href, name, when, "-" if is_dir else str(st.st_size)))
    return _index(f"Index of {base}", rows)


def _get(request: HttpRequest, local: Path, listing: bytes | None) -> HttpResponse:
    head = request.method == "HEAD"
    if listing is not None:
        headers = [("content-type", "text/html; charset=utf-8")]
        return HttpResponse(200, b"" if head else listing, headers)
    size = local.stat().st_size
    start, end = 0, size - 1
    status = 200
    headers = [("content-type", _OCTETS), ("accept-ranges", "bytes")]
    wanted = request.headers.get("range")
    if wanted:
        m = _RANGE.match(wanted.strip())
        if m is None or (not m[1] and not m[2]):
            return _text(416, "unsupported range", [("content-range", f"bytes */{size}")])
        if m[1]:
            start = int(m[1])
            end = min(int(m[2]), size - 1) if m[2] else size - 1
        else:
            start = max(0, size - int(m[2]))
        if start >= size or start > end:
            return _text(416, "range not satisfiable", [("content-range", f"bytes */{size}")])
        status = 206
        headers.append(("content-range", f"bytes {start}-{end}/{size}"))
    length = max(0, end - start + 1)
    if head:
        return HttpResponse(status, b"", [*headers, ("content-length", str(length))])
    with local.open("rb") as f:
        f.seek(start)
        data = f.read(length)
    return HttpResponse(status, data, headers)


@route("/folder", stream=True)
def folder(backend: Backend, request: HttpRequest) -> HttpResponse:
    """Answer one request under ``/folder``."""
    if request.method not in ("GET", "HEAD", "PUT", "DELETE"):
        return _text(
            405, "/folder answers GET, HEAD, PUT and DELETE", [("allow", "GET, HEAD, PUT, DELETE")]
        )
    if not _authenticated(backend, request):
        return _text(
            401,
            "log in first: /folder needs a session cookie or basic auth",
            [("www-authenticate", 'Basic realm="VMware HTTP server"')],
        )
    rel = request.path.removeprefix("/folder").strip("/")
    if ".." in rel.replace("\\", "/").split("/"):
        return _text(400, "a datastore path must not contain '..'")
    reg = backend.registry
    dc_path, ds_name = request.query.get("dcPath"), request.query.get("dsName")
    if dc_path is None and backend.settings.esx:
        dc_path = "ha-datacenter"  # optional on ESXi
    reading = request.method in ("GET", "HEAD")
    with reg.lock:
        root = reg.prop(SERVICE_INSTANCE, "content").rootFolder
        if dc_path is None:
            if rel or not reading:
                return _text(404, "no dcPath: name the datacenter (dcPath=DC0)")
            dcs = [x for x in reg.of_type("Datacenter") if x in reg]
            rows = [
                (
                    f"/folder?dcPath={quote(_inventory_path(backend, x, root))}",
                    _inventory_path(backend, x, root),
                    "",
                    "-",
                )
                for x in dcs
            ]
            return _get(request, Path(), _index("Datacenters", rows))
        dc = datacenter_by_path(reg, dc_path)
        if dc is None:
            return _text(404, f"no datacenter {dc_path!r}")
        if ds_name is None:
            if rel or not reading:
                return _text(404, "no dsName: name the datastore (dsName=LocalDS_0)")
            names = [reg.prop(x, "name") for x in reg.prop(dc, "datastore") or []]
            rows = [
                (f"/folder?dcPath={quote(dc_path)}&dsName={quote(n)}", n, "", "-") for n in names
            ]
            return _get(request, Path(), _index(f"Datastores of {dc_path}", rows))
        if datastore_in(reg, dc, ds_name) is None:
            return _text(404, f"no datastore {ds_name!r} in {dc_path}")
    storage = backend.storage
    try:
        local = storage.path(ds_name, rel)
    except ValueError:
        return _text(400, f"invalid datastore path [{ds_name}] {rel}")
    where = f"[{ds_name}] {rel}"
    if reading:
        if local.is_dir():
            query = f"dcPath={quote(dc_path)}&dsName={quote(ds_name)}"
            base = "/folder" + (f"/{quote(rel)}" if rel else "")
            return _get(request, local, _listing(query, storage.listdir(ds_name, rel), base))
        if not local.is_file():
            return _text(404, f"{where} was not found")
        return _get(request, local, None)
    if request.method == "DELETE":
        if not rel:
            return _text(405, "the datastore's root cannot be deleted")
        if not local.exists():
            return _text(404, f"{where} was not found")
        storage.delete(ds_name, rel)
        return HttpResponse(204, b"")
    if not rel or local.is_dir():
        return _text(405, f"{where} is a folder: PUT a file's path")
    if request.stream is not None:
        created = storage.write_stream(ds_name, rel, request.stream)
    else:
        created = storage.write(ds_name, rel, request.body)
    return HttpResponse(201 if created else 200, b"")


def _inventory_path(backend: Backend, ref: object, root: object) -> str:
    reg = backend.registry
    names: list[str] = []
    cur = ref
    while cur is not None and cur != root and cur in reg:
        names.append(reg.prop(cur, "name"))  # type: ignore[arg-type]
        cur = reg.prop(cur, "parent")  # type: ignore[arg-type]
    return "/".join(reversed(names))
