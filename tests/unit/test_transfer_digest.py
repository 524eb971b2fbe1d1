"""spherekit.transfer.digest: the one hashing helper of uploads, downloads and OVF imports."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import pytest

from spherekit.transfer import digest as dg
from spherekit.transfer.digest import Digest


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spherekit-digest"]


def test_digests_match_hashlib_over_small_and_large_chunks_in_order() -> None:
    chunks = [os.urandom(n) for n in (10, dg.THREADED, 3, 5 * dg.THREADED + 7, 1, dg.BEHIND, 99)]
    d = Digest(["sha1", "SHA512"])
    for c in chunks:
        d.update(c)
    whole = b"".join(chunks)
    assert d.size == len(whole)
    assert d.hexdigests() == {
        "sha256": hashlib.sha256(whole).hexdigest(),
        "sha1": hashlib.sha1(whole).hexdigest(),
        "sha512": hashlib.sha512(whole).hexdigest(),
    }
    assert d.hexdigest("SHA1") == hashlib.sha1(whole).hexdigest()
    assert d.algorithms == ["sha256", "sha1", "sha512"]
    assert _workers() == []  # the worker ended with the digest


def test_sha256_is_always_computed_once() -> None:
    d = Digest(["sha256", "sha256"])
    d.update(b"abc")
    assert d.algorithms == ["sha256"]
    assert d.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_small_chunks_are_hashed_in_place_without_a_thread() -> None:
    d = Digest()
    for _ in range(100):
        d.update(b"x" * (dg.THREADED - 1))
        assert _workers() == []
    assert d.hexdigest() == hashlib.sha256(b"x" * (dg.THREADED - 1) * 100).hexdigest()


def test_a_large_chunk_starts_the_worker_and_later_small_ones_keep_their_order() -> None:
    big = os.urandom(dg.THREADED)
    d = Digest()
    d.update(b"head")
    d.update(big)
    assert len(_workers()) == 1
    d.update(b"tail")
    assert d.hexdigest() == hashlib.sha256(b"head" + big + b"tail").hexdigest()
    assert _workers() == []


def test_buffers_that_may_change_are_copied_before_the_worker_reads_them() -> None:
    buf = bytearray(os.urandom(2 * dg.THREADED))
    original = bytes(buf)
    d = Digest()
    d.update(buf)
    d.update(memoryview(buf)[: dg.THREADED])
    buf[:] = b"\0" * len(buf)  # the caller reuses its buffer at once
    expected = hashlib.sha256(original + original[: dg.THREADED]).hexdigest()
    assert d.hexdigest() == expected


class _Gate:
    """A hash whose update blocks until the gate opens (a slow hasher)."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()
        self.seen = 0

    def update(self, data: bytes) -> None:
        self.entered.set()
        self.open.wait()
        self.seen += len(data)

    def hexdigest(self) -> str:
        return str(self.seen)


def test_update_waits_while_the_worker_is_a_full_bound_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dg, "BEHIND", 2 * dg.THREADED)
    d = Digest()
    gate = _Gate()
    d._hashes["sha256"] = gate  # type: ignore[assignment]
    d.update(b"a" * dg.THREADED)  # the worker takes it and blocks in the hash
    assert gate.entered.wait(10)
    d.update(b"b" * dg.THREADED)  # within the bound: queued
    third = threading.Thread(target=d.update, args=(b"c" * dg.THREADED,))
    third.start()
    third.join(0.3)
    assert third.is_alive(), "update should wait while the worker is BEHIND bytes behind"
    gate.open.set()
    third.join(10)
    assert not third.is_alive()
    assert d.hexdigests() == {"sha256": str(3 * dg.THREADED)}


def test_close_stops_the_worker_and_drops_what_is_left() -> None:
    d = Digest()
    gate = _Gate()
    d._hashes["sha256"] = gate  # type: ignore[assignment]
    d.update(b"a" * dg.THREADED)
    assert gate.entered.wait(10)
    closer = threading.Thread(target=d.close)
    closer.start()
    gate.open.set()
    closer.join(10)
    assert not closer.is_alive() and _workers() == []
    d.close()  # idempotent
    with pytest.raises(ValueError, match="closed before it finished"):
        d.hexdigests()
    with pytest.raises(ValueError, match="finished"):
        d.update(b"more")


def test_a_finished_digest_stays_readable_and_refuses_more() -> None:
    with Digest() as d:
        d.update(b"abc")
        first = d.hexdigest()
    assert d.hexdigest() == first == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(ValueError, match="start a new one"):
        d.update(b"d")


def test_an_unknown_algorithm_is_refused_at_once() -> None:
    with pytest.raises(ValueError):
        Digest(["no-such-hash"])


def test_many_concurrent_digests_do_not_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dg, "BEHIND", dg.THREADED)
    datas = [os.urandom(3 * dg.THREADED + i) for i in range(6)]
    out: dict[int, str] = {}

    def run(i: int) -> None:
        d = Digest()
        data = datas[i]
        for at in range(0, len(data), dg.THREADED):
            d.update(data[at : at + dg.THREADED])
        out[i] = d.hexdigest()

    threads: list[Any] = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert out == {i: hashlib.sha256(d).hexdigest() for i, d in enumerate(datas)}
