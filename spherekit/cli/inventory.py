"""Inventory paths for the commands: one bulk read of every entity's name and parent, paths
built from it (govc style: ``/DC0/vm/NAME``), and lookups of an argument by path, moref or
name. A name that matches several objects is refused with their paths.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

import spherekit
from spherekit import find
from spherekit.errors import UsageError
from spherekit.schema import registry
from spherekit.schema.base import MoRef
from spherekit.session import Session

__all__ = ["TYPES", "Inventory", "is_a", "read", "resolve", "type_name"]

#: govc's short type letters, and friendly names
TYPES = {
    "m": "VirtualMachine", "vm": "VirtualMachine",
    "h": "HostSystem", "host": "HostSystem",
    "s": "Datastore", "datastore": "Datastore",
    "n": "Network", "network": "Network",
    "c": "ClusterComputeResource", "cluster": "ClusterComputeResource",
    "r": "ComputeResource", "p": "ResourcePool", "pool": "ResourcePool",
    "f": "Folder", "folder": "Folder", "d": "Datacenter", "datacenter": "Datacenter",
}  # fmt: skip
_MOREF = re.compile(r"^[a-z]+(-[a-z]+)?-\d+$|^[A-Za-z]+:[\w-]+$")


def type_name(text: str) -> str:
    full = TYPES.get(text.lower(), text)
    spherekit.property.check_type(full)
    return full


def is_a(mtype: str, base: str) -> bool:
    cur: str | None = mtype
    while cur is not None:
        if cur == base:
            return True
        cur = registry.MANAGED_BASES.get(cur)
    return False


def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2f")


@dataclass
class Inventory:
    root: MoRef
    names: dict[MoRef, str]
    parents: dict[MoRef, MoRef | None]

    def path(self, ref: MoRef) -> str:
        parts: list[str] = []
        cur: MoRef | None = ref
        while cur is not None and cur != self.root and cur in self.names:
            parts.append(_escape(self.names[cur]))
            cur = self.parents.get(cur)
        return "/" + "/".join(reversed(parts))

    def children(self, ref: MoRef) -> list[MoRef]:
        kids = [r for r, p in self.parents.items() if p == ref]
        return sorted(kids, key=lambda r: self.names.get(r, ""))

    def below(self, ref: MoRef) -> Iterable[MoRef]:
        for kid in self.children(ref):
            yield kid
            yield from self.below(kid)

    def name(self, ref: MoRef) -> str:
        return "/" if ref == self.root else self.names.get(ref, ref.value)

    def search(self, mtype: str | None = None, pattern: str | None = None,
               under: MoRef | None = None) -> list[MoRef]:  # fmt: skip
        refs = list(self.below(under or self.root))
        return [
            r for r in refs
            if (mtype is None or is_a(r.type, mtype))
            and (pattern is None or fnmatch.fnmatchcase(self.names[r], pattern))
        ]  # fmt: skip


def read(session: Session) -> Inventory:
    """Every managed entity's name and parent: one RetrievePropertiesEx."""
    rows = spherekit.fetch(session, "ManagedEntity", ["name", "parent"])
    root = session.content.rootFolder
    names = {r: v.get("name", r.value) for r, v in rows}
    parents = {r: v.get("parent") for r, v in rows}
    return Inventory(root, names, parents)


def resolve(
    session: Session,
    text: str,
    mtype: str | None = None,
    *,
    datacenter: str | None = None,
    inventory: Inventory | None = None,
) -> MoRef:
    """The object ``text`` names: an inventory path (``/DC0/vm/X``), a moref (``vm-42``) or
    a name; with ``mtype`` only objects of that type count."""
    if "/" in text:
        try:
            ref = find.by_path(session, text)
        except find.NotFound:
            if not datacenter or text.startswith("/"):
                raise
            ref = find.by_path(session, f"{datacenter}/{text}")
        if mtype and not is_a(ref.type, mtype):
            raise UsageError(f"{text!r} is a {ref.type}, not a {mtype}")
        return ref
    inv = inventory or read(session)
    if _MOREF.match(text):
        value = text.partition(":")[2] or text
        hits = [r for r in inv.names if r.value == value]
        if hits and (mtype is None or is_a(hits[0].type, mtype)):
            return hits[0]
    hits = inv.search(mtype, None)
    hits = [r for r in hits if inv.names[r] == text]
    if datacenter and len(hits) > 1:
        hits = [r for r in hits if inv.path(r).startswith(f"/{datacenter}/")]
    what = mtype or "object"
    if not hits:
        raise find.NotFound(f"no {what} named {text!r}")
    if len(hits) > 1:
        paths = ", ".join(inv.path(r) for r in hits[:5])
        raise UsageError(f"{text!r} matches {len(hits)} objects ({paths}) — give its path")
    return hits[0]
