"""Commands and files in a guest, through VMware Tools (the guest operations managers).

:func:`run` runs a program with its standard output and error captured: two guest temp
files (``CreateTemporaryFileInGuest``), ``StartProgramInGuest`` of
``/bin/sh -c '<program args> >out 2>err'`` (every word quoted with :func:`shlex.quote`),
a wait for the process to end, the two files fetched (``InitiateFileTransferFromGuest`` +
GET) and deleted (``DeleteFileInGuest``) -- also when anything fails (the Operation's undo).
:func:`upload` and :func:`download` move files (``InitiateFileTransferToGuest`` + PUT,
``InitiateFileTransferFromGuest`` + GET), streamed, with the ``*`` host of the transfer URL
replaced by the session's host.

Waiting for the process is the one wait here that is not push-based: a guest process is not
a managed object and GuestProcessManager has no property that changes when one ends, so
there is nothing for ``WaitForUpdatesEx`` to watch. ``ListProcessesInGuest`` is asked for
the one pid with a short backoff (20 ms doubling to 1 s) until ``exitCode`` is set, within
``timeout``; past it the process is terminated and :class:`~spherekit.errors.WaitTimeout`
raised.

Access is checked first (``ValidateCredentialsInGuest``): wrong credentials raise
:class:`GuestLoginFailed`, a guest without running tools (or a VM that is off)
:class:`GuestToolsNotRunning`, before anything is written. Guest credentials never reach
the journal (``auth.password`` is a secret field).
"""

from __future__ import annotations

import io
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from spherekit import faults
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import SpherekitError, UsageError, WaitTimeout
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.schema.vim25.data import (
    GuestPosixFileAttributes,
    GuestProgramSpec,
    NamePasswordAuthentication,
)
from spherekit.transfer import http

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "GuestLoginFailed",
    "GuestToolsNotRunning",
    "RunResult",
    "download",
    "run",
    "upload",
]

SHELL = "/bin/sh"
_FIRST_DELAY, _MAX_DELAY = 0.02, 1.0


class GuestLoginFailed(UsageError):
    """The guest refused the user name or password."""


class GuestToolsNotRunning(SpherekitError):
    """Guest operations are not possible: the VM is off or VMware Tools is not running."""


@dataclass(frozen=True)
class RunResult:
    """How a program ended. ``exit_code`` is None for a plan (nothing ran)."""

    exit_code: int | None
    stdout: str
    stderr: str
    pid: int | None = None
    planned: list[PlannedCall] = field(default_factory=list)


@dataclass(frozen=True)
class _Guest:
    vm: MoRef
    auth: NamePasswordAuthentication = field(repr=False)
    processes: MoRef
    files: MoRef


def _open(session: Session, vm: MoRef | ManagedObject, user: str, password: str) -> _Guest:
    """Check access (before any write) and find the managers."""
    ref = vm.ref if isinstance(vm, ManagedObject) else vm
    if not isinstance(ref, MoRef) or ref.type != "VirtualMachine":
        raise UsageError(f"a guest is a VirtualMachine reference, not {vm!r}")
    if not user:
        raise UsageError("guest operations need the guest user name (user=...)")
    gom = session.content.guestOperationsManager
    if gom is None:
        raise UsageError("this endpoint has no GuestOperationsManager")
    paths = ["processManager", "fileManager", "authManager"]
    (_, mgrs), *_ = retrieve(session, filter_spec("GuestOperationsManager", paths, [gom]))
    auth = NamePasswordAuthentication(username=user, password=password, interactiveSession=False)
    try:
        session.call(mgrs["authManager"], "ValidateCredentialsInGuest", vm=ref, auth=auth)
    except faults.InvalidGuestLogin:
        raise GuestLoginFailed(
            f"the guest of {ref} refused the login of {user!r}: check the user name and "
            "password of an account in the guest"
        ) from None
    except faults.GuestOperationsUnavailable:
        raise GuestToolsNotRunning(
            f"VMware Tools is not running in the guest of {ref}: guest operations need "
            "running tools (wait until the guest has booted, or install open-vm-tools)"
        ) from None
    except faults.InvalidPowerState:
        raise GuestToolsNotRunning(
            f"{ref} is not powered on: guest operations need a running guest (power it on)"
        ) from None
    return _Guest(ref, auth, mgrs["processManager"], mgrs["fileManager"])


