"""The journal: every server-changing call the compute layer makes, and how it ended.

An entry records the time, the operation it belongs to, the method, the target, a summary
of the arguments with secrets removed, the task (if the method started one) and the
outcome (``ok``, ``error: <fault>``, ``planned``, ``undo``, ``unknown``). Entries are
appended to a JSON-lines file when the journal has a path, so users (and the CLI's
``journal`` command) can read what happened after the fact; otherwise they are kept in
memory.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from spherekit.schema.base import DataObject, ManagedObject, MoRef

__all__ = ["Entry", "Journal", "summarize"]

#: argument and field names whose values never reach the journal
SECRET_NAMES = frozenset(
    {
        "password", "newPassword", "oldPassword", "adminPassword", "domainAdminPassword",
        "plainText", "value_secret", "token", "ticket", "privateKey", "userdata", "userData",
    }
)  # fmt: skip
_SECRET_KEYS = ("guestinfo.userdata", "guestinfo.metadata", "guestinfo.vendordata", "password")
_MAX_TEXT = 200
#: the value of a ticket-like query parameter in a URL (``/guestFile?id=1&token=...``)
_URL_SECRET = re.compile(r"([?&](?:token|ticket|password)=)[^&#\s]*", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One journaled call."""

    time: str
    operation: str
    method: str
    target: str
    args: dict[str, Any]
    outcome: str
    task: str | None = None
    detail: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def summarize(value: Any, name: str = "", depth: int = 0) -> Any:
    """A JSON-able summary of an argument, with secrets replaced by ``"***"``."""
    if name in SECRET_NAMES:
        return "***"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        value = _URL_SECRET.sub(r"\1***", value)  # guest file URLs carry their ticket
        return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, MoRef):
        return str(value)
    if isinstance(value, ManagedObject):
        return str(value.ref)
    if depth > 6:
        return "..."
    if isinstance(value, list | tuple):
        return [summarize(v, name, depth + 1) for v in value[:50]]
    if isinstance(value, DataObject):
        out: dict[str, Any] = {"_type": value._wsdl_name}
        key = getattr(value, "key", None)
        for attr, xml, _t, flags, _v in value._fields:
            v = getattr(value, attr)
            if v is None:
                continue
            if flags & 4 or xml in SECRET_NAMES:  # SECRET in the schema
                out[xml] = "***"
            elif (
                xml == "value"
                and isinstance(key, str)
                and (key.startswith(_SECRET_KEYS) or "password" in key.lower())
            ):  # e.g. extraConfig guestinfo.sim.password
                out[xml] = "***"  # e.g. extraConfig guestinfo.userdata
            else:
                out[xml] = summarize(v, xml, depth + 1)
        return out
    if isinstance(value, Mapping):
        return {str(k): summarize(v, str(k), depth + 1) for k, v in value.items()}
    return repr(value)[:_MAX_TEXT]


class Journal:
    """Append-only record of the compute layer's writes. Thread-safe."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(
        self,
        operation: str,
        method: str,
        target: MoRef | ManagedObject | str,
        args: Mapping[str, Any],
        outcome: str,
        *,
        task: MoRef | None = None,
        detail: str | None = None,
        **extra: Any,
    ) -> Entry:
        if isinstance(target, ManagedObject):
            target = target.ref
        entry = Entry(
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            operation=operation,
            method=method,
            target=str(target),
            args={k: summarize(v, k) for k, v in args.items()},
            outcome=outcome,
            task=str(task) if task is not None else None,
            detail=detail,
            extra={k: summarize(v, k) for k, v in extra.items()},
        )
        with self._lock:
            self._entries.append(entry)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(entry.to_json() + "\n")
        return entry

    def entries(self) -> list[Entry]:
        """This journal's entries (from the file, if it has one, else from memory)."""
        if self.path is None or not self.path.exists():
            with self._lock:
                return list(self._entries)
        return list(self._read())

    def _read(self) -> Iterator[Entry]:
        assert self.path is not None
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield Entry(**json.loads(line))
