"""pyVmomi drives the datastore file features of the served simulator: /folder uploads and
downloads with its session cookie (as VMware's community samples do), the datastore
browser, FileManager and VirtualDiskManager."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connected, vim, vmodl, wait

MIB = 1024 * 1024


@pytest.fixture
def si() -> Iterator[Any]:
    with Simulator(seed=1) as sim, connected(sim) as conn:
        yield conn


def cookie_of(si: Any) -> str:
    """The cookie header as pyvmomi-community-samples' upload_file_to_datastore.py makes it."""
    raw = si._stub.cookie
    name, rest = raw.split("=", 1)
    value, _, path = rest.partition(";")
    return f"{name}= {value}; ${path.strip()}"


def request(
    si: Any, method: str, path: str, body: bytes = b"", cookie: bool = True
) -> tuple[int, bytes]:
    host, port = si._stub.host.rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=ssl._create_unverified_context())
    try:
        url = f"/folder/{quote(path)}?dcPath=DC0&dsName=LocalDS_0"
        headers = {"Cookie": cookie_of(si)} if cookie else {}
        conn.request(method, url, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def places(si: Any) -> tuple[Any, Any]:
    dc = si.content.rootFolder.childEntity[0]
    return dc, dc.datastore[0]


def test_upload_browse_download_delete(si: Any) -> None:
    dc, ds = places(si)
    assert request(si, "PUT", "iso/tiny.iso", b"ISO!", cookie=False)[0] == 401
    assert request(si, "PUT", "iso/tiny.iso", b"ISO!")[0] == 201
    big = bytes(range(256)) * (40 * MIB // 256)  # beyond the SOAP body limit: streamed
    assert request(si, "PUT", "iso/big.bin", big)[0] == 201
    status, body = request(si, "GET", "iso/big.bin")
    assert status == 200 and body == big
    spec = vim.host.DatastoreBrowser.SearchSpec(
        matchPattern=["*"],
        details=vim.host.DatastoreBrowser.FileInfo.Details(
            fileType=True, fileSize=True, modification=True, fileOwner=True
        ),
        query=[vim.host.DatastoreBrowser.IsoImageQuery(), vim.host.DatastoreBrowser.Query()],
    )
    result = wait(ds.browser.SearchDatastore_Task("[LocalDS_0] iso", spec))
    assert result.folderPath == "[LocalDS_0] iso"
    assert [(type(f).__name__, f.path, f.fileSize) for f in result.file] == [
        ("vim.host.DatastoreBrowser.FileInfo", "big.bin", len(big)),
        ("vim.host.DatastoreBrowser.IsoImageInfo", "tiny.iso", 4),
    ]
    wait(si.content.fileManager.DeleteDatastoreFile_Task("[LocalDS_0] iso/big.bin", dc))
    assert request(si, "GET", "iso/big.bin")[0] == 404
    with pytest.raises(vim.fault.FileNotFound) as info:
        wait(si.content.fileManager.DeleteDatastoreFile_Task("[LocalDS_0] iso/big.bin", dc))
    assert info.value.file == "[LocalDS_0] iso/big.bin"


def test_vm_folders_and_subfolder_search(si: Any) -> None:
    _dc, ds = places(si)
    spec = vim.host.DatastoreBrowser.SearchSpec(
        query=[
            vim.host.DatastoreBrowser.VmDiskQuery(
                details=vim.host.DatastoreBrowser.VmDiskQuery.Details(
                    diskType=True, capacityKb=True, hardwareVersion=True, thin=True
                )
            )
        ],
        details=vim.host.DatastoreBrowser.FileInfo.Details(fileType=True, fileSize=True),
    )
    results = wait(ds.browser.SearchDatastoreSubFolders_Task("[LocalDS_0]", spec))
    disks = {f.path: f for r in results for f in r.file}
    assert set(disks) == {
        "DC0_H0_VM0.vmdk",
        "DC0_H0_VM1.vmdk",
        "DC0_C0_RP0_VM0.vmdk",
        "DC0_C0_RP0_VM1.vmdk",
    }
    disk = disks["DC0_H0_VM0.vmdk"]
    assert isinstance(disk, vim.host.DatastoreBrowser.VmDiskInfo)
    assert (disk.capacityKb, disk.thin) == (1024 * 1024, True)
    vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    assert (
        vm.config.hardware.device[-2].backing.fileName == "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0.vmdk"
    )


def test_file_manager_and_virtual_disk_manager(si: Any) -> None:
    dc, ds = places(si)
    fm, vdm = si.content.fileManager, si.content.virtualDiskManager
    fm.MakeDirectory("[LocalDS_0] disks/a", dc, True)
    with pytest.raises(vim.fault.FileAlreadyExists):
        fm.MakeDirectory("[LocalDS_0] disks/a", dc)
    free = ds.summary.freeSpace
    spec = vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
        diskType="eagerZeroedThick", adapterType="lsiLogic", capacityKb=64 * 1024
    )
    name = "[LocalDS_0] disks/a/d.vmdk"
    assert wait(vdm.CreateVirtualDisk_Task(name, dc, spec)) == name
    assert free - ds.summary.freeSpace >= 64 * MIB  # thick: the capacity is committed
    uuid = vdm.QueryVirtualDiskUuid(name, dc)
    assert len(uuid.replace(" ", "").replace("-", "")) == 32
    with pytest.raises(vmodl.fault.InvalidArgument):
        wait(vdm.ExtendVirtualDisk_Task(name, dc, 1024, False))
    wait(vdm.ExtendVirtualDisk_Task(name, dc, 128 * 1024, False))
    wait(fm.MoveDatastoreFile_Task("[LocalDS_0] disks/a", dc, "[LocalDS_0] moved", dc))
    assert vdm.QueryVirtualDiskUuid("[LocalDS_0] moved/d.vmdk", dc) == uuid
    geometry = vdm.QueryVirtualDiskGeometry("[LocalDS_0] moved/d.vmdk", dc)
    assert geometry.cylinder == 128 * 1024 * 2 // (255 * 63)
    wait(vdm.DeleteVirtualDisk_Task("[LocalDS_0] moved/d.vmdk", dc))
    assert ds.summary.freeSpace == free
    with pytest.raises(vim.fault.FileNotFound):
        vdm.QueryVirtualDiskUuid("[LocalDS_0] moved/d.vmdk", dc)
