"""HttpNfcLease: wait until it is ready, keep it alive with true progress, complete or abort.

vCenter ends a lease that hears nothing for ``info.leaseTimeout`` seconds (the classic
"lease expired in the middle of my 20 GB upload"). :class:`Lease` runs a keep-alive thread
that calls ``HttpNfcLeaseProgress`` with the transfer's real percentage (bytes moved over
bytes to move, as the transfer reports them through :meth:`Lease.set_progress`) whenever it
changes, at most once per ``tick``, and at least every ``leaseTimeout / 4`` seconds even when
nothing moved. Waiting for ``ready`` is push-based (``WaitForUpdatesEx`` on ``state``).

``HttpNfcLeaseComplete`` and ``HttpNfcLeaseAbort`` go through the operation (journaled);
the keep-alive calls are many and carry no information of their own, so the journal gets
one summary entry for them (how many calls, the last percentage, how they ended).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from spherekit import property as prop
from spherekit.errors import SpherekitError, WaitTimeout
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.compute.ops import Operation
    from spherekit.schema.vim25.data import HttpNfcLeaseInfo

__all__ = ["Lease", "LeaseError"]

_FINAL = ("ready", "done", "error")


class LeaseError(SpherekitError):
    """The lease failed or ended before the transfer did (timed out, aborted elsewhere)."""


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


class Lease:
    """An HttpNfcLease held by one operation. Use as a context manager (stops keep-alive)."""

    def __init__(self, op: Operation, ref: MoRef, *, tick: float = 1.0) -> None:
        self.op = op
        self.session = op.session
        self.ref = ref
        self.info: HttpNfcLeaseInfo | None = None
        self.timeout = 300.0
        self.finished = False
        self._tick = tick
        self._percent = 0
        self._sent = -1
        self._calls = 0
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- ready ------------------------------------------------------------------------------

    def wait_ready(self, timeout: float = 600.0) -> HttpNfcLeaseInfo:
        """Wait (push-based) until the lease is ready; return its info. A lease that ends
        in ``error`` raises its fault (e.g. ``faults.Timedout``).

        One read first: a lease that is already ready (or failed) needs no property filter
        (that would take four more calls)."""
        values = self._read()
        if _text(values.get("state")) not in _FINAL:
            try:
                prop.wait_for(
                    self.session, self.ref, "state", lambda s: _text(s) in _FINAL, timeout=timeout
                )
            except WaitTimeout:
                raise LeaseError(
                    f"{self.ref} did not become ready within {timeout:g} s; the server may be "
                    "busy: try again later"
                ) from None
            values = self._read()
        state = _text(values.get("state"))
        if state != "ready":
            self.finished = True
            err = values.get("error")
            fault = getattr(err, "fault", None)
            from spherekit.schema.vim25.data import MethodFault

            if isinstance(fault, MethodFault):
                fault.msg = getattr(err, "localizedMessage", None) or fault.msg
                raise fault
            raise LeaseError(f"{self.ref} ended in state {state} before the transfer began")
        info: HttpNfcLeaseInfo = values["info"]
        self.info = info
        if info.leaseTimeout:
            self.timeout = float(info.leaseTimeout)
        return info

    def _read(self) -> dict[str, Any]:
        spec = prop.filter_spec("HttpNfcLease", ["state", "info", "error"], [self.ref])
        rows = prop.retrieve(self.session, spec)
        return rows[0][1] if rows else {}

    # -- keep-alive -------------------------------------------------------------------------

    def set_progress(self, done: int, total: int) -> None:
        """Report bytes moved; the keep-alive sends ``done * 100 // total`` (at most 99
        until :meth:`complete`)."""
        if total > 0:
            self._percent = min(99, max(self._percent, done * 100 // total))

    @property
    def percent(self) -> int:
        return self._percent

    def file_progress(
        self, base: int, total: int, on_progress: Callable[[int, int, int], None] | None
    ) -> Callable[[int, int | None], None]:
        """The progress callback of one file of a transfer of ``total`` bytes that starts at
        byte ``base``: checks the lease, reports the bytes to it and, if given, calls
        ``on_progress(percent, bytes_done, total)``."""

        def progress(done: int, _size: int | None) -> None:
            self.check()
            self.set_progress(base + done, total)
            if on_progress is not None:
                on_progress(self.percent, base + done, total)

        return progress

    def start_keepalive(self) -> None:
        if self._thread is not None or self.op.plan:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"spherekit-lease-{self.ref.value}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        every = max(0.05, self.timeout / 4)  # never let a quarter of the timeout pass
        tick = min(self._tick, every)
        last = time.monotonic()
        while not self._stop.wait(tick):
            pct = self._percent
            now = time.monotonic()
            if pct == self._sent and now - last < every:
                continue
            try:
                self.session.call(self.ref, "HttpNfcLeaseProgress", percent=pct)
            except Exception as e:  # the transfer notices through check()
                self._error = e
                return
            self._calls += 1
            self._sent, last = pct, now

    def check(self) -> None:
        """Raise if the keep-alive found the lease gone (call between chunks)."""
        if self._error is not None:
            raise LeaseError(
                f"{self.ref} ended during the transfer: {self._error}; nothing was kept"
            ) from self._error

    def stop(self) -> None:
        """Stop the keep-alive thread and journal its summary."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        outcome = "ok" if self._error is None else f"error: {type(self._error).__name__}"
        self.op.journal.record(
            self.op.name, "HttpNfcLeaseProgress", self.ref,
            {"calls": self._calls, "percent": self._sent, "every_s": round(self.timeout / 4, 3)},
            outcome, detail=str(self._error) if self._error is not None else None,
        )  # fmt: skip

    # -- the end ----------------------------------------------------------------------------

    def complete(self) -> None:
        """Report 100 % and complete the lease (journaled)."""
        self.stop()
        self.check()
        self.op.write(self.ref, "HttpNfcLeaseProgress", percent=100)
        self.op.write(self.ref, "HttpNfcLeaseComplete")
        self.finished = True

    def abort(self, reason: str) -> None:
        """Abort the lease (journaled); a lease that already ended is left as it is."""
        from spherekit.schema.vim25.data import (
            InvalidState,
            LocalizedMethodFault,
            ManagedObjectNotFound,
            RequestCanceled,
            Timedout,
        )

        self.stop()
        if self.finished:
            return
        fault = RequestCanceled()
        fault.msg = reason
        try:
            self.op.write(
                self.ref, "HttpNfcLeaseAbort",
                fault=LocalizedMethodFault(fault=fault, localizedMessage=reason),
            )  # fmt: skip
        except (InvalidState, Timedout, ManagedObjectNotFound):
            pass  # it already ended (timed out, or its session is gone)
        self.finished = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
