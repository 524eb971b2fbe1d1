"""The datastore blob flow against govmomi's vcsim (a peer nobody here wrote).

vcsim serves ``/folder`` GET/PUT/DELETE (files land in a temp directory per datastore), the
HostDatastoreBrowser and the FileManager tasks, so the whole flow runs there too. Its
departures from vCenter, as seen by these tests (govmomi 0.24.2):

- ``SearchDatastore_Task`` without ``matchPattern`` lists nothing (vCenter lists every
  entry), so :mod:`spherekit.transfer.datastore` always sends ``["*"]``, which both accept;
- only names, sizes and folder flags are compared (timestamps are the host's).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator

import pytest

from spherekit.compute import Journal, OperationFailed
from spherekit.session import Session
from spherekit.transfer import datastore as ds
from tests.interop.vcsim import Vcsim, connect_to, start_peer

DC, DS = "DC0", "LocalDS_0"


@pytest.fixture(scope="module")
def vcsim() -> Iterator[Vcsim]:
    """A vcsim with one VM per pool (quick to start; these tests need files, not VMs)."""
    sim = start_peer(vm=1)
    yield sim
    sim.stop()


@pytest.fixture
def session(vcsim: Vcsim) -> Iterator[Session]:
    with connect_to(vcsim) as s:
        yield s


def test_blob_round_trip_on_vcsim(session: Session) -> None:
    journal = Journal()
    data = os.urandom(3 * 1024 * 1024 + 7)
    ds.mkdir(session, DC, DS, "sk-blobs", journal=journal, exist_ok=True)
    up = ds.upload(session, DC, DS, "sk-blobs/a.bin", io.BytesIO(data), journal=journal,
                   verify="full", overwrite=True)  # fmt: skip
    assert up.sha256 == hashlib.sha256(data).hexdigest()
    entries = ds.ls(session, DC, DS, "sk-blobs")
    assert [(f.name, f.size, f.is_folder) for f in entries] == [("a.bin", len(data), False)]
    assert ds.stat(session, DC, DS, "sk-blobs").is_folder
    out = io.BytesIO()
    assert ds.download(session, DC, DS, "sk-blobs/a.bin", out).sha256 == up.sha256
    assert out.getvalue() == data
    assert ds.rm(session, DC, DS, "sk-blobs", journal=journal)
    assert not ds.rm(session, DC, DS, "sk-blobs", journal=journal, missing_ok=True)
    with pytest.raises(ds.PathNotFound):
        ds.stat(session, DC, DS, "sk-blobs")
    methods = [e.method for e in journal.entries() if e.method != "task"]
    assert methods == ["MakeDirectory", "PUT /folder", "MoveDatastoreFile_Task",
                       "DeleteDatastoreFile_Task"]  # fmt: skip


def test_a_refused_rename_on_vcsim_leaves_no_tmp(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcsim's MoveDatastoreFile_Task fails with FileAlreadyExists without force, as
    vCenter's does: the upload is undone and its .tmp removed."""
    journal = Journal()
    ds.upload(session, DC, DS, "sk-race.bin", io.BytesIO(b"first"), journal=journal,
              overwrite=True)  # fmt: skip
    # another client creates the target between our check and our rename: the check
    # is made blind to it
    original = ds._lookup

    def blind(session: Session, store: ds.Datastore, rel: str) -> ds.DatastoreFile | None:
        return None if rel == "sk-race.bin" else original(session, store, rel)

    monkeypatch.setattr(ds, "_lookup", blind)
    with pytest.raises(OperationFailed, match="FileAlreadyExists"):
        ds.upload(session, DC, DS, "sk-race.bin", io.BytesIO(b"second"), journal=journal)
    monkeypatch.undo()
    names = [f.name for f in ds.ls(session, DC, DS)]
    assert "sk-race.bin" in names and "sk-race.bin.tmp" not in names
    back = io.BytesIO()
    ds.download(session, DC, DS, "sk-race.bin", back)
    assert back.getvalue() == b"first"
    assert journal.entries()[-1].outcome == "undo ok"
    ds.rm(session, DC, DS, "sk-race.bin", journal=journal)
