"""The durable store: one simulated vCenter in one SQLite file (``--state FILE``).

Layout (``PRAGMA user_version`` = :data:`FORMAT`):

- ``objects(type, value, owner, props)``: one row per managed object, keyed by its MoRef.
  ``props`` is an XML document written by the wire codec's :class:`~spherekit.wire.codec.
  Encoder` from each property's *declared* vim25 type (``xsi:type`` wherever the value is a
  subtype, as on the wire) and read back with :func:`~spherekit.wire.codec.decode`, so every
  value comes back as the same typed object (a ``VirtualDisk`` stays a ``VirtualDisk``, a
  ``long`` stays an ``int``, a ``dateTime`` keeps its zone). ``owner`` is always NULL:
  session-owned objects (views, collectors, filters) die with their session and are not kept.
- ``events(key, xml)``: the event log, one row per event (``xsi:type`` = its Event subtype).
- ``meta(key, value)``: the moref counter, the RNG state (so ``--seed`` stays reproducible
  across restarts), the registry version, the event and task chain counters.

Datastore files live in the directory ``FILE.files`` next to the state file.

Durability: the registry calls :meth:`Store.record` for every mutation (a registry
listener, under the registry lock); :meth:`Store.flush` writes the changed objects in one
transaction. The HTTP layer flushes before it sends any response and the task runner before
a task's final state can be seen, so nothing a client has observed can be lost. WAL mode
with ``synchronous=NORMAL``: a commit is in the operating system's hands when it returns, so
it survives the death of the process (``kill -9``); only a power loss or kernel crash could
drop the last transactions, and a simulator does not need to pay an fsync per call for that.

One simulator at a time per state file: an exclusive ``flock`` on ``FILE.lock`` (released by
the kernel when the process dies, even by ``kill -9``); a second one fails with
:class:`StateLocked`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from spherekit.errors import SpherekitError
from spherekit.schema.base import ARRAY, DataObject, MoRef
from spherekit.sim.paths import property_info
from spherekit.wire import codec

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend
    from spherekit.sim.registry import Registry

__all__ = ["FORMAT", "StateLocked", "Store", "decode_props", "encode_props"]

log = logging.getLogger("spherekit.sim")

#: the state file's format version (``PRAGMA user_version``)
FORMAT = 1

#: (property name, value) -> id of the shared row holding it, or None to write it inline
Shared = Callable[[str, Any], int | None]

_ROOT_OPEN = f'<o xmlns:xsi="{codec.NS_XSI}" xmlns:xsd="{codec.NS_XSD}">'
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    type  TEXT NOT NULL,
    value TEXT NOT NULL,
    owner TEXT,
    props TEXT NOT NULL,
    PRIMARY KEY (type, value)
);
CREATE TABLE IF NOT EXISTS shared (
    id    INTEGER PRIMARY KEY,
    type  TEXT NOT NULL,
    prop  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (key INTEGER PRIMARY KEY, xml TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StateLocked(SpherekitError):
    """Another running simulator has the state file open."""


# -- values <-> XML ------------------------------------------------------------------------


def _encode_prop(mtype: str, name: str, value: Any) -> str:
    """``<p n="name">`` holding one ``<v>`` per value (arrays: ``a="1"``, any number of
    ``<v>``); a property the schema does not declare for ``mtype`` is written as
    ``xsd:anyType`` (``t="any"``)."""
    info = property_info(mtype, name)
    enc = codec.Encoder()
    path = f"{mtype}.{name}"
    n = codec.escape(name)
    if info is None:
        enc.any_value("v", value, path)
        return f'<p n="{n}" t="any">{enc.text()}</p>'
    tname, flags = info
    if flags & ARRAY:
        enc.field("v", tname, ARRAY, value, path)
        return f'<p n="{n}" a="1">{enc.text()}</p>'
    enc.value("v", tname, value, path)
    return f'<p n="{n}">{enc.text()}</p>'


def _decode_prop(mtype: str, p: etree._Element) -> Any:
    info = property_info(mtype, p.get("n") or "")
    if p.get("t") == "any" or info is None:
        return codec.decode(p[0], "anyType")
    if p.get("a"):
        return [codec.decode(v, info[0]) for v in p]
    return codec.decode(p[0], info[0])


def encode_props(mtype: str, props: dict[str, Any], shared: Shared | None = None) -> str:
    """An object's properties as an XML document of :func:`_encode_prop` elements.

    ``shared(name, value)`` may return the id of a row of the ``shared`` table holding the
    value (written ``<p n="name" s="id"/>``): values the inventory shares between objects
    (10,000 VMs built alike share their ``runtime``) are stored, and loaded, once."""
    out = [_ROOT_OPEN]
    for name, value in props.items():
        if value is None:  # unset (e.g. the networks of a VM without NICs): nothing to keep
            continue
        sid = shared(name, value) if shared is not None else None
        if sid is None:
            out.append(_encode_prop(mtype, name, value))
        else:
            out.append(f'<p n="{codec.escape(name)}" s="{sid}"/>')
    out.append("</o>")
    return "".join(out)


def decode_props(
    mtype: str, text: str, shared: Callable[[int], Any] | None = None
) -> dict[str, Any]:
    """The inverse of :func:`encode_props` (``shared``: the value of a shared row)."""
    root = etree.fromstring(text.encode("utf-8"), _PARSER)
    props: dict[str, Any] = {}
    for p in root:
        sid = p.get("s")
        if sid is not None:
            if shared is None:
                raise ValueError("a shared value without its table")
            props[p.get("n") or ""] = shared(int(sid))
        else:
            props[p.get("n") or ""] = _decode_prop(mtype, p)
    return props


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _encode_event(event: Any) -> str:
    enc = codec.Encoder()
    enc.out.append(_ROOT_OPEN)
    enc.data("e", "Event", event, "event", xsi=True)
    enc.out.append("</o>")
    return enc.text()


def _decode_event(text: str) -> Any:
    root = etree.fromstring(text.encode("utf-8"), _PARSER)
    return codec.decode(root[0], "Event")


# -- the store -----------------------------------------------------------------------------


class Store:
    """The SQLite file of one backend. Methods are called with the registry lock held."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self.files = self.path.with_name(self.path.name + ".files")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StateLocked(
                f"the state file {self.path} is in use by another running simulator; stop "
                "that one first or pass another --state file"
            ) from None
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, FORMAT):
                raise SpherekitError(
                    f"{self.path} has state format {version}; this simulator reads format "
                    f"{FORMAT} (start with a new --state file)"
                )
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._release()
            raise SpherekitError(f"cannot use {self.path} as a state file: {exc}") from None
        except BaseException:
            self._release()
            raise
        self._dirty: set[MoRef] = set()
        self._meta_dirty = False
        self._event_key = 0
        self._closed = False

    def _release(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)

    # -- life cycle --------------------------------------------------------------------------

    def has_state(self) -> bool:
        """True if the file holds a saved simulator (else the caller builds a new one)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'counter'").fetchone()
        return row is not None

    def open_state(self, backend: Backend, *, load: bool) -> None:
        """Load the saved simulator into ``backend`` (``load``) or save its new inventory,
        then record every later mutation."""
        if load:
            self.load(backend)
        else:
            self.save_all(backend)
        backend.registry.listeners.append(self.record)
        if load:
            backend.tasks.restore()  # tasks the previous process left unfinished fail
            self.flush(backend)

    def wipe(self) -> None:
        """Forget the saved simulator (a reset saves the new one)."""
        with self._transaction() as db:
            for table in ("objects", "shared", "events", "meta"):
                db.execute(f"DELETE FROM {table}")
        self._dirty.clear()
        self._event_key = 0

    def abandon(self) -> None:
        """Close without writing (the backend could not be built)."""
        if not self._closed:
            self._closed = True
            self._release()

    def touch_meta(self) -> None:
        """Save the counters on the next flush even if no object changed (a reseed)."""
        self._meta_dirty = True

    def record(self, kind: str, ref: MoRef, names: frozenset[str]) -> None:
        """The registry listener: ``ref`` changed (added, modified or removed)."""
        self._dirty.add(ref)

    def save_all(self, backend: Backend) -> None:
        """Replace the file's contents with the whole backend (a new state, or a reset)."""
        reg = backend.registry
        with reg.lock, self._transaction() as db:
            db.execute("DELETE FROM objects")
            db.execute("DELETE FROM shared")
            db.execute("DELETE FROM events")
            self._event_key = 0
            self._dirty.clear()
            objs = [o for o in map(reg.get, _all_refs(reg)) if o is not None and o.owner is None]
            uses = Counter(
                id(v) for o in objs for v in o.props.values() if isinstance(v, DataObject | list)
            )
            ids: dict[int, int] = {}
            shared_rows: list[tuple[int, str, str]] = []
            mtype = ""

            def share(name: str, value: Any) -> int | None:
                if uses.get(id(value), 0) < 2:
                    return None
                sid = ids.get(id(value))
                if sid is None:
                    sid = ids[id(value)] = len(ids) + 1
                    shared_rows.append((sid, mtype, _encode_prop(mtype, name, value)))
                return sid

            rows = []
            for o in objs:
                mtype = o.ref.type
                rows.append((mtype, o.ref.value, encode_props(mtype, o.props, share)))
            db.executemany("INSERT INTO shared (id, type, prop) VALUES (?, ?, ?)", shared_rows)
            db.executemany(
                "INSERT INTO objects (type, value, owner, props) VALUES (?, ?, NULL, ?)", rows
            )
            self._save_events(db, backend)
            self._save_meta(db, backend)
        log.info("saved %d objects to %s", len(rows), self.path)

    def flush(self, backend: Backend) -> None:
        """Write what changed since the last flush, in one transaction."""
        reg = backend.registry
        with reg.lock:
            if self._closed:
                return
            if not self._dirty and not self._meta_dirty and not self._events_pending(backend):
                return
            dirty, self._dirty = self._dirty, set()
            self._meta_dirty = False
            upserts: list[tuple[str, str, str]] = []
            deletes: list[tuple[str, str]] = []
            for ref in dirty:
                obj = reg.get(ref)
                if obj is None:
                    deletes.append((ref.type, ref.value))
                elif obj.owner is None:
                    upserts.append((ref.type, ref.value, encode_props(ref.type, obj.props)))
            with self._transaction() as db:
                db.executemany("DELETE FROM objects WHERE type = ? AND value = ?", deletes)
                db.executemany(
                    "INSERT INTO objects (type, value, owner, props) VALUES (?, ?, NULL, ?) "
                    "ON CONFLICT (type, value) DO UPDATE SET props = excluded.props",
                    upserts,
                )
                self._save_events(db, backend)
                self._save_meta(db, backend)

    def load(self, backend: Backend) -> None:
        """Replace the registry's objects (and the event log) by the file's."""
        from spherekit.sim.service_instance import SERVICE_INSTANCE

        reg = backend.registry
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        with reg.lock:
            reg.clear(None)
            backend.events.events.clear()
            rows = self._db.execute("SELECT id, type, prop FROM shared").fetchall()
            stored = {sid: (mtype, prop) for sid, mtype, prop in rows}
            values: dict[int, Any] = {}

            def shared(sid: int) -> Any:
                if sid not in values:
                    mtype, prop = stored[sid]
                    doc = etree.fromstring(f"{_ROOT_OPEN}{prop}</o>".encode(), _PARSER)
                    values[sid] = _decode_prop(mtype, doc[0])
                return values[sid]

            for mtype, value, props in self._db.execute(
                "SELECT type, value, props FROM objects ORDER BY rowid"
            ):
                reg.add(MoRef(mtype, value), decode_props(mtype, props, shared))
            state = json.loads(meta["rng"])
            reg.rng.setstate((state[0], tuple(state[1]), state[2]))
            reg.restore_counter(int(meta["counter"]))
            reg.version = max(reg.version, int(meta.get("version", "0")))
            events = backend.events
            for key, xml in self._db.execute("SELECT key, xml FROM events ORDER BY key"):
                events.events.append(_decode_event(xml))
                self._event_key = key
            events.restore_key(int(meta.get("event_key", "0")))
            backend.content = reg.prop(SERVICE_INSTANCE, "content")
            self._dirty.clear()
        log.info("loaded %d objects from %s", len(reg), self.path)

    def close(self, backend: Backend) -> None:
        """Flush and close the file (idempotent)."""
        with backend.registry.lock:  # no flush of another thread is under way
            if self._closed:
                return
            try:
                self.flush(backend)
            finally:
                self._closed = True
                self._release()

    # -- helpers -------------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _events_pending(self, backend: Backend) -> bool:
        events = backend.events.events
        return bool(events) and events[-1].key > self._event_key

    def _save_events(self, db: sqlite3.Connection, backend: Backend) -> None:
        events = backend.events.events
        if not events:
            return
        new = []
        for event in reversed(events):
            if event.key <= self._event_key:
                break
            new.append((event.key, _encode_event(event)))
        if new:
            db.executemany("INSERT OR REPLACE INTO events (key, xml) VALUES (?, ?)", new)
            self._event_key = new[0][0]
            db.execute("DELETE FROM events WHERE key < ?", (events[0].key,))

    def _save_meta(self, db: sqlite3.Connection, backend: Backend) -> None:
        reg = backend.registry
        version, internal, gauss = reg.rng.getstate()
        meta = {
            "counter": str(reg.counter),
            "rng": json.dumps([version, list(internal), gauss]),
            "version": str(reg.version),
            "event_key": str(backend.events.last_key),
        }
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta.items())
        db.execute(f"PRAGMA user_version = {FORMAT}")


def _all_refs(reg: Registry) -> Iterator[MoRef]:
    yield from reg.of_type("ManagedObject")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
