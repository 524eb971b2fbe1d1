"""spherekit.transfer.ova: local OVA members read in place, and manifest digests checked."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from spherekit.transfer.ova import (
    ChecksumMismatch,
    ManifestEntry,
    check_digest,
    open_package,
)
from tests.compute.test_image_import import make_ova

OVF = b'<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'


def test_members_of_a_local_ova_are_read_in_place_in_any_chunk_size(tmp_path: Path) -> None:
    a, b = os.urandom(3000), os.urandom(70_000)
    ova = make_ova(tmp_path / "p.ova", [("x.ovf", OVF), ("a.vmdk", a), ("b.vmdk", b)])
    with open_package(ova) as pkg:
        got = {}
        for name, reader, size in pkg.files(["b.vmdk", "a.vmdk"]):
            assert type(reader).__name__ == "_Member"
            parts = []
            while chunk := reader.read(4096):
                parts.append(chunk)
            assert reader.read(10) == b""
            got[name] = (b"".join(parts), size)
    assert got == {"a.vmdk": (a, len(a)), "b.vmdk": (b, len(b))}


def test_a_member_can_be_rewound_to_send_it_again(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    ova = make_ova(tmp_path / "p.ova", [("x.ovf", OVF), ("d.vmdk", data)])
    with open_package(ova) as pkg:
        ((_, reader, _),) = pkg.files(["d.vmdk"])
        member = reader
        assert member.seekable()  # type: ignore[attr-defined]
        assert member.read(100) == data[:100]
        assert member.tell() == 100  # type: ignore[attr-defined]
        member.seek(0)  # type: ignore[attr-defined]
        assert member.read() == data
        member.seek(-10, os.SEEK_END)  # type: ignore[attr-defined]
        assert member.read() == data[-10:]


def test_an_archive_cut_short_while_read_is_an_os_error(
    tmp_path: Path,
) -> None:
    data = os.urandom(50_000)
    ova = make_ova(tmp_path / "p.ova", [("x.ovf", OVF), ("d.vmdk", data)])
    with open_package(ova) as pkg:
        with ova.open("r+b") as f:  # opened whole (a cut one is refused at open), then cut
            f.truncate(ova.stat().st_size - 40_000)
        ((_, reader, size),) = pkg.files(["d.vmdk"])
        assert size == len(data)
        with pytest.raises(OSError, match=r"the archive ends \d+ bytes before the member does"):
            while reader.read(8192):
                pass


def test_check_digest_passes_a_match_and_an_unlisted_file() -> None:
    entry = ManifestEntry("d.vmdk", "sha1", hashlib.sha1(b"disk").hexdigest())
    check_digest("d.vmdk", entry, {"sha256": "x", "sha1": hashlib.sha1(b"disk").hexdigest()})
    check_digest("other.vmdk", None, {})


def test_check_digest_refuses_a_mismatch_with_what_to_do() -> None:
    entry = ManifestEntry("d.vmdk", "sha256", hashlib.sha256(b"disk").hexdigest())
    bad = hashlib.sha256(b"disc").hexdigest()
    with pytest.raises(ChecksumMismatch, match=f"d.vmdk: sha256 is {bad}, the manifest says"):
        check_digest("d.vmdk", entry, {"sha256": bad})
    with pytest.raises(ValueError, match="no sha256 was computed"):
        check_digest("d.vmdk", entry, {"sha1": "x"})
