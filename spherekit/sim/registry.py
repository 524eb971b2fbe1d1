"""The simulator's inventory store: every managed object by MoRef, every mutation through here.

Each managed object is a ``props`` dict of property name -> value, where values are those of
the generated schema (data objects, MoRefs, enums, primitives, lists of them). Values are
never changed in place: :meth:`Registry.update` copies along a nested path
(``runtime.powerState``) and stores the copies, so a value read once is a stable snapshot
that can be encoded outside the lock, compared by identity, and shared between objects
(10,000 VMs on one host share one ``runtime`` until one of them changes).

Every mutation bumps a global version, appends to a change log and wakes the property
collectors waiting in ``WaitForUpdatesEx``; listeners (the live container views) run inside
the mutation, under the same lock. The store is thread-safe (one re-entrant lock) and, given
a seed, deterministic: morefs come from one counter, UUIDs and MACs from a seeded RNG.
"""

from __future__ import annotations

import bisect
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim.values import with_path

__all__ = ["ENTER", "LEAVE", "MODIFY", "Listener", "MObject", "Registry"]

ENTER, MODIFY, LEAVE = "enter", "modify", "leave"

#: kind ("enter" / "modify" / "leave"), object, names of the top-level properties changed
Listener = Callable[[str, MoRef, frozenset[str]], None]

# moref value prefixes as vCenter writes them (vm-42, host-9, domain-c7, group-v3, ...)
_PREFIX = {
    "VirtualMachine": "vm-",
    "HostSystem": "host-",
    "Datacenter": "datacenter-",
    "ClusterComputeResource": "domain-c",
    "ComputeResource": "domain-s",
    "ResourcePool": "resgroup-",
    "VirtualApp": "resgroup-v",
    "Datastore": "datastore-",
    "Network": "network-",
    "VmwareDistributedVirtualSwitch": "dvs-",
    "DistributedVirtualSwitch": "dvs-",
    "DistributedVirtualPortgroup": "dvportgroup-",
    "Task": "task-",
    "Folder": "group-",
    "EnvironmentBrowser": "envbrowser-",
    "VirtualMachineSnapshot": "snapshot-",
}


class MObject:
    """One managed object: its reference, its properties, and the session owning it
    (views, collectors and filters belong to a session; inventory objects to nobody)."""

    __slots__ = ("owner", "props", "ref")

    def __init__(self, ref: MoRef, props: dict[str, Any], owner: str | None) -> None:
        self.ref = ref
        self.props = props
        self.owner = owner


