"""Run govmomi's vcsim (built from Debian's govmomi 0.24.2) as an interop test peer.

``tools/vcsim/build.sh`` compiles ``tools/vcsim/main.go`` into a cache directory
(``$SPHEREKIT_CACHE`` or ``~/.cache/spherekit``); :class:`Vcsim` starts that binary on
127.0.0.1 with a free port, reads the one line it prints (the SDK URL with credentials)
and stops it again::

    with Vcsim().start(vm=1, session_idle_timeout="1s") as sim:
        print(sim.sdk_url, sim.user, sim.thumbprint_sha256())
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import ssl
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Self
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "BUILD_SCRIPT",
    "FlagValue",
    "Vcsim",
    "VcsimBuildError",
    "VcsimError",
    "build",
    "connect_to",
    "start_peer",
]

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "vcsim" / "build.sh"

FlagValue = str | int | float | bool


class VcsimError(RuntimeError):
    """vcsim could not be built, started or queried."""


class VcsimBuildError(VcsimError):
    """The build script failed (typically: Go or govmomi are not installed)."""


_build_lock = threading.Lock()
_binary: Path | None = None


def build(timeout: float = 600.0) -> Path:
    """Build vcsim (once per process) and return the path of the binary."""
    global _binary
    with _build_lock:
        if _binary is None:
            _binary = _run_build_script(timeout)
        return _binary


def _run_build_script(timeout: float) -> Path:
    hint = (
        "vcsim is built from Debian's golang-go and golang-github-vmware-govmomi-dev; "
        "install them with: sudo apt-get install -y golang-go golang-github-vmware-govmomi-dev"
    )
    sh = shutil.which("sh")
    if sh is None:
        raise VcsimBuildError(f"cannot run {BUILD_SCRIPT}: no 'sh' on PATH. {hint}")
    try:
        done = subprocess.run(
            [sh, str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise VcsimBuildError(f"{BUILD_SCRIPT} did not finish within {timeout:g}s") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise VcsimBuildError(
            f"{BUILD_SCRIPT} failed with exit status {done.returncode}. {hint}\n"
            f"--- stderr ---\n{done.stderr.strip()}"
        )
    binary = Path(lines[-1])
    if not os.access(binary, os.X_OK):
        raise VcsimBuildError(f"{BUILD_SCRIPT} reported {binary}, which is not executable")
    return binary


def _flag_args(flags: dict[str, FlagValue]) -> list[str]:
    """``session_idle_timeout="1s"`` -> ``-session-idle-timeout=1s``; bools as true/false."""
    args = []
    for name, value in flags.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args.append(f"-{name.replace('_', '-')}={text}")
    return args


def _shutdown(proc: subprocess.Popen[str], stderr: IO[bytes], timeout: float) -> str:
    """SIGTERM, wait up to ``timeout`` seconds, SIGKILL; close the pipes; return the log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    log = _read_log(stderr)
    stderr.close()
    return log


def _read_log(file: IO[bytes]) -> str:
    # pread, not seek+read: vcsim shares the file offset and would overwrite from 0.
    fd = file.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