def _temp_file(op: Operation, g: _Guest, suffix: str) -> str:
    path: str | None = op.write(g.files, "CreateTemporaryFileInGuest", vm=g.vm, auth=g.auth,
                                prefix="spherekit-", suffix=suffix)  # fmt: skip
    path = path or f"<temporary {suffix} file>"  # planned: no name yet
    op.on_undo(f"delete {path} in {g.vm}", lambda: _delete(op, g, path))
    return path


def _delete(op: Operation, g: _Guest, path: str) -> None:
    try:
        op.write(g.files, "DeleteFileInGuest", vm=g.vm, auth=g.auth, filePath=path)
    except faults.FileNotFound:
        pass  # already gone: nothing to clean up


def run(
    session: Session, vm: MoRef | ManagedObject, program: str, args: Sequence[str] = (), *,
    user: str, password: str, timeout: float = 300.0, cwd: str | None = None,
    env: Mapping[str, str] | None = None, journal: Journal | None = None,
    max_output: int = 16 * 1024 * 1024, plan: bool = False,
) -> RunResult:  # fmt: skip
    """Run ``program`` with ``args`` in the guest; wait up to ``timeout`` seconds for it.

    Returns its exit code, stdout and stderr (UTF-8, at most ``max_output`` bytes each).
    A program the guest's shell cannot find exits 127, as in a shell.
    """
    if not program:
        raise UsageError("run needs a program (e.g. '/bin/echo')")
    if isinstance(args, str):
        raise UsageError("args is a list of arguments, not a string (use shlex.split)")
    if not timeout > 0:
        raise UsageError(f"timeout must be a positive number of seconds, not {timeout!r}")
    variables = []
    for name, value in (env or {}).items():
        if not name or "=" in name or "\0" in name + value:
            raise UsageError(f"environment variable name {name!r} is not valid")
        variables.append(f"{name}={value}")
    g = _open(session, vm, user, password)
    with Operation(session, journal or Journal(), f"run {program} in {g.vm}", plan=plan) as op:
        out, err = _temp_file(op, g, ".stdout"), _temp_file(op, g, ".stderr")
        line = f"{shlex.join([program, *args])} >{shlex.quote(out)} 2>{shlex.quote(err)}"
        spec = GuestProgramSpec(programPath=SHELL, arguments="-c " + shlex.quote(line),
                                workingDirectory=cwd, envVariables=variables or None)  # fmt: skip
        pid: int | None = op.write(g.processes, "StartProgramInGuest", vm=g.vm, auth=g.auth,
                                   spec=spec)  # fmt: skip
        if pid is None:  # planned
            return RunResult(None, "", "", None, list(op.planned))
        code = _wait_exit(op, g, pid, timeout)
        stdout, stderr = _fetch_text(op, g, out, max_output), _fetch_text(op, g, err, max_output)
        for path in (out, err):
            _delete(op, g, path)
            op.forget_undo(f"delete {path} in {g.vm}")
    return RunResult(code, stdout, stderr, pid)


def _wait_exit(op: Operation, g: _Guest, pid: int, timeout: float) -> int:
    """Ask for the process until it has an exit code (no property to watch: see above)."""
    deadline = time.monotonic() + timeout
    delay = _FIRST_DELAY
    while True:
        found = op.read(g.processes, "ListProcessesInGuest", vm=g.vm, auth=g.auth, pids=[pid])
        info = next((p for p in found or [] if p.pid == pid), None)
        if info is None:
            raise SpherekitError(
                f"process {pid} vanished from the guest of {g.vm} before it ended "
                "(the guest rebooted or stopped?)"
            )
        if info.exitCode is not None:
            return int(info.exitCode)
        left = deadline - time.monotonic()
        if left <= 0:
            try:
                op.write(g.processes, "TerminateProcessInGuest", vm=g.vm, auth=g.auth, pid=pid)
            except faults.GuestProcessNotFound:
                pass  # it ended meanwhile
            raise WaitTimeout(
                f"process {pid} ({info.cmdLine}) in {g.vm} did not end within {timeout:g} s; "
                "it was terminated"
            )
        time.sleep(min(delay, left))
        delay = min(delay * 2, _MAX_DELAY)


