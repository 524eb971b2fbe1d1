"""The same pyVmomi datastore-file scenario against govmomi's vcsim and spherekit.sim.

Upload with the session cookie through ``/folder``, browse with SearchDatastore_Task,
download, delete with FileManager.DeleteDatastoreFile_Task, delete again. Both simulators
agree on what a client relies on (the bytes, the files listed and their types and sizes,
the FileNotFound); where vcsim departs from vCenter the test names the departure and
asserts that spherekit.sim does what vCenter does.
"""

from __future__ import annotations

import http.client
import ssl
import time
from typing import Any

import pyVmomi
from pyVim.task import WaitForTask

from tests.sim.diff import Peer, started

PAYLOAD = b"spherekit differential upload\n" * 100
# pyVmomi's types are made at run time: to mypy they are Any
vim: Any = pyVmomi.vim
vmodl: Any = pyVmomi.vmodl


def _http(host: str, port: int, method: str, url: str, cookie: str, body: bytes = b"") -> Any:
    conn = http.client.HTTPSConnection(host, port, context=ssl._create_unverified_context())
    try:
        conn.request(method, url, body=body, headers={"Cookie": cookie})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def finish(si: Any, task: Any) -> tuple[str, Any]:
    """(state, fault) of a task once it is done, reading only ``info.state`` and
    ``info.error``: vcsim's FileManager tasks name the FileManager as their ``entity``,
    which pyVmomi refuses to decode (``expected type vim.ManagedEntity``), so neither
    ``WaitForTask`` nor ``task.info`` works against vcsim for them."""
    pc = si.content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=task)],
        propSet=[
            vmodl.query.PropertyCollector.PropertySpec(
                type=vim.Task, pathSet=["info.state", "info.error"]
            )
        ],
    )
    deadline = time.monotonic() + 10
    while True:
        (content,) = pc.RetrieveContents([spec])
        values = {p.name: p.val for p in content.propSet}
        if values["info.state"] in ("success", "error") or time.monotonic() > deadline:
            error = values.get("info.error")
            return values["info.state"], error
        time.sleep(0.02)


def scenario(peer: Peer) -> dict[str, Any]:
    """What a pyVmomi script observes; every value is plain data to compare."""
    si, host, port = peer.si, peer.host, peer.port
    out: dict[str, Any] = {}
    dc = si.content.rootFolder.childEntity[0]
    ds = next(x for x in dc.datastore if x.name == "LocalDS_0")
    cookie = si._stub.cookie.split(";", 1)[0]
    url = "/folder/diff/hello.txt?dcPath=DC0&dsName=LocalDS_0"
    out["put"] = _http(host, port, "PUT", url, cookie, PAYLOAD)[0]
    out["get"] = _http(host, port, "GET", url, cookie)
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"],
        details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileType=True, fileSize=True, modification=True
        ),
    )
    fm = si.content.fileManager
    fm.MakeDirectory("[LocalDS_0] diff/sub/deeper", dc, True)
    try:
        fm.MakeDirectory("[LocalDS_0] diff/sub", dc)
        out["mkdir_again"] = None
    except vim.fault.FileAlreadyExists as exists:
        out["mkdir_again"] = ("FileAlreadyExists", exists.file)
    task = ds.browser.SearchDatastore_Task("[LocalDS_0] diff", spec)
    WaitForTask(task)  # type: ignore[no-untyped-call]
    result = task.info.result
    out["folderPath"] = result.folderPath
    out["files"] = [
        (type(f).__name__, f.path, f.fileSize if f.path.endswith(".txt") else None)
        for f in result.file
    ]
    out["modified"] = all(f.modification is not None for f in result.file)
    task = ds.browser.SearchDatastoreSubFolders_Task("[LocalDS_0] diff", spec)
    WaitForTask(task)  # type: ignore[no-untyped-call]
    out["subfolders"] = sorted(r.folderPath for r in task.info.result)
    out["deleted"] = finish(si, fm.DeleteDatastoreFile_Task("[LocalDS_0] diff/hello.txt", dc))
    out["get_after"] = _http(host, port, "GET", url, cookie)[0]
    state, fault = finish(si, fm.DeleteDatastoreFile_Task("[LocalDS_0] diff/hello.txt", dc))
    out["again"] = (state, type(fault).__name__, fault.file)
    out["rmdir"] = finish(si, fm.DeleteDatastoreFile_Task("[LocalDS_0] diff", dc))
    return out


def test_upload_browse_delete_agree() -> None:
    with started("vcsim") as peer:
        theirs = scenario(peer)
    with started("spherekit") as peer:
        ours = scenario(peer)
    # departure: vCenter answers a PUT that creates a file with 201 Created (and 200 OK
    # when it replaces one); vcsim always answers 200
    assert (ours.pop("put"), theirs.pop("put")) == (201, 200)
    # departure: a FileFault's ``file`` is the datastore path on vCenter; vcsim puts the path
    # of its own temporary directory there
    ours_again, theirs_again = ours.pop("again"), theirs.pop("again")
    assert ours_again == ("error", "vim.fault.FileNotFound", "[LocalDS_0] diff/hello.txt")
    assert theirs_again[:2] == ours_again[:2]
    assert theirs_again[2].endswith("/diff/hello.txt") and not theirs_again[2].startswith("[")
    assert ours == theirs
    assert ours["files"] == [
        ("vim.host.DatastoreBrowser.FileInfo", "hello.txt", len(PAYLOAD)),
        ("vim.host.DatastoreBrowser.FolderInfo", "sub", None),
    ]
    assert ours["subfolders"] == [
        "[LocalDS_0] diff",
        "[LocalDS_0] diff/sub",
        "[LocalDS_0] diff/sub/deeper",
    ]
    assert ours["mkdir_again"] == ("FileAlreadyExists", "[LocalDS_0] diff/sub")
