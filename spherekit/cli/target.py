"""Where a command points: a vCenter (or ESXi) endpoint, or the local lab.

Each setting comes from the first of: a global flag (``--url``, ``--user``, ...), the
environment (``SPHEREKIT_URL``, ``SPHEREKIT_USERNAME``, ...), a named profile of the config
file (``--profile NAME`` or ``$SPHEREKIT_PROFILE``; the file is ``$SPHEREKIT_CONFIG`` or
``~/.config/spherekit/config.toml``). With no URL from any of them the target is **the
local lab**: a simulated vCenter whose state lives in ``$SPHEREKIT_LAB`` (default
``$XDG_DATA_HOME/spherekit/lab.db``), opened in this process, so what one command creates
the next one sees. A one-line notice on stderr says so.

Against a URL, a command first looks in the session cache (``spherekit session login``
fills it; :mod:`spherekit.cli.session_cache`) for a session of that URL and user, checks
that the server still knows it, and uses it without logging in (and without logging out
at the end). A session the server has ended is dropped from the cache; the command then
logs in with the password, or, without one, says to run ``spherekit session login``.
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

from spherekit.errors import SpherekitError, UsageError

if TYPE_CHECKING:
    from spherekit.cli.session_cache import Entry
    from spherekit.compute import Journal
    from spherekit.session import Session
    from spherekit.sim import Simulator
    from spherekit.wire.transport import Request, Response, Transport
    from spherekit.wire.wirelog import WireLog

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
    from spherekit.compute import Journal

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


def say(message: str) -> None:
    """A one-line notice on stderr (stdout stays for the result)."""
    print(f"spherekit: {message}", file=sys.stderr, flush=True)


def is_not_authenticated(exc: BaseException) -> bool:
    """The server does not know (or no longer knows) the session."""
    from spherekit.schema.vim25.data import NotAuthenticated

    return isinstance(exc, NotAuthenticated)


def session_ended(entry: Entry) -> SpherekitError:
    """The error for a cached session the server has ended, with no password to log in."""
    from spherekit.schema.vim25.data import NotAuthenticated

    fault = NotAuthenticated()
    fault.msg = (
        f"the cached session of {entry.user} at {entry.url} has ended (it expired or was "
        "logged out) and there is no password to log in again — run `spherekit session "
        "login` (with --password or $SPHEREKIT_PASSWORD)"
    )
    return fault


class Connection:
    """A logged-in session on the target, and what must be closed after it.

    By default a session of the session cache is reused (``reused``), else one is logged
    in with the password. ``login=True`` ignores the cache and logs in (``session login``);
    ``resume=ENTRY`` presents that cached session only and raises ``NotAuthenticated`` if
    the server has ended it. :meth:`close` leaves a session of the cache (``cached``) logged
    in, for the next command, and logs any other out.
    """

    def __init__(
        self,
        args: argparse.Namespace,
        *,
        notice: bool = True,
        login: bool = False,
        resume: Entry | None = None,
    ) -> None:
        self.target = resolve(args)
        self.sim: Simulator | None = None
        self.lab: Path | None = None
        #: the target as the session cache knows it: (URL without credentials, user)
        self.key: tuple[str, str | None] | None = None
        #: the session came from the session cache
        self.reused = False
        #: the cache entry the session belongs to (close() leaves it logged in)
        self.cached: Entry | None = None
        self._transport: Transport | None = None
        self._trace: IO[str] | None = None
        trace = getattr(args, "trace", None)
        log: WireLog | None = None
        if trace:
            from spherekit.wire.wirelog import WireLog

            self._trace = open(trace, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            log = WireLog(self._trace)
        try:
            self.session = self._connect(log, notice, login, resume)
        except BaseException:
            self.close()
            raise

    def _connect(
        self, log: WireLog | None, notice: bool, login: bool, resume: Entry | None
    ) -> Session:
        from spherekit.session import connect

        t = self.target
        if t.url is None:
            self.lab = lab_path()
            if notice:
                say(f"using the local lab at {self.lab} (no SPHEREKIT_URL set)")
            self.sim = open_lab(self.lab)
            transport: Transport = self.sim.transport()
            if log is not None:
                transport = _LoggedTransport(transport, log)
            return connect(self.sim.inprocess_url, transport=transport)
        return self._connect_url(t.url, log, login, resume)

    def _connect_url(
        self, url: str, log: WireLog | None, login: bool, resume: Entry | None
    ) -> Session:
        from spherekit.cli.session_cache import split_url

        t = self.target
        origin, key, user, url_password = split_url(url, t.user)
        self.key = (key, user)
        password = t.password if t.password is not None else url_password
        if resume is not None:
            return self._open(origin, log, resume)
        if not login:
            session = self._from_cache(origin, log, password is not None)
            if session is not None:
                return session
        if user is None or password is None:
            need = "a user name and password" if user is None else f"the password for {user}"
            how = ("--user and --password ($SPHEREKIT_USERNAME, $SPHEREKIT_PASSWORD)"
                   if user is None else "--password ($SPHEREKIT_PASSWORD)")  # fmt: skip
            if login:
                raise UsageError(f"session login needs {need} for {key} — pass {how}")
            raise UsageError(
                f"no cached session for {key}, and no {need.partition(' ')[2]} to log in — "
                f"pass {how}, or log in once with `spherekit session login`"
            )
        return self._open(origin, log, None)

    def _from_cache(self, origin: str, log: WireLog | None, password: bool) -> Session | None:
        """The cached session of the target, if the server still knows it."""
        from spherekit.cli.session_cache import CacheCorrupt, SessionCache

        assert self.key is not None
        cache = SessionCache()
        try:
            entry = cache.find(*self.key)
        except CacheCorrupt as e:
            bad = f"the session cache {cache.path} is unreadable ({e})"
            if not password:
                raise UsageError(
                    f"{bad} — run `spherekit session login` to rewrite it (or `spherekit "
                    "session logout` to remove it)"
                ) from None
            say(f"{bad}; ignoring it — `spherekit session logout` removes it")
            return None
        if entry is None:
            return None
        try:
            return self._open(origin, log, entry)
        except Exception as e:
            if not is_not_authenticated(e):
                raise
        cache.remove(entry.url, entry.user)
        if not password:
            raise session_ended(entry)
        say(f"the cached session of {entry.user} at {entry.url} has ended; dropped it, "
            "logging in with the password")  # fmt: skip
        return None

    def _open(self, origin: str, log: WireLog | None, entry: Entry | None) -> Session:
        """Connect over HTTPS: with ``entry``'s cookie, or logging in."""
        from spherekit.session import connect
        from spherekit.wire.transport import HttpTransport

        t = self.target
        assert t.url is not None
        transport = HttpTransport(
            origin,
            insecure=bool(t.insecure),
            ca_file=t.ca_file,
            thumbprint=t.thumbprint,
            wire_log=log,
        )
        session = connect(  # closes the transport if it fails
            t.url,
            user=t.user if entry is None else entry.user,
            password=t.password,
            cookie=None if entry is None else entry.cookie,
            transport=transport,
        )
        self._transport = transport
        if entry is not None:
            self.reused = True
            self.cached = entry
        return session

    def close(self) -> None:
        session = getattr(self, "session", None)
        try:
            if session is not None and self.cached is not None:
                if session.cookie != self.cached.cookie:
                    # the cached session ended during the command and the session logged
                    # in again: the new session is not the cached one
                    from spherekit.cli.session_cache import CacheCorrupt, SessionCache

                    try:
                        SessionCache().remove(self.cached.url, self.cached.user)
                    except CacheCorrupt:
                        pass
                    self.cached = None
                elif self._transport is not None:
                    self._transport.close()  # the session stays logged in, for the next command
            if session is not None and self.cached is None:
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
