"""The datastore as a blob store, against spherekit.sim: ls, stat, mkdir, rm, upload, download."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

import spherekit
from spherekit.compute import Journal, OperationFailed
from spherekit.errors import UsageError
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.transfer import datastore as ds
from spherekit.transfer import http

DC, DS = "DC0", "LocalDS_0"


def _names(session: Session, path: str = "") -> list[str]:
    return [f.name for f in ds.ls(session, DC, DS, path)]


def _blob(tmp_path: Path, size: int) -> tuple[Path, str]:
    path = tmp_path / "blob.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_upload_ls_stat_download_round_trip(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    src, digest = _blob(tmp_path, 3 * http.CHUNK + 123)
    seen: list[tuple[int, int | None]] = []
    up = ds.upload(session, DC, DS, "blobs/a.bin", src, journal=journal,
                   on_progress=lambda done, total: seen.append((done, total)))  # fmt: skip
    assert (up.size, up.sha256) == (src.stat().st_size, digest)
    assert seen[0] == (0, up.size) and seen[-1] == (up.size, up.size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    assert _names(session, "blobs") == ["a.bin"]  # no .tmp left
    st = ds.stat(session, DC, DS, "blobs/a.bin")
    assert (st.path, st.size, st.is_folder) == ("blobs/a.bin", up.size, False)
    assert st.modified is not None
    assert ds.stat(session, DC, DS, "blobs").is_folder
    assert ds.ls(session, DC, DS, "blobs/a.bin") == [st]  # ls of a file: the file

    got: list[tuple[int, int | None]] = []
    down = ds.download(session, DC, DS, "blobs/a.bin", tmp_path / "out.bin",
                       on_progress=lambda done, total: got.append((done, total)))  # fmt: skip
    assert (down.size, down.sha256) == (up.size, digest)
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert got[-1] == (up.size, up.size)
    assert not (tmp_path / "out.bin.part").exists()

    steps = [(e.method, e.target, e.outcome) for e in journal.entries()]
    assert steps[0] == ("PUT /folder", "[LocalDS_0] blobs/a.bin.tmp", "ok")
    assert digest in journal.entries()[0].extra["result"]  # the journal has the checksum
    assert [s[0] for s in steps[1:]] == ["MoveDatastoreFile_Task", "task"]


def test_upload_from_a_file_object_with_full_verification(
    session: Session, journal: Journal
) -> None:
    data = b"x" * 5000
    up = ds.upload(session, DC, DS, "f.txt", io.BytesIO(data), journal=journal, verify="full")
    assert up.sha256 == hashlib.sha256(data).hexdigest()
    out = io.BytesIO()
    assert ds.download(session, DC, DS, "f.txt", out).sha256 == up.sha256
    assert out.getvalue() == data


def test_overwrite_is_explicit(session: Session, journal: Journal) -> None:
    ds.upload(session, DC, DS, "o.txt", io.BytesIO(b"one"), journal=journal)
    before = len(journal.entries())
    with pytest.raises(UsageError, match="overwrite=True"):
        ds.upload(session, DC, DS, "o.txt", io.BytesIO(b"two"), journal=journal)
    assert len(journal.entries()) == before  # refused before any write
    ds.upload(session, DC, DS, "o.txt", io.BytesIO(b"two!"), journal=journal, overwrite=True)
    assert ds.stat(session, DC, DS, "o.txt").size == 4


def test_a_failed_rename_leaves_no_tmp_and_the_journal_tells_it(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    sim.control.add_fault({"method": "MoveDatastoreFile_Task", "stage": "task",
                           "fault": "NoDiskSpace", "count": 1})  # fmt: skip
    with pytest.raises(OperationFailed) as caught:
        ds.upload(session, DC, DS, "blobs/b.bin", io.BytesIO(b"data" * 100), journal=journal)
    assert "NoDiskSpace" in type(caught.value.cause).__name__
    assert "undone: remove [LocalDS_0] blobs/b.bin.tmp" in str(caught.value)
    assert _names(session, "blobs") == []  # neither the file nor its .tmp
    steps = [(e.method, e.outcome) for e in journal.entries()]
    assert steps == [
        ("PUT /folder", "ok"),
        ("MoveDatastoreFile_Task", "started"),
        ("task", "error: NoDiskSpace"),
        ("DeleteDatastoreFile_Task", "started"),
        ("task", "ok"),
        ("undo", "undo ok"),
    ]


def test_a_source_that_fails_midway_leaves_nothing(session: Session, journal: Journal) -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            raise OSError("disk read error")

    with pytest.raises(OperationFailed, match="disk read error"):
        ds.upload(session, DC, DS, "c.bin", Broken(), size=10, journal=journal)  # type: ignore[arg-type]
    assert "c.bin" not in _names(session) and "c.bin.tmp" not in _names(session)
    assert journal.entries()[0].outcome == "error: SourceError"


def test_plan_lists_the_writes_and_makes_none(session: Session, journal: Journal) -> None:
    up = ds.upload(session, DC, DS, "p.bin", io.BytesIO(b"abc"), journal=journal, plan=True)
    assert [c.method for c in up.planned] == ["PUT /folder", "MoveDatastoreFile_Task"]
    assert up.planned[0].target == "[LocalDS_0] p.bin.tmp"
    assert "p.bin" not in _names(session)
    assert ds.mkdir(session, DC, DS, "planned-dir", journal=journal, plan=True)
    assert "planned-dir" not in _names(session)
    assert {e.outcome for e in journal.entries()} == {"planned"}


def test_mkdir_and_rm_idempotency(session: Session, journal: Journal) -> None:
    assert ds.mkdir(session, DC, DS, "d1/d2", journal=journal)
    assert ds.stat(session, DC, DS, "d1/d2").is_folder
    assert not ds.mkdir(session, DC, DS, "d1/d2", journal=journal, exist_ok=True)
    with pytest.raises(UsageError, match="already exists"):
        ds.mkdir(session, DC, DS, "d1/d2", journal=journal)
    ds.upload(session, DC, DS, "d1/d2/f", io.BytesIO(b"1"), journal=journal)
    assert ds.rm(session, DC, DS, "d1", journal=journal)  # a folder with its contents
    assert "d1" not in _names(session)
    writes = len(journal.entries())
    assert ds.rm(session, DC, DS, "d1", journal=journal, missing_ok=True) is False
    with pytest.raises(ds.PathNotFound, match="nothing at"):
        ds.rm(session, DC, DS, "d1", journal=journal)
    assert len(journal.entries()) == writes  # a missing path writes nothing
    with pytest.raises(UsageError, match="root"):
        ds.rm(session, DC, DS, "", journal=journal)


def test_bad_input_is_refused_before_any_write(
    session: Session, journal: Journal, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="datacenters: DC0"):
        ds.upload(session, "nope", DS, "x", io.BytesIO(b""), journal=journal)
    with pytest.raises(UsageError, match="its datastores: LocalDS_0"):
        ds.ls(session, DC, "nope")
    with pytest.raises(UsageError, match="is not a file"):
        ds.upload(session, DC, DS, "x", tmp_path / "missing", journal=journal)
    with pytest.raises(UsageError, match=r"\.\."):
        ds.stat(session, DC, DS, "../etc")
    with pytest.raises(UsageError, match="folder"):
        ds.upload(session, DC, DS, "DC0_H0_VM0", io.BytesIO(b"x"), journal=journal)
    with pytest.raises(ds.PathNotFound):
        ds.download(session, DC, DS, "nothing.bin", io.BytesIO())
    with pytest.raises(ds.PathNotFound):
        ds.ls(session, DC, DS, "no/such/dir")
    ds.upload(session, DC, DS, "stale", io.BytesIO(b"x"), journal=journal)
    (tmp_path / "exists").write_bytes(b"keep")
    with pytest.raises(UsageError, match="overwrite=True"):
        ds.download(session, DC, DS, "stale", tmp_path / "exists")
    assert (tmp_path / "exists").read_bytes() == b"keep"
    assert [e.method for e in journal.entries()] == ["PUT /folder", "MoveDatastoreFile_Task",
                                                     "task"]  # fmt: skip


# --- over the wire: streamed, with bounded memory ---------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """A simulator in another process, so tracemalloc measures the client alone."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "spherekit.sim", "serve", "--no-tls", "--vms", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_big_files_stream_with_bounded_memory(served: str, tmp_path: Path) -> None:
    src, digest = _blob(tmp_path, 20 * 1024 * 1024)
    bound = 4 * http.CHUNK  # a few chunks in flight, never the file
    with spherekit.connect(served) as session:
        tracemalloc.start()
        try:
            up = ds.upload(session, DC, DS, "big/big.bin", src)
            _, up_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            down = ds.download(session, DC, DS, "big/big.bin", tmp_path / "back.bin")
            _, down_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        ds.rm(session, DC, DS, "big")
    assert up.sha256 == down.sha256 == digest
    assert up_peak < bound, f"upload peak {up_peak} bytes"
    assert down_peak < bound, f"download peak {down_peak} bytes"
