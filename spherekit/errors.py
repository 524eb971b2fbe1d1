"""The one error root of spherekit, and the errors that are not vSphere faults.

Every exception spherekit raises derives from :class:`SpherekitError`:

- vSphere faults (``spherekit.faults.InvalidPowerState``, ...) mirror the WSDL fault
  hierarchy under ``MethodFault``;
- transport problems are mapped once, at the transport boundary, into
  :class:`TransportError` and its subclasses;
- mistakes the client can see before sending anything raise :class:`UsageError`.
"""

from __future__ import annotations

import builtins

__all__ = [
    "ConnectError",
    "OutcomeUnknown",
    "ProtocolError",
    "ReadOnlyError",
    "SpherekitError",
    "TLSError",
    "TimeoutError",
    "TransportError",
    "UsageError",
    "VersionError",
    "WaitTimeout",
]


class SpherekitError(Exception):
    """Root of every error spherekit raises."""


class UsageError(SpherekitError, ValueError):
    """The call cannot be right: caught client-side, before anything was sent."""


class VersionError(UsageError):
    """A method, parameter or field is newer than the server's API version."""


class ReadOnlyError(UsageError):
    """A read-only session refused a method that changes server state."""


class TransportError(SpherekitError):
    """The request did not complete at the HTTP level.

    ``method`` names the SOAP method being called, when known. ``maybe_sent`` says whether
    the request may have reached the server: ``False`` only when the failure happened before
    a connection was established (refused, unknown host, TLS rejected, connect timeout), so
    nothing can have been processed; ``True`` once the request was (or may have been)
    written, so a call that changes server state must not be blindly re-sent.
    """

    def __init__(
        self, message: str, *, method: str | None = None, maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.method = method
        self.maybe_sent = maybe_sent


class ConnectError(TransportError):
    """The server could not be reached (refused, unknown host, unreachable)."""


class TLSError(ConnectError):
    """The server's certificate was not accepted.

    ``problem`` says what was wrong, without the advice the message adds in Python terms
    (``thumbprint=...``), so a command line can give its own; ``presented`` is the SHA-256
    thumbprint of the certificate the server presented, when known; ``mismatch`` is True
    when it differs from a pinned one.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        problem: str | None = None,
        presented: str | None = None,
        mismatch: bool = False,
    ) -> None:
        super().__init__(message, method=method)
        self.problem = problem or message
        self.presented = presented
        self.mismatch = mismatch

    def in_flags(self) -> str:
        """The message with its fix in command-line flags (``--thumbprint``, ``--ca-file``,
        ``--insecure``, as spherekit's commands name them) instead of Python arguments."""
        if self.presented is None and self.problem == str(self):  # no certificate to pin
            return self.problem
        pin = f"--thumbprint {self.presented}" if self.presented else "--thumbprint <its SHA-256>"
        if self.mismatch:
            return (
                f"{self.problem} — if its certificate was replaced on purpose, pin the new "
                f"one with {pin}; otherwise someone may be intercepting the connection"
            )
        return (
            f"{self.problem} — if you trust this server, pin its certificate with {pin}, "
            "trust its CA with --ca-file FILE, or pass --insecure (no protection against "
            "interception)"
        )


class TimeoutError(TransportError, builtins.TimeoutError):  # noqa: A001 - is-a builtin TimeoutError
    """The server did not answer in time."""


class WaitTimeout(SpherekitError, builtins.TimeoutError):
    """A wait (for a task, a property value, ...) passed its deadline; nothing failed."""


class ProtocolError(TransportError):
    """The server answered with something that is not a valid vSphere SOAP response."""


class OutcomeUnknown(TransportError):
    """A call that changes server state may have reached the server, but no answer came back.

    It is not re-sent automatically: check the server's state (e.g. recent tasks) before
    trying again.
    """
