"""What commands print: one JSON document (``--json``), tables and trees for people, progress
bars on a terminal, and errors as one line with an exit code by class (docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import json
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from spherekit import errors, find
from spherekit.schema.base import MoRef

__all__ = [
    "EXIT",
    "Progress",
    "Result",
    "classify",
    "leaf",
    "progress",
    "table",
    "to_json",
    "tree",
]

#: exit codes by class of error (documented in docs/cli.md)
EXIT = {
    "ok": 0,
    "error": 1,
    "usage": 2,
    "not found": 3,
    "permission": 4,
    "conflict": 5,
    "server": 6,
    "network": 7,
}


@dataclasses.dataclass
class Result:
    """What a command produced: ``data`` for ``--json``, ``text`` for people."""

    data: Any
    text: str = ""
    code: int = 0


def leaf(sub: Any, name: str, text: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand with ``--json`` (also accepted before the noun)."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text, **kw)
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout (documented fields; see docs/cli.md)",
    )
    return p


# -- JSON ---------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data (MoRefs as ``"Type:value"``, times as ISO 8601)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, MoRef):
        return f"{value.type}:{value.value}"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(plain(value), indent=2, sort_keys=True)


# -- tables and trees ---------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, MoRef):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Aligned columns: ``columns`` is ``[(key, HEADER), ...]``."""
    cells = [[h for _, h in columns]] + [[_cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]  # fmt: skip
    return "\n".join(lines)


def tree(root: Any, label: Callable[[Any], str], children: Callable[[Any], Iterable[Any]]) -> str:
    """A tree drawn with box characters, ``root`` first."""
    out = [label(root)]

    def walk(node: Any, prefix: str) -> None:
        kids = list(children(node))
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            out.append(f"{prefix}{'└── ' if last else '├── '}{label(kid)}")
            walk(kid, prefix + ("    " if last else "│   "))

    walk(root, "")
    return "\n".join(out)


# -- progress ------------------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal.

    ``task(task, pct, state)`` for tasks (a ``spherekit.task`` progress callback: the
    server's percentage), ``percent(p)`` for any percentage, ``transfer(done, total)`` for
    bytes (with rate and ETA). Several tasks waited for together draw one bar, their mean
    percentage and how many there are; when every task of a step has finished and a new
    one starts, the finished line stays and a new one begins (so does a switch from a
    transfer to tasks). ``finish()`` ends the line. Callbacks may come from several threads.
    """

    WIDTH = 30
    #: seconds between redraws (a finished bar is always drawn)
    INTERVAL = 0.05

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._drawn = False
        self._last = 0.0
        self._mode = ""
        self._tasks: dict[str, tuple[float, bool]] = {}  # task -> (percent, finished)
        self._lock = threading.Lock()

    def _bar(self, fraction: float) -> str:
        full = round(fraction * self.WIDTH)
        return "[" + "#" * full + "." * (self.WIDTH - full) + "]"

    def _newline(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _switch(self, mode: str) -> None:
        if self._mode and mode != self._mode:
            self._newline()
            self._tasks.clear()
        self._mode = mode

    def _draw(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and self._drawn and now - self._last < self.INTERVAL:
            return
        self._last = now
        self.stream.write(f"\r{self.label} {text}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _percent(self, pct: float | None, suffix: str = "") -> None:
        p = max(0.0, min(100.0, float(pct or 0)))
        self._draw(f"{self._bar(p / 100)} {p:3.0f}%{suffix}", force=p >= 100)

    def percent(self, pct: int | float | None, *_: Any) -> None:
        with self._lock:
            self._switch("percent")
            self._percent(pct)

    def task(self, task: Any, pct: int | None, state: str | None) -> None:
        """A ``spherekit.task`` progress callback."""
        if not self.enabled:
            return
        key = str(getattr(task, "value", task))
        with self._lock:
            self._switch("task")
            if key not in self._tasks and self._tasks and all(d for _, d in self._tasks.values()):
                self._newline()  # the previous step is done: keep its line, start the next
                self._tasks.clear()
            before = self._tasks.get(key, (0.0, False))[0]
            finished = state in ("success", "error")
            now = 100.0 if state == "success" else float(pct) if pct is not None else before
            self._tasks[key] = (now, finished)
            mean = sum(p for p, _ in self._tasks.values()) / len(self._tasks)
            n = len(self._tasks)
            self._percent(mean, f" ({n} tasks)" if n > 1 else "")

    def transfer(self, done: int, total: int | None) -> None:
        with self._lock:
            self._switch("transfer")
            elapsed = max(time.monotonic() - self.start, 1e-6)
            rate = done / elapsed
            if total:
                left = (total - done) / rate if rate > 0 else math.inf
                eta = "--:--" if math.isinf(left) else f"{int(left) // 60:02d}:{int(left) % 60:02d}"
                text = (f"{self._bar(done / total)} {_size(done)}/{_size(total)} "
                        f"{_size(rate)}/s ETA {eta}")  # fmt: skip
            else:
                text = f"{_size(done)} {_size(rate)}/s"
            self._draw(text, force=bool(total) and done >= (total or 0))

    def finish(self) -> None:
        with self._lock:
            if self.enabled:
                self._newline()


@contextlib.contextmanager
def progress(label: str, stream: IO[str] | None = None) -> Iterator[Progress]:
    """A :class:`Progress` for one command: every compute operation run inside draws the
    server's task percentage on it (only on a terminal); the line is ended on the way out.

    ``with progress("power on web-1"): power.power_on(...)``
    """
    bar = Progress(label, stream)
    if not bar.enabled:  # a pipe: nothing to draw, nothing to wire
        yield bar
        return
    from spherekit.compute.ops import default_progress

    token = default_progress.set(bar.task)
    try:
        yield bar
    finally:
        default_progress.reset(token)
        bar.finish()


# -- errors --------------------------------------------------------------------------------------

_NOT_FOUND = ("NotFound", "ManagedObjectNotFound", "ImageNotFound", "NodeNotFound",
              "SnapshotNotFound", "PathNotFound", "FileNotFound")  # fmt: skip
_PERMISSION = ("NoPermission", "InvalidLogin", "NotAuthenticated", "GuestLoginFailed")
_CONFLICT = ("DuplicateName", "InvalidPowerState", "InvalidState", "TaskInProgress",
             "FileAlreadyExists", "LabLocked", "NameTaken")  # fmt: skip
_HINTS = {
    "usage": "see --help",
    "not found": "check the name or path (spherekit ls / spherekit find)",
    "permission": "check --user and --password (or $SPHEREKIT_USERNAME / $SPHEREKIT_PASSWORD)",
    "conflict": "check the object's current state and try again",
    "server": "the server refused the call; --trace FILE records the exchange",
    "network": "check --url and that the server is reachable",
    "error": "see spherekit --help",
}


def _names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def classify(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for an error."""
    from spherekit.cli.target import LabError
    from spherekit.compute.ops import OperationFailed
    from spherekit.schema.vim25.data import MethodFault

    cause = exc
    while isinstance(cause, OperationFailed):
        cause = cause.cause
    names = _names(cause)
    if isinstance(exc, LabError):
        kind = "conflict" if exc.locked else "error"
    elif isinstance(cause, find.NotFound) or names & set(_NOT_FOUND):
        kind = "not found"
    elif names & set(_PERMISSION):
        kind = "permission"
    elif names & set(_CONFLICT):
        kind = "conflict"
    elif isinstance(cause, errors.UsageError):
        kind = "usage"
    elif isinstance(cause, (errors.ConnectError, errors.TimeoutError, errors.OutcomeUnknown)):
        kind = "network"
    elif isinstance(cause, (MethodFault, errors.ProtocolError)):
        kind = "server"
    elif isinstance(cause, errors.TransportError):
        kind = "network"
    else:
        kind = "error"
    what = str(exc) or type(exc).__name__
    if isinstance(cause, MethodFault) and type(cause).__name__ not in what:
        what = f"{type(cause).__name__}: {what}"
    hint = _HINTS[kind]
    if isinstance(cause, errors.WaitTimeout):
        hint = "it may still finish; try again with a longer --timeout"
    if isinstance(cause, errors.TLSError):
        what = cause.in_flags()
        hint = ""
    line = (
        what
        if "—" in what or isinstance(exc, LabError) or not hint
        else f"{what.rstrip('. ')} — {hint}"
    )
    return EXIT[kind], "spherekit: " + " ".join(line.split())
