"""Where a command points: a vCenter (or ESXi) endpoint, or the local lab.

Each setting comes from the first of: a global flag (``--url``, ``--user``, ...), the
environment (``SPHEREKIT_URL``, ``SPHEREKIT_USERNAME``, ...), a named profile of the config
file (``--profile NAME`` or ``$SPHEREKIT_PROFILE``; the file is ``$SPHEREKIT_CONFIG`` or
``~/.config/spherekit/config.toml``). With no URL from any of them the target is **the
local lab**: a simulated vCenter whose state lives in ``$SPHEREKIT_LAB`` (default
``$XDG_DATA_HOME/spherekit/lab.db``), opened in this process, so what one command creates
the next one sees. A one-line notice on stderr says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

import spherekit
from spherekit.compute import Journal
from spherekit.errors import SpherekitError, UsageError
from spherekit.wire.transport import Request, Response, Transport
from spherekit.wire.wirelog import WireLog

if TYPE_CHECKING:
    from spherekit.session import Session
    from spherekit.sim import Simulator

__all__ = [
    "Connection",
    "LabError",
    "Target",
    "add_flags",
    "config_path",
    "data_dir",
    "journal",
    "lab_path",
    "open_lab",
    "resolve",
]

#: (flag dest, environment variable, profile key)
SETTINGS = [
    ("url", "SPHEREKIT_URL", "url"),
    ("user", "SPHEREKIT_USERNAME", "user"),
    ("password", "SPHEREKIT_PASSWORD", "password"),
    ("insecure", "SPHEREKIT_INSECURE", "insecure"),
    ("ca_file", "SPHEREKIT_CA_FILE", "ca_file"),
    ("thumbprint", "SPHEREKIT_THUMBPRINT", "thumbprint"),
    ("datacenter", "SPHEREKIT_DATACENTER", "datacenter"),
]
_TRUE = {"1", "true", "yes", "on"}


class LabError(SpherekitError):
    """The local lab file cannot be used (locked by a running simulator, or not a lab)."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


def add_flags(p: argparse.ArgumentParser) -> None:
    """The global flags (they go before the noun)."""
    g = p.add_argument_group("target (flags > environment > --profile > the local lab)")
    g.add_argument("--url", help="https://HOST/sdk of a vCenter or ESXi ($SPHEREKIT_URL)")
    g.add_argument("--user", help="user name ($SPHEREKIT_USERNAME)")
    g.add_argument("--password", help="password ($SPHEREKIT_PASSWORD)")
    g.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="do not verify the certificate ($SPHEREKIT_INSECURE=1)",
    )
    g.add_argument("--ca-file", help="trust this PEM CA file ($SPHEREKIT_CA_FILE)")
    g.add_argument("--thumbprint", help="pin the SHA-256 thumbprint ($SPHEREKIT_THUMBPRINT)")
    g.add_argument("--datacenter", help="the datacenter to work in ($SPHEREKIT_DATACENTER)")
    g.add_argument("--profile", help="a profile of the config file ($SPHEREKIT_PROFILE)")
    g.add_argument("--trace", metavar="FILE", help="write a wire log (secrets removed) to FILE")


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "spherekit"


def lab_path() -> Path:
    return Path(os.environ.get("SPHEREKIT_LAB") or data_dir() / "lab.db")


def config_path() -> Path:
    env = os.environ.get("SPHEREKIT_CONFIG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "spherekit" / "config.toml"


def journal() -> Journal:
    """The journal every CLI write goes through ($SPHEREKIT_JOURNAL or DATA/journal.jsonl)."""
    return Journal(os.environ.get("SPHEREKIT_JOURNAL") or data_dir() / "journal.jsonl")


@dataclass
class Target:
    """The resolved settings; ``url`` None means the local lab."""

    url: str | None = None
    user: str | None = None
    password: str | None = None
    insecure: bool = False
    ca_file: str | None = None
    thumbprint: str | None = None
    datacenter: str | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def is_lab(self) -> bool:
        return self.url is None


def _profile(name: str) -> dict[str, Any]:
    path = config_path()
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(
            f"profile {name!r} asked for, but there is no config file at {path} — "
            "create it with a [profiles.NAME] table, or set $SPHEREKIT_CONFIG"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"the config file {path} is not valid TOML ({e}) — fix it") from None
    profiles = doc.get("profiles", {})
    prof = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(prof, dict):
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) else ""
        raise UsageError(
            f"no profile {name!r} in {path} — profiles there: {known or 'none'} "
            "(a profile is a [profiles.NAME] table)"
        )
    unknown = sorted(set(prof) - {s[2] for s in SETTINGS})
    if unknown:
        raise UsageError(f"profile {name!r} in {path}: unknown keys {unknown} — remove them")
    return prof


