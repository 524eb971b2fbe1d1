"""OVF packages as streams: an ``.ova`` (a tar) or an ``.ovf`` with its files, local or remote.

Nothing is unpacked to a temporary directory. A local OVA is read in place (the tar's
headers are read once, each member's bytes straight from the archive); a remote one
(``http(s)://``) is read as it arrives, twice: once up to the descriptor and manifest
(they come first, as the OVA format requires), once for the disks, in archive order.

:func:`parse_manifest` reads ``.mf`` lines (``SHA256(name)= hex`` or ``SHA1(name)= hex``);
:func:`check_digest` checks a file against them, with the digests its transfer computed
while the bytes went by (:class:`~spherekit.transfer.digest.Digest`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import urlsplit

from spherekit.errors import SpherekitError, UsageError
from spherekit.wire.transport import HttpTransport, Transport

__all__ = [
    "CHUNK",
    "ChecksumMismatch",
    "ManifestEntry",
    "Package",
    "PackageError",
    "Reader",
    "check_digest",
    "open_package",
    "parse_manifest",
]

#: bytes per chunk read from a package
CHUNK = 1 << 20
#: a descriptor or manifest larger than this is not one
_MAX_TEXT = 32 << 20
_MF_LINE = re.compile(r"^(SHA256|SHA1|SHA512)\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$")


class PackageError(UsageError):
    """The OVA / OVF package is missing, unreadable or inconsistent (found before any write)."""


class ChecksumMismatch(SpherekitError):
    """A file's bytes do not match its manifest digest (found while streaming it)."""


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    algorithm: str  # "sha256", "sha1" or "sha512"
    digest: str  # lower-case hex


def parse_manifest(text: bytes, where: str) -> dict[str, ManifestEntry]:
    """The entries of a ``.mf`` file; :class:`PackageError` for a malformed line."""
    out: dict[str, ManifestEntry] = {}
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise PackageError(f"{where}: the manifest is not text; the package is corrupt") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _MF_LINE.match(line.strip())
        if m is None:
            raise PackageError(
                f"{where}, line {n}: {line.strip()[:80]!r} is not a manifest line "
                "(expected 'SHA256(file)= <hex>'); the package is corrupt"
            )
        algo, name, digest = m.group(1).lower(), m.group(2), m.group(3).lower()
        if len(digest) != hashlib.new(algo).digest_size * 2:
            raise PackageError(f"{where}, line {n}: {algo} digest of {name} has a wrong length")
        out[name] = ManifestEntry(name, algo, digest)
    return out


def check_digest(name: str, entry: ManifestEntry | None, digests: Mapping[str, str]) -> None:
    """Raise :class:`ChecksumMismatch` unless ``digests`` (hex by algorithm, as a transfer
    computed them, see :mod:`~spherekit.transfer.digest`) has the manifest's digest of
    ``name``; a file the manifest does not list passes."""
    if entry is None:
        return
    got = digests.get(entry.algorithm)
    if got is None:
        raise ValueError(f"{name}: no {entry.algorithm} was computed to check it against")
    if got != entry.digest:
        raise ChecksumMismatch(
            f"{name}: {entry.algorithm} is {got}, the manifest says {entry.digest}; the "
            "package is corrupt (download it again)"
        )


def _clean(name: str) -> str:
    return posixpath.normpath(name.lstrip("./") if name.startswith("./") else name)


def _safe_href(href: str, where: str) -> str:
    clean = posixpath.normpath(href)
    if clean.startswith(("/", "../")) or clean == ".." or "://" in href:
        raise PackageError(f"{where}: file reference {href!r} points outside the package")
    return clean


