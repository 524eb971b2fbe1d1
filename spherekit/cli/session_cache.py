"""The command line's session cache: the cookies ``spherekit session login`` keeps.

A later command against the same target presents the cached cookie instead of logging in
(``spherekit.connect(cookie=...)`` checks with the server that the session is still alive
first). The cache is one JSON file per user, ``$XDG_CACHE_HOME/spherekit/sessions.json``
(default ``~/.cache/spherekit/sessions.json``), mode 0600, with one entry per target: the
URL (without credentials) and the user name. It holds cookies, never passwords. Every
change is a read-modify-write under a lock file, written to a temporary file and renamed
over the old one, so concurrent commands never see half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from spherekit.errors import SpherekitError, UsageError

__all__ = ["CacheCorrupt", "Entry", "SessionCache", "cache_path", "split_url"]

#: the format of the file; a file of another version is treated as unreadable
VERSION = 1
_FIELDS = {"url": str, "user": str, "cookie": str, "saved": str}


class CacheCorrupt(SpherekitError):
    """The cache file cannot be read or is not a session cache."""


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "spherekit" / "sessions.json"


def split_url(url: str, user: str | None) -> tuple[str, str, str | None, str | None]:
    """(origin for the transport, the URL as a cache key, user, password) of a target URL.

    The key has no credentials, a lower-case scheme and host, and ``/sdk`` when no path was
    given; the user is ``user``, or the one in the URL; the password is the URL's, if any.
    """
    parts = urlsplit(url.strip())
    hostport = parts.netloc.rpartition("@")[2]
    path = parts.path.rstrip("/") or "/sdk"
    if user is None and parts.username:
        user = unquote(parts.username)
    password = unquote(parts.password) if parts.password is not None else None
    origin = f"{parts.scheme}://{hostport}"
    return origin, f"{parts.scheme.lower()}://{hostport.lower()}{path}", user, password


@dataclass(frozen=True)
class Entry:
    """One cached session: whose, where, and its cookie (a secret)."""

    url: str
    user: str
    cookie: str
    saved: str

    @classmethod
    def new(cls, url: str, user: str, cookie: str) -> Entry:
        return cls(url, user, cookie, datetime.now(UTC).isoformat(timespec="seconds"))

    def __repr__(self) -> str:  # never show the cookie
        return f"Entry(url={self.url!r}, user={self.user!r}, saved={self.saved!r})"


class SessionCache:
    """The cache file (``path``, default :func:`cache_path`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_path()

    # -- reading ----------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every entry; :class:`CacheCorrupt` if the file is not a readable session cache."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise CacheCorrupt(f"cannot read it ({type(e).__name__})") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise CacheCorrupt(f"not JSON (line {e.lineno}, column {e.colno})") from None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise CacheCorrupt(f"not a version-{VERSION} session cache")
        sessions = doc.get("sessions")
        if not isinstance(sessions, list):
            raise CacheCorrupt("its 'sessions' is not a list")
        out = []
        for i, item in enumerate(sessions):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), t) for k, t in _FIELDS.items()
            ):
                raise CacheCorrupt(f"entry {i} lacks one of {sorted(_FIELDS)}")
            out.append(Entry(**{k: item[k] for k in _FIELDS}))
        return out

    def find(self, url: str, user: str | None) -> Entry | None:
        """The entry of ``url`` and ``user`` (``user`` None: the URL's only entry)."""
        matches = [e for e in self.entries() if e.url == url and user in (None, e.user)]
        if len(matches) > 1:
            users = ", ".join(sorted(e.user for e in matches))
            raise UsageError(
                f"the session cache has sessions of several users for {url} ({users}) — "
                "say which with --user (or $SPHEREKIT_USERNAME)"
            )
        return matches[0] if matches else None

    # -- writing ----------------------------------------------------------------------

    def put(self, entry: Entry) -> bool:
        """Add or replace the entry of its URL and user; True if a corrupt file was replaced."""
        with self._locked():
            try:
                kept = [e for e in self.entries() if (e.url, e.user) != (entry.url, entry.user)]
                corrupt = False
            except CacheCorrupt:
                kept, corrupt = [], True
            self._write([*kept, entry])
        return corrupt

    def remove(self, url: str, user: str) -> bool:
        """Drop the entry of ``url`` and ``user``; True if there was one."""
        with self._locked():
            entries = self.entries()
            kept = [e for e in entries if (e.url, e.user) != (url, user)]
            if len(kept) == len(entries):
                return False
            self._write(kept)
        return True

    def discard(self) -> bool:
        """Delete the whole file (a corrupt one); True if there was one."""
        with self._locked():
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, entries: list[Entry]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        import tempfile

        doc: dict[str, Any] = {"version": VERSION, "sessions": [asdict(e) for e in entries]}
        # mkstemp creates the file with mode 0600, before anything is written to it
        fd, tmp = tempfile.mkstemp(prefix=".sessions-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=2, sort_keys=True)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