class Registry:
    """All managed objects of one simulated endpoint. Thread-safe."""

    #: change-log entries kept; a waiter further behind recomputes its filters in full
    LOG_LIMIT = 100_000

    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        #: notified after every mutation (and by whoever wants waiters to look again)
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.rng = random.Random(seed)
        self.listeners: list[Listener] = []
        self._objects: dict[MoRef, MObject] = {}
        self._by_type: dict[str, dict[MoRef, None]] = {}
        self._log_versions: list[int] = []
        self._log_refs: list[MoRef] = []
        self._log_floor = 0  # versions <= this are no longer in the log
        self._counter = 0

    # -- identities ---------------------------------------------------------------------

    def new_ref(self, mtype: str, prefix: str | None = None) -> MoRef:
        """A fresh reference: ``vm-42``; ``prefix`` overrides the type's (``group-v``)."""
        with self.lock:
            self._counter += 1
            n = self._counter
        p = prefix if prefix is not None else _PREFIX.get(mtype, mtype.lower() + "-")
        return MoRef(mtype, f"{p}{n}")

    @property
    def counter(self) -> int:
        """The last number :meth:`new_ref` handed out (persisted by the durable store)."""
        return self._counter

    def restore_counter(self, counter: int) -> None:
        """Continue numbering after ``counter`` (a loaded state file)."""
        with self.lock:
            self._counter = max(self._counter, counter)

    def clear(self, seed: int | None) -> None:
        """Drop every object and restart numbering and the RNG from ``seed`` (a reset, or
        before loading a state file); the version keeps rising, so no waiter sees it go
        back. Listeners stay."""
        with self.lock:
            self._objects.clear()
            self._by_type.clear()
            self._counter = 0
            self.rng.seed(seed)
            self.version += 1
            self._log_floor = self.version  # a waiter from before must recompute in full
            self._log_versions.clear()
            self._log_refs.clear()
            self.changed.notify_all()

    def uuid(self) -> str:
        """A random (version 4) UUID from the seeded generator."""
        with self.lock:
            bits = self.rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def mac(self) -> str:
        """A MAC address in vCenter's generated range (00:50:56:80:00:00-00:50:56:bf:ff:ff)."""
        with self.lock:
            n = self.rng.getrandbits(22)
        return f"00:50:56:{0x80 | (n >> 16):02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"

    # -- reads (hold ``lock`` across several reads that must agree) ---------------------

    def get(self, ref: MoRef) -> MObject | None:
        return self._objects.get(ref)

    def __contains__(self, ref: object) -> bool:
        return ref in self._objects

    def __len__(self) -> int:
        return len(self._objects)

    def props(self, ref: MoRef) -> Mapping[str, Any]:
        """The properties of ``ref`` (read-only by convention); KeyError if it is gone."""
        return self._objects[ref].props

    def prop(self, ref: MoRef, name: str) -> Any:
        """One top-level property of ``ref``, or None when unset (KeyError if gone)."""
        return self._objects[ref].props.get(name)

    def of_type(self, mtype: str) -> list[MoRef]:
        """Objects whose type is ``mtype`` or derives from it, in creation order."""
        with self.lock:
            out: list[MoRef] = []
            for t, refs in self._by_type.items():
                if t == mtype or schema.is_subtype(t, mtype):
                    out.extend(refs)
            return out

    # -- mutations ------------------------------------------------------------------------

    def add(self, ref: MoRef, props: dict[str, Any], *, owner: str | None = None) -> MoRef:
        """Add a new object (its ``props`` dict is taken over, not copied)."""
        with self.lock:
            if ref in self._objects:
                raise KeyError(f"{ref} already exists")
            self._objects[ref] = MObject(ref, props, owner)
            self._by_type.setdefault(ref.type, {})[ref] = None
            self._commit(ENTER, ref, frozenset(props))
        return ref

    def remove(self, ref: MoRef) -> None:
        """Remove an object (a no-op if it is already gone)."""
        with self.lock:
            obj = self._objects.pop(ref, None)
            if obj is None:
                return
            self._by_type[ref.type].pop(ref, None)
            self._commit(LEAVE, ref, frozenset(obj.props))

    def update(self, ref: MoRef, changes: Mapping[str, Any]) -> None:
        """Set properties by path (``{"runtime.powerState": "poweredOff"}``); None unsets.

        Nested paths copy every data object along the way (never change a stored value in
        place). Setting a field below an unset value raises ValueError.
        """
        if not changes:
            return
        with self.lock:
            props = self._objects[ref].props
            names: set[str] = set()
            for path, value in changes.items():
                head, dot, rest = path.partition(".")
                if dot:
                    current = props.get(head)
                    if current is None:
                        raise ValueError(f"{ref}: cannot set {path!r}: {head!r} is unset")
                    value = with_path(current, rest.split("."), value)
                if value is None:
                    props.pop(head, None)
                else:
                    props[head] = value
                names.add(head)
            self._commit(MODIFY, ref, frozenset(names))

    def append(self, ref: MoRef, name: str, item: Any) -> None:
        """Add ``item`` to the list property ``name`` (a new list is stored)."""
        with self.lock:
            current = self._objects[ref].props.get(name) or []
            self.update(ref, {name: [*current, item]})

    def discard(self, ref: MoRef, name: str, item: Any) -> None:
        """Remove ``item`` from the list property ``name`` if present (unset when empty)."""
        with self.lock:
            current = self._objects[ref].props.get(name) or []
            if item in current:
                rest = [x for x in current if x != item]
                self.update(ref, {name: rest or None})

    def touch(self) -> None:
        """Wake every waiter without changing anything (cancellation, shutdown)."""
        with self.lock:
            self.changed.notify_all()

    def _commit(self, kind: str, ref: MoRef, names: frozenset[str]) -> None:
        self.version += 1
        self._log_versions.append(self.version)
        self._log_refs.append(ref)
        if len(self._log_versions) > 2 * self.LOG_LIMIT:
            cut = len(self._log_versions) - self.LOG_LIMIT
            self._log_floor = self._log_versions[cut - 1]
            del self._log_versions[:cut]
            del self._log_refs[:cut]
        for listener in self.listeners:
            listener(kind, ref, names)
        self.changed.notify_all()

    # -- the change log ---------------------------------------------------------------------

    def changed_since(self, version: int) -> set[MoRef] | None:
        """Objects added, changed or removed after ``version``; None if the log no longer
        reaches back that far (the caller must then assume everything changed)."""
        with self.lock:
            if version < self._log_floor:
                return None
            i = bisect.bisect_right(self._log_versions, version)
            return set(self._log_refs[i:])