def resolve(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Target:
    """The target of a command: flags > environment > profile > the local lab."""
    env = dict(os.environ) if environ is None else environ
    name = getattr(args, "profile", None) or env.get("SPHEREKIT_PROFILE")
    prof = _profile(name) if name else {}
    t = Target()
    for dest, var, key in SETTINGS:
        flag = getattr(args, dest, None)
        value: Any
        if flag is not None:
            value, source = flag, f"--{dest.replace('_', '-')}"
        elif env.get(var):
            value, source = env[var], f"${var}"
            if dest == "insecure":
                value = env[var].strip().lower() in _TRUE
        elif key in prof:
            value, source = prof[key], f"profile {name}"
        else:
            continue
        setattr(t, dest, value)
        t.sources[dest] = source
    if t.url is not None and "://" not in t.url:
        shown = t.url.rpartition("@")[2].strip("/")
        raise UsageError(
            f"URL {shown!r} (from {t.sources['url']}) has no scheme — write https://{shown}/sdk"
        )
    return t


class _LoggedTransport:
    """A transport that writes each exchange to a wire log (for the in-process lab)."""

    def __init__(self, inner: Transport, log: WireLog) -> None:
        self._inner = inner
        self._log = log

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        self._log.log_request(request)
        response = self._inner.send(request, timeout=timeout)
        self._log.log_response(request, response, duration=0.0)
        return response

    def close(self) -> None:
        self._inner.close()


def open_lab(path: Path | None = None) -> Simulator:
    """The local lab's simulator, in this process (created on first use)."""
    from spherekit.sim import Simulator
    from spherekit.sim.store import StateLocked

    path = path or lab_path()
    seed = os.environ.get("SPHEREKIT_LAB_SEED")
    try:
        return Simulator(
            state=path,
            seed=int(seed) if seed and seed.lstrip("-").isdigit() else None,
            guest_ip_delay=0.2,
            session_timeout=None,
        )
    except StateLocked:
        raise LabError(
            f"the local lab {path} is in use by a running simulator (spherekit sim serve "
            "--state) — point the CLI at that server with --url, or stop it",
            locked=True,
        ) from None
    except SpherekitError as e:
        raise LabError(
            f"the local lab {path} cannot be opened ({e}) — move the file away, or run "
            "`spherekit lab reset` to start a fresh lab"
        ) from None


class Connection:
    """A logged-in session on the target, and what must be closed after it."""

    def __init__(self, args: argparse.Namespace, *, notice: bool = True) -> None:
        self.target = resolve(args)
        self.sim: Simulator | None = None
        self.lab: Path | None = None
        self._trace: IO[str] | None = None
        trace = getattr(args, "trace", None)
        log: WireLog | None = None
        if trace:
            self._trace = open(trace, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            log = WireLog(self._trace)
        try:
            self.session = self._connect(log, notice)
        except BaseException:
            self.close()
            raise

    def _connect(self, log: WireLog | None, notice: bool) -> Session:
        t = self.target
        if t.url is None:
            self.lab = lab_path()
            if notice:
                print(
                    f"spherekit: using the local lab at {self.lab} (no SPHEREKIT_URL set)",
                    file=sys.stderr,
                    flush=True,
                )
            self.sim = open_lab(self.lab)
            transport: Transport = self.sim.transport()
            if log is not None:
                transport = _LoggedTransport(transport, log)
            return spherekit.connect(self.sim.inprocess_url, transport=transport)
        return spherekit.connect(
            t.url,
            user=t.user,
            password=t.password,
            insecure=bool(t.insecure),
            ca_file=t.ca_file,
            thumbprint=t.thumbprint,
            wire_log=log,
        )

    def close(self) -> None:
        session = getattr(self, "session", None)
        try:
            if session is not None:
                try:
                    session.close()
                except SpherekitError:
                    pass
        finally:
            if self.sim is not None:
                self.sim.stop()
                self.sim = None
            if self._trace is not None:
                self._trace.close()
                self._trace = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
