"""Datastore files: /folder, the space account, HostDatastoreBrowser, FileManager and
VirtualDiskManager, through the spherekit client (in-process or served)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

import spherekit
from spherekit import faults
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim.storage import Sparse, Storage, Usage
from spherekit.wire.transport import Request, Response
from tests.sim.conftest import Target

DS = "dcPath=DC0&dsName=LocalDS_0"
MIB = 1024 * 1024


def folder(
    sim: Target,
    method: str,
    path: str,
    session: spherekit.Session | None = None,
    body: bytes = b"",
    query: str = DS,
    headers: dict[str, str] | None = None,
) -> Response:
    h = dict(headers or {})
    if session is not None:
        h["Cookie"] = session._cookie or ""
    url = f"/folder/{path}" if path else "/folder"
    return sim.transport().send(Request(method, f"{url}?{query}" if query else url, h, body))


def one(s: spherekit.Session, mtype: str, props: list[str], name: str = "") -> tuple[MoRef, Any]:
    rows = spherekit.fetch(s, mtype, ["name", *props])
    return next((ref, row) for ref, row in rows if not name or row["name"] == name)


def datacenter(s: spherekit.Session) -> MoRef:
    return one(s, "Datacenter", [], "DC0")[0]


def summary(s: spherekit.Session) -> Any:
    return one(s, "Datastore", ["summary"], "LocalDS_0")[1]["summary"]


def run(s: spherekit.Session, task: MoRef) -> Any:
    return spherekit.wait_for_task(s, task, timeout=10)


def test_folder_put_get_head_range_delete(sim: Target, session: spherekit.Session) -> None:
    assert folder(sim, "PUT", "isos/a.txt", session, b"hello world").status == 201
    assert folder(sim, "PUT", "isos/a.txt", session, b"hello, world").status == 200
    got = folder(sim, "GET", "isos/a.txt", session)
    assert (got.status, got.body) == (200, b"hello, world")
    assert got.headers["content-type"] == "application/octet-stream"
    head = folder(sim, "HEAD", "isos/a.txt", session)
    assert (head.status, head.body, head.headers["content-length"]) == (200, b"", "12")
    part = folder(sim, "GET", "isos/a.txt", session, headers={"Range": "bytes=7-"})
    assert (part.status, part.body) == (206, b"world")
    assert part.headers["content-range"] == "bytes 7-11/12"
    tail = folder(sim, "GET", "isos/a.txt", session, headers={"Range": "bytes=-5"})
    assert tail.body == b"world"
    bad = folder(sim, "GET", "isos/a.txt", session, headers={"Range": "bytes=50-"})
    assert bad.status == 416
    assert sim.backend.storage.read("LocalDS_0", "isos/a.txt") == b"hello, world"
    assert folder(sim, "DELETE", "isos/a.txt", session).status == 204
    assert folder(sim, "GET", "isos/a.txt", session).status == 404
    assert folder(sim, "DELETE", "isos/a.txt", session).status == 404


def test_folder_needs_a_session_or_basic_auth(sim: Target, session: spherekit.Session) -> None:
    denied = folder(sim, "PUT", "x.txt", body=b"x")
    assert denied.status == 401
    assert "basic" in denied.headers["www-authenticate"].lower()
    assert folder(sim, "GET", "", headers={"Cookie": "vmware_soap_session=nope"}).status == 401
    good = base64.b64encode(b"user:pass").decode()
    wrong = base64.b64encode(b"user:wrong").decode()
    assert folder(sim, "PUT", "x.txt", body=b"x", headers={"Authorization": f"Basic {good}"})
    assert folder(sim, "GET", "x.txt", headers={"Authorization": f"Basic {wrong}"}).status == 401
    assert folder(sim, "GET", "x.txt", headers={"Authorization": f"Basic {good}"}).body == b"x"


def test_folder_lookups_and_refusals(sim: Target, session: spherekit.Session) -> None:
    assert folder(sim, "GET", "x", session, query="dcPath=DC9&dsName=LocalDS_0").status == 404
    assert folder(sim, "GET", "x", session, query="dcPath=DC0&dsName=nope").status == 404
    assert folder(sim, "PUT", "x", session, b"x", query="dcPath=DC0").status == 404
    # an HTTP client may normalize a literal ".." away before it is sent (then: no endpoint)
    assert folder(sim, "PUT", "a/../../escape", session, b"x").status in (400, 404)
    assert folder(sim, "PUT", "%2e%2e/escape", session, b"x").status == 400
    assert folder(sim, "POST", "x", session, b"x").status == 405
    assert folder(sim, "PUT", "DC0_H0_VM0", session, b"x").status == 405  # a folder
    index = folder(sim, "GET", "", session)
    assert index.status == 200 and "text/html" in index.headers["content-type"]
    assert b"DC0_H0_VM0/" in index.body and b"DC0_C0_RP0_VM1/" in index.body
    assert b"DC0_H0_VM0.vmx" in folder(sim, "GET", "DC0_H0_VM0", session).body
    assert b"LocalDS_0" in folder(sim, "GET", "", session, query="dcPath=DC0").body
    assert b"DC0" in folder(sim, "GET", "", session, query="").body


def test_free_space_follows_the_files(sim: Target, session: spherekit.Session) -> None:
    before = summary(session)
    assert before.capacity == 1024**4
    assert before.freeSpace < before.capacity  # the VMs' files
    assert before.uncommitted == 4 * 1024**3  # four thin 1 GiB disks
    folder(sim, "PUT", "big.bin", session, bytes(3 * MIB))
    assert summary(session).freeSpace == before.freeSpace - 3 * MIB
    folder(sim, "DELETE", "big.bin", session)
    assert summary(session).freeSpace == before.freeSpace
    # files written behind Storage's back show after RefreshDatastore
    ds, row = one(session, "Datastore", ["info"], "LocalDS_0")
    (sim.backend.storage.root / "LocalDS_0" / "sneaky.bin").write_bytes(bytes(MIB))
    assert summary(session).freeSpace == before.freeSpace
    session.call(ds, "RefreshDatastore")
    assert summary(session).freeSpace == before.freeSpace - MIB
    info = one(session, "Datastore", ["info"], "LocalDS_0")[1]["info"]
    assert info.freeSpace == before.freeSpace - MIB
    assert info.timestamp > row["info"].timestamp
    session.call(ds, "RefreshDatastoreStorageInfo")


def test_every_datastore_and_host_has_a_browser(session: spherekit.Session) -> None:
    ds, row = one(session, "Datastore", ["browser"], "LocalDS_0")
    assert row["browser"] == MoRef("HostDatastoreBrowser", f"datastoreBrowser-{ds.value}")
    spec = d.PropertyFilterSpec(
        propSet=[
            d.PropertySpec(type="HostDatastoreBrowser", pathSet=["datastore", "supportedType"])
        ],
        objectSet=[d.ObjectSpec(obj=row["browser"])],
    )
    ((_ref, b),) = spherekit.property.retrieve(session, spec)
    assert b["datastore"] == [ds]
    assert any(type(q) is d.VmDiskFileQuery for q in b["supportedType"])
    hosts = spherekit.fetch(session, "HostSystem", ["datastoreBrowser"])
    assert all(row["datastoreBrowser"] is not None for _ref, row in hosts)


def browser(s: spherekit.Session) -> MoRef:
    ref: MoRef = one(s, "Datastore", ["browser"], "LocalDS_0")[1]["browser"]
    return ref


DETAILS = d.FileQueryFlags(fileType=True, fileSize=True, modification=True, fileOwner=True)


def test_a_vm_folder_holds_the_vms_files(session: spherekit.Session) -> None:
    spec = d.HostDatastoreBrowserSearchSpec(details=DETAILS)
    task = session.call(
        browser(session),
        "SearchDatastore_Task",
        datastorePath="[LocalDS_0] DC0_H0_VM0",
        searchSpec=spec,
    )
    result = run(session, task)
    assert result.folderPath == "[LocalDS_0] DC0_H0_VM0"  # as the client wrote it
    kinds = {f.path: type(f).__name__ for f in result.file}
    assert kinds == {
        "DC0_H0_VM0.vmx": "VmConfigFileInfo",
        "DC0_H0_VM0.nvram": "VmNvramFileInfo",
        "DC0_H0_VM0.vmdk": "VmDiskFileInfo",
        "DC0_H0_VM0-flat.vmdk": "FileInfo",
        "vmware.log": "VmLogFileInfo",
    }
    files = {f.path: f for f in result.file}
    assert files["DC0_H0_VM0.nvram"].fileSize == 8684
    assert files["DC0_H0_VM0.vmx"].owner == "root"
    assert files["DC0_H0_VM0-flat.vmdk"].fileSize == 1024**3  # the extent's size: sparse
    assert files["vmware.log"].modification is not None


def test_search_queries_patterns_and_subfolders(sim: Target, session: spherekit.Session) -> None:
    b = browser(session)
    disk_query = d.VmDiskFileQuery(
        details=d.VmDiskFileQueryFlags(
            diskType=True, capacityKb=True, hardwareVersion=True, thin=True, controllerType=True
        )
    )
    spec = d.HostDatastoreBrowserSearchSpec(query=[disk_query], details=DETAILS)
    result = run(
        session,
        session.call(
            b, "SearchDatastore_Task", datastorePath="[LocalDS_0] DC0_H0_VM1", searchSpec=spec
        ),
    )
    (disk,) = result.file
    assert disk.path == "DC0_H0_VM1.vmdk"
    assert (disk.capacityKb, disk.thin) == (1024 * 1024, True)
    assert disk.diskType == "VirtualDiskFlatVer2BackingInfo"
    # patterns, case, folders first, subfolders
    for path in ("top/A.ISO", "top/b.txt", "top/sub/c.iso", "top/sub/deeper/d.iso"):
        folder(sim, "PUT", path, session, b"x")
    spec = d.HostDatastoreBrowserSearchSpec(matchPattern=["*.iso"], searchCaseInsensitive=True)
    found = run(
        session,
        session.call(b, "SearchDatastore_Task", datastorePath="[LocalDS_0] top", searchSpec=spec),
    )
    assert [f.path for f in found.file] == ["A.ISO"]
    assert type(found.file[0]) is d.FileInfo  # no details: no types
    spec = d.HostDatastoreBrowserSearchSpec(sortFoldersFirst=True)
    found = run(
        session,
        session.call(b, "SearchDatastore_Task", datastorePath="[LocalDS_0] top/", searchSpec=spec),
    )
    assert [f.path for f in found.file] == ["sub", "A.ISO", "b.txt"]
    assert found.folderPath == "[LocalDS_0] top/"
    spec = d.HostDatastoreBrowserSearchSpec(query=[d.IsoImageFileQuery()], details=DETAILS)
    every = run(
        session,
        session.call(
            b, "SearchDatastoreSubFolders_Task", datastorePath="[LocalDS_0] top", searchSpec=spec
        ),
    )
    assert [(r.folderPath, [f.path for f in r.file or []]) for r in every] == [
        ("[LocalDS_0] top", ["A.ISO"]),  # types go by the extension, in any case
        ("[LocalDS_0] top/sub", ["c.iso"]),
        ("[LocalDS_0] top/sub/deeper", ["d.iso"]),
    ]
    assert type(every[1].file[0]) is d.IsoImageFileInfo
    root = run(session, session.call(b, "SearchDatastore_Task", datastorePath="[LocalDS_0]"))
    assert root.folderPath == "[LocalDS_0]"
    assert {"top", "DC0_H0_VM0"} <= {f.path for f in root.file}
    with pytest.raises(faults.FileNotFound) as info:
        run(session, session.call(b, "SearchDatastore_Task", datastorePath="[LocalDS_0] nope"))
    assert info.value.file == "[LocalDS_0] nope"
    with pytest.raises(faults.InvalidDatastore):
        run(session, session.call(b, "SearchDatastore_Task", datastorePath="[other] x"))


def test_file_manager(sim: Target, session: spherekit.Session) -> None:
    fm = session.content.fileManager
    assert fm is not None
    dc = datacenter(session)
    session.call(
        fm, "MakeDirectory", name="[LocalDS_0] a/b/c", datacenter=dc, createParentDirectories=True
    )
    assert sim.backend.storage.is_dir("LocalDS_0", "a/b/c")
    with pytest.raises(faults.FileAlreadyExists) as exists:
        session.call(fm, "MakeDirectory", name="[LocalDS_0] a/b", datacenter=dc)
    assert exists.value.file == "[LocalDS_0] a/b"
    with pytest.raises(faults.FileNotFound) as missing:
        session.call(fm, "MakeDirectory", name="[LocalDS_0] x/y", datacenter=dc)
    assert missing.value.file == "[LocalDS_0] x"
    with pytest.raises(faults.InvalidArgument):
        session.call(fm, "MakeDirectory", name="[LocalDS_0] z")
    with pytest.raises(faults.InvalidDatastore):
        session.call(fm, "MakeDirectory", name="[nope] z", datacenter=dc)
    folder(sim, "PUT", "a/f.txt", session, b"data")
    copy = session.call(
        fm,
        "CopyDatastoreFile_Task",
        sourceName="[LocalDS_0] a/f.txt",
        sourceDatacenter=dc,
        destinationName="[LocalDS_0] a/b/g.txt",
    )
    run(session, copy)
    with pytest.raises(faults.FileAlreadyExists) as clash:
        run(
            session,
            session.call(
                fm,
                "CopyDatastoreFile_Task",
                sourceName="[LocalDS_0] a/f.txt",
                sourceDatacenter=dc,
                destinationName="[LocalDS_0] a/b/g.txt",
            ),
        )
    assert clash.value.file == "[LocalDS_0] a/b/g.txt"
    run(
        session,
        session.call(
            fm,
            "MoveDatastoreFile_Task",
            sourceName="[LocalDS_0] a/b",
            sourceDatacenter=dc,
            destinationName="[LocalDS_0] moved",
        ),
    )
    assert folder(sim, "GET", "moved/g.txt", session).body == b"data"
    run(
        session,
        session.call(
            fm,
            "MoveDatastoreFile_Task",
            sourceName="[LocalDS_0] a/f.txt",
            sourceDatacenter=dc,
            destinationName="[LocalDS_0] moved/g.txt",
            force=True,
        ),
    )
    assert not sim.backend.storage.exists("LocalDS_0", "a/f.txt")
    run(
        session,
        session.call(fm, "DeleteDatastoreFile_Task", name="[LocalDS_0] moved", datacenter=dc),
    )
    with pytest.raises(faults.FileNotFound) as gone:
        run(
            session,
            session.call(fm, "DeleteDatastoreFile_Task", name="[LocalDS_0] moved", datacenter=dc),
        )
    assert gone.value.file == "[LocalDS_0] moved"
    url = "https://sim.invalid/folder/a/b2?dcPath=DC0&dsName=LocalDS_0"
    session.call(fm, "MakeDirectory", name=url)
    assert sim.backend.storage.is_dir("LocalDS_0", "a/b2")
    kinds = [type(e).__name__ for e in sim.backend.events.events]
    assert {
        "DatastoreFileCopiedEvent",
        "DatastoreFileMovedEvent",
        "DatastoreFileDeletedEvent",
    } <= set(kinds)


def test_virtual_disk_manager(sim: Target, session: spherekit.Session) -> None:
    vdm, fm = session.content.virtualDiskManager, session.content.fileManager
    assert vdm is not None and fm is not None
    dc = datacenter(session)
    session.call(fm, "MakeDirectory", name="[LocalDS_0] disks", datacenter=dc)
    name = "[LocalDS_0] disks/d1.vmdk"
    spec = d.FileBackedVirtualDiskSpec(
        diskType="thin", adapterType="lsiLogic", capacityKb=10 * 1024
    )
    free = summary(session).freeSpace
    assert (
        run(
            session,
            session.call(vdm, "CreateVirtualDisk_Task", name=name, datacenter=dc, spec=spec),
        )
        == name
    )
    assert sim.backend.storage.exists("LocalDS_0", "disks/d1-flat.vmdk")
    assert free - summary(session).freeSpace < 4096  # thin: the descriptor only
    with pytest.raises(faults.FileAlreadyExists):
        run(
            session,
            session.call(vdm, "CreateVirtualDisk_Task", name=name, datacenter=dc, spec=spec),
        )
    zero = d.FileBackedVirtualDiskSpec(diskType="thin", adapterType="lsiLogic", capacityKb=0)
    with pytest.raises(faults.InvalidArgument) as bad:
        session.call(
            vdm, "CreateVirtualDisk_Task", name="[LocalDS_0] disks/z.vmdk", datacenter=dc, spec=zero
        )
    assert bad.value.invalidProperty == "capacityKb"
    uuid = session.call(vdm, "QueryVirtualDiskUuid", name=name, datacenter=dc)
    assert uuid.startswith("60 00 c2 9") and len(uuid) == 47
    session.call(
        vdm,
        "SetVirtualDiskUuid",
        name=name,
        datacenter=dc,
        uuid="6000C29a-0000-1111-2222-333344445555",
    )
    assert session.call(vdm, "QueryVirtualDiskUuid", name=name, datacenter=dc) == (
        "60 00 c2 9a 00 00 11 11-22 22 33 33 44 44 55 55"
    )
    chs = session.call(vdm, "QueryVirtualDiskGeometry", name=name, datacenter=dc)
    assert (chs.head, chs.sector) == (255, 63)
    run(
        session,
        session.call(
            vdm, "ExtendVirtualDisk_Task", name=name, datacenter=dc, newCapacityKb=20 * 1024
        ),
    )
    assert sim.backend.storage.path("LocalDS_0", "disks/d1-flat.vmdk").stat().st_size == 20 * MIB
    with pytest.raises(faults.InvalidArgument) as shrink:
        run(
            session,
            session.call(
                vdm, "ExtendVirtualDisk_Task", name=name, datacenter=dc, newCapacityKb=1024
            ),
        )
    assert shrink.value.invalidProperty == "newCapacityKb"
    free = summary(session).freeSpace
    run(session, session.call(vdm, "InflateVirtualDisk_Task", name=name, datacenter=dc))
    assert free - summary(session).freeSpace >= 20 * MIB - 4096  # thick now
    copy = "[LocalDS_0] disks/d2.vmdk"
    run(
        session,
        session.call(
            vdm, "CopyVirtualDisk_Task", sourceName=name, sourceDatacenter=dc, destName=copy
        ),
    )
    assert session.call(vdm, "QueryVirtualDiskUuid", name=copy, datacenter=dc) != (
        session.call(vdm, "QueryVirtualDiskUuid", name=name, datacenter=dc)
    )
    moved = "[LocalDS_0] disks/d3.vmdk"
    run(
        session,
        session.call(
            vdm, "MoveVirtualDisk_Task", sourceName=copy, sourceDatacenter=dc, destName=moved
        ),
    )
    assert not sim.backend.storage.exists("LocalDS_0", "disks/d2-flat.vmdk")
    run(session, session.call(vdm, "DeleteVirtualDisk_Task", name=moved, datacenter=dc))
    assert not sim.backend.storage.exists("LocalDS_0", "disks/d3.vmdk")
    with pytest.raises(faults.FileNotFound):
        run(session, session.call(vdm, "DeleteVirtualDisk_Task", name=moved, datacenter=dc))


def test_storage_defers_folders_and_keeps_the_account(tmp_path: Any) -> None:
    storage = Storage(tmp_path)
    calls: list[str] = []
    storage.listeners.append(calls.append)

    def produce(name: Any) -> dict[str, bytes | Sparse]:
        return {
            f"{name}.vmx": b"x" * 10,
            f"{name}.vmdk": b'ddb.thinProvisioned = "1"\n',
            f"{name}-flat.vmdk": Sparse(MIB),
        }

    storage.defer("ds", "vm1", produce, "vm1", Usage(40, MIB))
    assert not (tmp_path / "ds" / "vm1").exists()
    assert storage.usage("ds") == Usage(40, MIB)
    assert [p.name for p in storage.listdir("ds", "")] == ["vm1"]  # shows, still empty
    assert not (tmp_path / "ds" / "vm1" / "vm1.vmx").exists()
    assert storage.read("ds", "vm1/vm1.vmx") == b"x" * 10
    assert storage.usage("ds") == Usage(10 + 26, MIB) == storage.rescan("ds")
    storage.write("ds", "vm1/vm1-flat.vmdk", bytes(8192))
    assert storage.usage("ds").committed >= 10 + 26 + 8192 - 4096
    storage.copy(("ds", "vm1"), ("ds", "vm2"))
    storage.move(("ds", "vm2"), ("ds", "vm3"))
    assert storage.usage("ds") == storage.rescan("ds")
    storage.delete("ds", "vm3")
    assert storage.usage("ds") == storage.rescan("ds")
    assert calls and set(calls) == {"ds"}
    with pytest.raises(ValueError):
        storage.path("ds", "../x")