def _fetch_text(op: Operation, g: _Guest, path: str, limit: int) -> str:
    buf = io.BytesIO()

    def keep(chunk: bytes) -> None:
        room = limit - buf.tell()
        if room > 0:
            buf.write(chunk[:room])

    _fetch(op, g, path, keep, None)
    return buf.getvalue().decode("utf-8", "replace")


def _fetch(
    op: Operation, g: _Guest, path: str, sink: Callable[[bytes], object],
    on_progress: http.Progress | None, timeout: float | None = None,
) -> http.Transferred:  # fmt: skip
    info = op.write(g.files, "InitiateFileTransferFromGuest", vm=g.vm, auth=g.auth,
                    guestFilePath=path)  # fmt: skip
    return http.get(op.session, info.url, sink, size=info.size, on_progress=on_progress,
                    timeout=timeout)  # fmt: skip


def upload(
    session: Session, vm: MoRef | ManagedObject, source: str | os.PathLike[str] | IO[bytes],
    guest_path: str, *, user: str, password: str, overwrite: bool = False,
    mode: int | None = None, size: int | None = None, journal: Journal | None = None,
    on_progress: http.Progress | None = None, timeout: float | None = None, plan: bool = False,
) -> http.Transferred | None:  # fmt: skip
    """Copy a local file (a path or a binary file object) to ``guest_path`` in the guest;
    returns its size and SHA-256 (None for a plan). ``mode`` sets its permissions."""
    if not guest_path:
        raise UsageError("upload needs the file's path in the guest")
    g = _open(session, vm, user, password)
    with http.open_source(source, size) as (stream, total):
        if total is None:
            raise UsageError("the guest needs the size up front: pass size= for this stream")
        attrs = GuestPosixFileAttributes(permissions=mode)
        with Operation(session, journal or Journal(), f"upload {guest_path} to {g.vm}",
                       plan=plan) as op:  # fmt: skip
            url: str | None = op.write(
                g.files, "InitiateFileTransferToGuest", vm=g.vm, auth=g.auth,
                guestFilePath=guest_path, fileAttributes=attrs, fileSize=total,
                overwrite=overwrite,
            )  # fmt: skip
            if not overwrite:  # the file did not exist: a failed PUT must not leave a part
                op.on_undo(f"delete {guest_path} in {g.vm}", lambda: _delete(op, g, guest_path))
            sent = op.http_write(
                "PUT /guestFile", f"{g.vm} {guest_path}",
                lambda: http.put(session, url or "", stream, size=total, on_progress=on_progress,
                                 timeout=timeout),
                size=total,
            )  # fmt: skip
            op.forget_undo(f"delete {guest_path} in {g.vm}")
    return sent


def download(
    session: Session, vm: MoRef | ManagedObject, guest_path: str,
    dest: str | os.PathLike[str] | IO[bytes], *, user: str, password: str,
    overwrite: bool = False, journal: Journal | None = None,
    on_progress: http.Progress | None = None, timeout: float | None = None,
) -> http.Transferred:  # fmt: skip
    """Copy ``guest_path`` from the guest to a local path (via ``<dest>.part``) or into a
    binary file object; returns its size and SHA-256."""
    target = Path(dest) if isinstance(dest, str | os.PathLike) else None
    if target is not None and target.exists() and not overwrite:
        raise UsageError(f"{target} exists; pass overwrite=True to replace it")
    g = _open(session, vm, user, password)
    name = f"download {guest_path} from {g.vm}"
    with Operation(session, journal or Journal(), name) as op:
        if target is None:
            assert not isinstance(dest, str | os.PathLike)
            return _fetch(op, g, guest_path, dest.write, on_progress, timeout)
        part = target.with_name(target.name + ".part")
        try:
            with part.open("wb") as f:
                got = _fetch(op, g, guest_path, f.write, on_progress, timeout)
            part.replace(target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    return got
