"""Groups: a set of nodes kept in a VM folder of their own.

The folder of group ``g`` is ``sk-<key>`` where the *key* is ``g`` itself when ``g`` is a
safe name (letters, digits, ``.``, ``_``, ``-``; at most 60 characters) and otherwise the
name normalized to those characters, cut to 51, plus ``-`` and the first 8 hex digits of
its SHA-256 — so two different group names never share a folder, and the folder name
(63 characters at most) and the node names ``<key>-<n>`` stay within vSphere's
80-character limit for entity names. The ``sk-`` prefix tells group folders from the
user's own folders.

A group's folder is made on demand (:func:`ensure_group`, inside an Operation: journaled,
and removed again if the operation fails and the folder was new), listed with one bulk read
(:func:`list_groups`) and deleted when empty (:func:`delete_group`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spherekit import faults
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation
from spherekit.compute.placement import read_objects, read_view
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "GROUP_PREFIX",
    "Group",
    "delete_group",
    "ensure_group",
    "folder_name",
    "group_key",
    "list_groups",
]

GROUP_PREFIX = "sk-"
_KEY_MAX = 60
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Group:
    """A group: its key (as in folder and node names), its folder and datacenter."""

    key: str
    folder: MoRef
    datacenter: MoRef | None
    nodes: tuple[MoRef, ...] = ()

    @property
    def folder_name(self) -> str:
        return GROUP_PREFIX + self.key


def group_key(group: str) -> str:
    """The safe, collision-free key of a group name (see the module documentation)."""
    if not isinstance(group, str) or not group.strip():
        raise UsageError("a group name is a non-empty string such as 'web'")
    if _SAFE.fullmatch(group) and len(group) <= _KEY_MAX:
        return group
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", group).strip("-._")[:51].rstrip("-._") or "group"
    return f"{slug}-{hashlib.sha256(group.encode()).hexdigest()[:8]}"


def folder_name(group: str) -> str:
    return GROUP_PREFIX + group_key(group)


def find_group(session: Session, group: str, parent: MoRef) -> MoRef | None:
    """The folder of ``group`` directly under ``parent``, or None."""
    idx = session.content.searchIndex
    if idx is None:
        raise UsageError("this endpoint has no SearchIndex")
    ref: MoRef | None = session.call(idx, "FindChild", entity=parent, name=folder_name(group))
    return ref if ref is not None and ref.type == "Folder" else None


def ensure_group(op: Operation, group: str, parent: MoRef) -> tuple[MoRef, bool]:
    """The group's folder under ``parent``, created if missing: ``(folder, created)``.

    A new folder gets an undo step that removes it if the operation fails — unless it
    still holds something (a node kept for diagnosis), which is then left and reported.
    """
    session = op.session
    name = folder_name(group)
    existing = find_group(session, group, parent)
    if existing is not None:
        return existing, False
    try:
        folder: MoRef = op.write(parent, "CreateFolder", name=name)
    except faults.DuplicateName:  # made by someone else meanwhile: use it
        found = find_group(session, group, parent)
        if found is None:
            raise
        return found, False

    def undo() -> None:
        children = read_objects(session, "Folder", [folder], ["childEntity"])
        if folder not in children:
            return  # already gone
        left = children[folder].get("childEntity") or []
        if left:
            op.keep(f"group folder {name} ({folder.value}), which holds {len(left)} kept node(s)")
            return
        op.write(folder, "Destroy_Task")

    op.on_undo(f"remove group folder {name} ({folder.value})", undo)
    return folder, True


def _groups(session: Session, group: str | None) -> list[Group]:
    rows = read_view(
        session, session.content.rootFolder,
        {"Folder": ["name", "parent", "childEntity"], "Datacenter": ["name", "parent"]},
    )  # fmt: skip
    by_ref: dict[MoRef, dict[str, Any]] = dict(rows)
    wanted = folder_name(group) if group is not None else None
    out = []
    for ref, v in rows:
        name = str(v.get("name", ""))
        if ref.type != "Folder" or not name.startswith(GROUP_PREFIX):
            continue
        if wanted is not None and name != wanted:
            continue
        dc = v.get("parent")
        while dc is not None and dc.type != "Datacenter":
            dc = by_ref.get(dc, {}).get("parent")
        vms = tuple(c for c in v.get("childEntity") or () if c.type == "VirtualMachine")
        out.append(Group(name[len(GROUP_PREFIX) :], ref, dc, vms))
    return sorted(out, key=lambda g: (g.key, g.folder.value))


def list_groups(session: Session) -> list[Group]:
    """Every group folder (``sk-*``) in the inventory, with its nodes, in one bulk read."""
    return _groups(session, None)


def get_groups(session: Session, group: str) -> list[Group]:
    """The folders of ``group`` (one per datacenter it exists in)."""
    return _groups(session, group)


def delete_group(
    session: Session, group: str, *, journal: Journal | None = None, plan: bool = False
) -> Operation:
    """Delete an empty group's folder(s); a group with nodes is refused (destroy them first)."""
    found = get_groups(session, group)
    op = Operation(session, journal or Journal(), f"delete group {group}", plan=plan)
    if not found:
        raise UsageError(
            f"no group {group!r} (folder {folder_name(group)}); list_groups() shows them"
        )
    for g in found:
        children = read_objects(session, "Folder", [g.folder], ["childEntity"])
        left = children.get(g.folder, {}).get("childEntity") or []
        if left:
            raise UsageError(
                f"group {group!r} is not empty ({len(left)} object(s) in {g.folder_name}); "
                "destroy its nodes first (destroy_nodes)"
            )
    with op:
        for g in found:
            op.write(g.folder, "Destroy_Task")
    return op