class Package(ABC):
    """An OVF package: its descriptor, its manifest, and its files as chunk streams."""

    source: str
    descriptor_name: str
    descriptor: bytes
    manifest_bytes: bytes | None
    manifest: dict[str, ManifestEntry]

    def _load_manifest(self, data: bytes | None, where: str) -> None:
        self.manifest_bytes = data
        self.manifest = parse_manifest(data, where) if data is not None else {}
        entry = self.manifest.get(self.descriptor_name)
        if entry is not None:
            got = {entry.algorithm: hashlib.new(entry.algorithm, self.descriptor).hexdigest()}
            try:
                check_digest(self.descriptor_name, entry, got)
            except ChecksumMismatch as e:
                raise PackageError(str(e)) from None

    @property
    def digest(self) -> str:
        """SHA-256 of the descriptor and manifest: the package's content address."""
        h = hashlib.sha256(self.descriptor)
        if self.manifest_bytes is not None:
            h.update(self.manifest_bytes)
        return h.hexdigest()

    def missing(self, names: Iterable[str]) -> list[str]:
        """Files among ``names`` that are known not to be in the package (checked upfront)."""
        return []

    def size_of(self, name: str) -> int | None:
        """A file's size, when known before reading it."""
        return None

    @abstractmethod
    def files(self, names: Iterable[str]) -> Iterator[tuple[str, Reader, int | None]]:
        """``(name, reader, size)`` for each of ``names``, in the package's order; each
        reader must be read to its end before the next is taken. A missing file raises
        PackageError."""

    _owned: Transport | None = None

    def close(self) -> None:
        """Release open files and connections."""
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_all(chunks: Iterable[bytes], what: str) -> bytes:
    buf = bytearray()
    for c in chunks:
        buf += c
        if len(buf) > _MAX_TEXT:
            raise PackageError(f"{what} is larger than {_MAX_TEXT} bytes; it is not an OVF file")
    return bytes(buf)


class Reader(Protocol):
    """What a package file is read through."""

    def read(self, n: int = -1, /) -> bytes: ...


def _member_chunks(f: Reader) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _is_descriptor(name: str) -> bool:
    return name.lower().endswith(".ovf")


class _TarPackage(Package):
    """An OVA read through :mod:`tarfile` from a seekable file or a stream."""

    def _scan_head(self, tar: tarfile.TarFile) -> None:
        """Read the descriptor and the manifest (the first members)."""
        descriptor: bytes | None = None
        manifest: bytes | None = None
        for m in tar:
            if not m.isfile():
                continue
            name = _clean(m.name)
            if descriptor is None and _is_descriptor(name):
                f = tar.extractfile(m)
                assert f is not None
                self.descriptor_name = name
                descriptor = _read_all(_member_chunks(f), f"{self.source}: {name}")
            elif manifest is None and name.lower().endswith(".mf"):
                f = tar.extractfile(m)
                assert f is not None
                manifest = _read_all(_member_chunks(f), f"{self.source}: {name}")
            elif descriptor is not None and not name.lower().endswith((".cert", ".mf")):
                break  # past the head: the disks follow
        if descriptor is None:
            raise PackageError(f"{self.source} holds no .ovf descriptor; it is not an OVA")
        self.descriptor = descriptor
        self._load_manifest(manifest, f"{self.source}: manifest")


def _fileno(tar: tarfile.TarFile) -> int | None:
    """The descriptor of a tar read from a plain file (where :func:`os.pread` works)."""
    if not hasattr(os, "pread"):
        return None
    fileno = getattr(tar.fileobj, "fileno", None)
    try:
        fd = fileno() if fileno is not None else None
    except (OSError, ValueError):
        return None
    return fd if isinstance(fd, int) else None