class Vcsim:
    """One vcsim process. ``start()`` it, use ``url``/``sdk_url``/credentials, ``stop()`` it."""

    def __init__(self, startup_timeout: float = 30.0, stop_timeout: float = 10.0) -> None:
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._stderr_log = ""
        self._url: str | None = None
        # Stops the process if this object is dropped (or at exit) without stop().
        self._finalizer: weakref.finalize[[subprocess.Popen[str], IO[bytes], float], Vcsim] | None
        self._finalizer = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, **flags: FlagValue) -> Self:
        """Start vcsim on 127.0.0.1, a free port. Flags as in main.go, ``_`` for ``-``.

        Blocks until the server prints its URL; raises :class:`VcsimError` with vcsim's
        stderr if it exits or stays silent for ``startup_timeout`` seconds.
        """
        if self._proc is not None:
            raise VcsimError("vcsim is already started")
        binary = build()
        flags.setdefault("listen", "127.0.0.1:0")
        argv = [str(binary), *_flag_args(flags)]
        # A file rather than a pipe, so a chatty vcsim never blocks; closed by _shutdown.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._finalizer = weakref.finalize(
            self, _shutdown, self._proc, self._stderr, self.stop_timeout
        )
        line = self._first_line(self._proc)
        if line is None or "://" not in line:
            status = None if line is None else self._exit_status(self._proc)
            self.stop()
            if status is not None:
                problem = f"exited with status {status} before reporting its URL"
            elif line:
                problem = f"printed {line!r} instead of its URL"
            else:
                problem = f"did not report its URL within {self.startup_timeout:g}s"
            raise VcsimError(
                f"vcsim {problem} (command: {' '.join(argv)})\n"
                f"--- stderr ---\n{self.stderr_text().strip()}"
            )
        self._url = line
        return self

    def _first_line(self, proc: subprocess.Popen[str]) -> str | None:
        """The first stdout line, stripped; "" at end of file; None on timeout."""
        lines: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
        reader.start()
        try:
            line = lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            return None
        return line.strip()

    @staticmethod
    def _exit_status(proc: subprocess.Popen[str]) -> int | None:
        try:
            return proc.wait(2)  # stdout was closed: it is exiting, if not gone already
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout`` seconds, then SIGKILL. Idempotent."""
        if self._finalizer is not None:
            self._stderr_log = self._finalizer() or ""  # runs _shutdown at most once
            self._finalizer = None
        self._proc = None
        self._stderr = None
        self._url = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stderr_text(self) -> str:
        """Everything vcsim wrote to stderr (its log), also after ``stop()``."""
        if self._stderr is None:
            return self._stderr_log
        return _read_log(self._stderr)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where and who -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL vcsim printed, credentials included: https://user:pass@127.0.0.1:PORT/sdk."""
        if self._url is None:
            raise VcsimError("vcsim is not started")
        return self._url

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        if port is None:
            raise VcsimError(f"no port in vcsim URL {self.sdk_url}")
        return port

    @property
    def user(self) -> str:
        return unquote(urlsplit(self.url).username or "")

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.url).password or "")

    @property
    def sdk_url(self) -> str:
        """The SDK endpoint without credentials: https://127.0.0.1:PORT/sdk."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{self.host}:{self.port}{parts.path}"

    # -- TLS ---------------------------------------------------------------------------

    def cert_pem(self) -> str:
        """The server's certificate (PEM), fetched without verification."""
        if urlsplit(self.url).scheme != "https":
            raise VcsimError("vcsim was started with -tls=false; there is no certificate")
        return ssl.get_server_certificate((self.host, self.port))

    def thumbprint_sha256(self) -> str:
        """SHA-256 of the DER certificate as colon-separated uppercase hex (AB:CD:...)."""
        digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.cert_pem())).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)).upper()


def start_peer(**flags: FlagValue) -> Vcsim:
    """Start a vcsim for a test (``flags`` as for :meth:`Vcsim.start`).

    vcsim is a required peer: when it cannot be built or started the test fails, it never
    skips, so a machine without the toolchain cannot report a green interop run.
    """
    import pytest

    try:
        return Vcsim().start(**flags)
    except VcsimBuildError as exc:
        pytest.fail(f"cannot build vcsim, the interop peer:\n{exc}", pytrace=False)
    except VcsimError as exc:
        pytest.fail(f"cannot start vcsim, the interop peer:\n{exc}", pytrace=False)


def connect_to(sim: Vcsim) -> Session:
    """A spherekit session on ``sim``, its certificate pinned."""
    import spherekit

    return spherekit.connect(
        sim.sdk_url, user=sim.user, password=sim.password, thumbprint=sim.thumbprint_sha256()
    )
