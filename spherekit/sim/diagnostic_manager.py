"""DiagnosticManager: the simulator's own log, browsable as vCenter's ``vpxd.log``.

Each backend keeps a :class:`DiagnosticLog`, a bounded ring of lines (the newest
:data:`KEEP`), fed by two sources: one line per SOAP call, written by the dispatcher
(method, target, user, outcome: never parameters, so no password or cookie), and every
record of the ``spherekit.sim`` logger at its effective level (handler crashes, ...). With
several simulators in one process, each one's log holds the logger records of all of
them, and its own calls only.

``QueryDescriptions`` describes the log as vCenter names it: key ``vpxd:vpxd.log``,
creator ``vpxd``; with a ``host``, that host's ``hostd``, ``vpxa`` and ``vmkernel`` logs,
which the simulator keeps empty. ``BrowseDiagnosticLog(key, start, lines)`` numbers lines
from 1 since the simulator started (lines that fell out of the ring are gone: ``lineStart``
then starts later); it returns at most 500 lines (vCenter's limit), from ``start``
(default 1), with ``lineEnd`` the number of the log's last line, so a reader continues at
``lineStart + len(lineText)`` until it passes ``lineEnd``. An unknown key raises
``CannotAccessFile``.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.methods import handler

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        CannotAccessFile,
        DiagnosticManagerLogDescriptor,
        DiagnosticManagerLogHeader,
        MethodFault,
    )
    from spherekit.sim.backend import Context

__all__ = ["KEEP", "VPXD_KEY", "DiagnosticLog"]

#: lines kept in the ring
KEEP = 10_000
#: lines one BrowseDiagnosticLog call returns at most (vCenter's limit)
MAX_LINES = 500
VPXD_KEY = "vpxd:vpxd.log"
HOST_KEYS = ("hostd", "vpxa", "vmkernel")

_LOGGER = "spherekit.sim"
_LEVELS = {"DEBUG": "verbose", "INFO": "info", "WARNING": "warning", "ERROR": "error"}


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Handler(logging.Handler):
    def __init__(self, ring: _Ring) -> None:
        super().__init__(logging.NOTSET)
        self._ring = ring

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        except Exception:  # a malformed record must not break the caller
            text = str(record.msg)
        level = _LEVELS.get(record.levelname, record.levelname.lower())
        for i, line in enumerate(text.splitlines() or [""]):
            self._ring.add(level, f"sub={record.name}", line if i == 0 else f"  {line}")


class _Ring:
    """The lines and their numbering (thread-safe: logger records come from anywhere)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: deque[str] = deque(maxlen=KEEP)
        self.count = 0  # lines ever written; the newest line's number

    def add(self, level: str, origin: str, text: str) -> None:
        line = f"{_stamp()} {level} vpxd[{os.getpid()}] [Originator@6876 {origin}] {text}"
        with self.lock:
            self.lines.append(line)
            self.count += 1

    def read(self, start: int, lines: int) -> tuple[int, int, list[str]]:
        with self.lock:
            first = self.count - len(self.lines) + 1
            start = max(start, first, 1)
            begin = start - first
            out = list(self.lines)[begin : begin + lines] if lines > 0 else []
            return start, self.count, out


class DiagnosticLog:
    """The simulator's log of one backend (see the module docs). ``close()`` detaches it
    from the ``spherekit.sim`` logger (also done when it is garbage-collected)."""

    def __init__(self) -> None:
        self._ring = _Ring()
        self._handler = _Handler(self._ring)
        self._op = 0
        logger = logging.getLogger(_LOGGER)
        logger.addHandler(self._handler)
        self._finalizer = weakref.finalize(self, logger.removeHandler, self._handler)
        self.write("info", "sub=Default", "spherekit.sim started (vpxd.log)")

    def write(self, level: str, origin: str, text: str) -> None:
        self._ring.add(level, origin, text)

    def call(
        self, ctx: Context | None, method: str, this: MoRef, fault: MethodFault | None
    ) -> None:
        """The line the dispatcher writes for one SOAP call."""
        self._op += 1
        user = ctx.session.user if ctx is not None and ctx.session is not None else "-"
        outcome = "ok" if fault is None else f"fault {fault._wsdl_name}"
        self.write(
            "info" if fault is None else "warning",
            f"sub=vpxLro opID=sim-{self._op}",
            f"[VpxLRO] -- {this.type}:{this.value} -- vim.{this.type}.{method} -- user {user}"
            f" -- {outcome}",
        )

    def read(self, start: int, lines: int) -> tuple[int, int, list[str]]:
        return self._ring.read(start, lines)

    def close(self) -> None:
        self._finalizer()


def _descriptor(key: str, file: str, creator: str, label: str) -> DiagnosticManagerLogDescriptor:
    from spherekit.schema.vim25.data import Description, DiagnosticManagerLogDescriptor

    return DiagnosticManagerLogDescriptor(
        key=key,
        fileName=file,
        creator=creator,
        format="plain",
        mimeType="text/plain",
        info=Description(label=label, summary=label),
    )


def _cannot_access(key: str) -> CannotAccessFile:
    from spherekit.schema.vim25.data import CannotAccessFile

    return faults.with_msg(CannotAccessFile(file=key), f"Unable to access file {key}")


def _check_host(ctx: Context, host: MoRef | None) -> None:
    if host is not None and (host.type != "HostSystem" or not ctx.visible(host)):
        raise faults.not_found(host)


@handler("DiagnosticManager", "QueryDescriptions")
def query_descriptions(
    ctx: Context, this: MoRef, *, host: MoRef | None = None
) -> list[DiagnosticManagerLogDescriptor]:
    ctx.require_session()
    _check_host(ctx, host)
    if host is None:
        return [
            _descriptor(
                VPXD_KEY, "/var/log/vmware/vpxd/vpxd.log", "vpxd", "vCenter Server log (vpxd)"
            )
        ]
    return [
        _descriptor("hostd", "/var/log/hostd.log", "hostd", "Server log in 'plain' format"),
        _descriptor("vpxa", "/var/log/vpxa.log", "vpxa", "vCenter agent log in 'plain' format"),
        _descriptor("vmkernel", "/var/log/vmkernel.log", "vmkernel", "VMkernel log"),
    ]


@handler("DiagnosticManager", "BrowseDiagnosticLog")
def browse(
    ctx: Context,
    this: MoRef,
    *,
    key: str,
    host: MoRef | None = None,
    start: int | None = None,
    lines: int | None = None,
) -> DiagnosticManagerLogHeader:
    from spherekit.schema.vim25.data import DiagnosticManagerLogHeader

    ctx.require_session()
    _check_host(ctx, host)
    if lines is not None and lines < 0:
        raise faults.invalid_argument("lines", "must not be negative")
    count = MAX_LINES if lines is None else min(lines, MAX_LINES)
    if host is not None:
        if key not in HOST_KEYS:
            raise _cannot_access(key)
        return DiagnosticManagerLogHeader(lineStart=max(start or 1, 1), lineEnd=0)
    if key != VPXD_KEY:
        raise _cannot_access(key)
    log: DiagnosticLog = ctx.backend.diagnostics
    first, end, text = log.read(1 if start is None else start, count)
    return DiagnosticManagerLogHeader(lineStart=first, lineEnd=end, lineText=text or None)