class _Member:
    """A regular (not sparse) member of a local tar, read in place with :func:`os.pread`:
    one copy from the page cache into each chunk (:meth:`tarfile.TarFile.extractfile` adds
    one more through its buffer), and no file position shared with other readers.
    Seekable, so an upload can send it again."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        self._fd, self._offset, self._size = fd, offset, size
        self._pos = 0

    def read(self, n: int = -1, /) -> bytes:
        left = self._size - self._pos
        n = left if n < 0 else min(n, left)
        if n <= 0:
            return b""
        data = os.pread(self._fd, n, self._offset + self._pos)
        if not data:
            raise OSError(f"the archive ends {left} bytes before the member does")
        self._pos += len(data)
        return data

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos


class _LocalOva(_TarPackage):
    def __init__(self, path: Path) -> None:
        self.source = str(path)
        try:
            self._tar = tarfile.open(path, "r:")  # noqa: SIM115 - closed by close()
        except (tarfile.TarError, OSError) as e:
            raise PackageError(f"{path} is not a readable OVA (a tar archive): {e}") from None
        try:
            self._members = {_clean(m.name): m for m in self._tar.getmembers() if m.isfile()}
            self._scan_head(self._tar)
        except tarfile.TarError as e:
            self._tar.close()
            raise PackageError(f"{path}: the archive is corrupt ({e})") from None
        except BaseException:
            self._tar.close()
            raise

    def missing(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if n not in self._members]

    def size_of(self, name: str) -> int | None:
        m = self._members.get(name)
        return m.size if m is not None else None

    def files(self, names: Iterable[str]) -> Iterator[tuple[str, Reader, int | None]]:
        wanted = set(names)
        fd = _fileno(self._tar)
        for name, m in sorted(self._members.items(), key=lambda kv: kv[1].offset):
            if name in wanted:
                if fd is not None and not m.issparse():
                    reader: Reader = _Member(fd, m.offset_data, m.size)
                else:
                    f = self._tar.extractfile(m)
                    assert f is not None
                    reader = f
                yield name, reader, m.size
                wanted.discard(name)
        if wanted:
            raise PackageError(f"{self.source} lacks {', '.join(sorted(wanted))}")

    def close(self) -> None:
        self._tar.close()
        super().close()


class _LocalOvf(Package):
    def __init__(self, path: Path) -> None:
        self.source = str(path)
        self._dir = path.parent
        self.descriptor_name = path.name
        try:
            self.descriptor = path.read_bytes()
        except OSError as e:
            raise PackageError(f"cannot read {path}: {e.strerror or e}") from None
        mf = path.with_suffix(".mf")
        self._load_manifest(mf.read_bytes() if mf.is_file() else None, str(mf))

    def missing(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if not (self._dir / _safe_href(n, self.source)).is_file()]

    def size_of(self, name: str) -> int | None:
        p = self._dir / _safe_href(name, self.source)
        return p.stat().st_size if p.is_file() else None

    def files(self, names: Iterable[str]) -> Iterator[tuple[str, Reader, int | None]]:
        for name in names:
            p = self._dir / _safe_href(name, self.source)
            try:
                f = p.open("rb")
            except OSError as e:
                raise PackageError(f"cannot read {p}: {e.strerror or e}") from None
            with f:
                yield name, f, p.stat().st_size


def open_package(source: str | Path, *, transport: Transport | None = None) -> Package:
    """Open an OVF package: a local ``.ova`` / ``.ovf`` path or an ``http(s)://`` URL.

    ``transport`` fetches a URL: a transport for the URL's origin (default: an
    :class:`HttpTransport`, TLS verified). Raises :class:`PackageError` for a missing,
    unreadable or corrupt package (including a descriptor whose manifest digest does not
    match).
    """
    text = str(source)
    if text.startswith(("http://", "https://")):
        from spherekit.transfer.ova_remote import RemoteOva, RemoteOvf

        parts = urlsplit(text)
        owned = None
        if transport is None:
            transport = owned = HttpTransport(f"{parts.scheme}://{parts.netloc}")
        package: Package = (
            RemoteOvf(text, transport)
            if parts.path.lower().endswith(".ovf")
            else RemoteOva(text, transport)
        )
        package._owned = owned
        return package
    path = Path(source)
    if not path.is_file():
        raise PackageError(f"{path} does not exist (or is not a file); pass an .ova or .ovf")
    if path.suffix.lower() == ".ovf":
        return _LocalOvf(path)
    return _LocalOva(path)
