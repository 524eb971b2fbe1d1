"""Sessions: connect, log in (and again when vCenter expires the session), and call().

``Session.call`` is the one path every remote call takes. Nothing else in spherekit
talks to the server, and no attribute access ever does.

Retries are scoped to the one call that failed:

- ``NotAuthenticated`` (the server expired the session): log in again once, under a
  lock shared by all threads, and re-send only that call;
- a network error before the request could reach the server: re-send;
- a network error after it may have reached the server: re-send reads (methods that
  change nothing) with capped backoff; a write raises :class:`OutcomeUnknown`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from urllib.parse import unquote, urlsplit

from lxml import etree

from spherekit.errors import (
    OutcomeUnknown,
    ProtocolError,
    ReadOnlyError,
    TransportError,
    UsageError,
)
from spherekit.schema import registry
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.wire import codec
from spherekit.wire.transport import HttpTransport, Request, Response, Transport, WireLog
from spherekit.wire.xml import parse

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import ServiceContent, UserSession

__all__ = ["Session", "connect"]

_T = TypeVar("_T")

SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")
#: the API version spoken until negotiation says otherwise
FALLBACK_VERSION = "6.5"
#: backoff (seconds) between re-sends of a read after a network error
READ_RETRY_DELAYS = (0.2, 1.0, 3.0)
_COOKIE = "vmware_soap_session"
#: the session cookie in a Set-Cookie header (several cookies may be folded into one line)
_COOKIE_RE = re.compile(r'(?:^|[\s,;])(vmware_soap_session=(?:"[^"]*"|[^;,\s]*))')


def _redact_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``, for messages."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    at = rest.rfind("@")
    if at == -1:
        return url
    user, colon, _password = rest[:at].partition(":")
    return f"{head}{sep}{user}{':***' if colon else ''}{rest[at:]}"


def _split_url(url: str) -> tuple[str, str | None, str | None]:
    """(URL without credentials and with /sdk, user, password) from a vSphere URL."""
    shown = _redact_url(url)  # messages never carry the password
    if "://" not in url:
        raise UsageError(f"URL {shown!r} has no scheme; use https://{shown.strip('/')}/sdk")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"URL {shown!r}: scheme must be https (or http), not {parts.scheme!r}")
    if not parts.hostname:
        raise UsageError(f"URL {shown!r} has no host; use https://<host>/sdk")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path.rstrip("/") or "/sdk"
    return f"{parts.scheme}://{netloc}{path}", user, password


class Session:
    """A logged-in connection to a vCenter or ESXi endpoint. Thread-safe.

    Create one with :func:`connect`. Use it as a context manager to log out on exit.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        path: str = "/sdk",
        user: str | None = None,
        password: str | None = None,
        read_only: bool = False,
        version: str | None = None,
    ) -> None:
        self._transport = transport
        self._path = path
        self._user = user
        self._password = password
        self.read_only = read_only
        self._cookie: str | None = None
        self._login_lock = threading.Lock()
        self._login_generation = 0
        self._keepalive: threading.Thread | None = None
        self._closed = threading.Event()
        self.api_version = version or FALLBACK_VERSION
        self._vindex = registry.version_index(self.api_version)
        self.content: ServiceContent = cast("ServiceContent", None)
        self.user_session: UserSession | None = None

    # -- the one path -----------------------------------------------------------------

    def call(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        """Call ``method`` on ``this`` and return its decoded result.

        Raises the method's fault as its typed exception (``faults.InvalidPowerState``...),
        :class:`~spherekit.errors.UsageError` for mistakes found before sending, and
        :class:`~spherekit.errors.TransportError` subclasses for network failures.
        """
        payload = self.call_raw(this, method, **params)
        return codec.decode_return(method, payload)

    def call_raw(
        self,
        this: MoRef | ManagedObject,
        method: str,
        /,
        *,
        _timeout: float | None = None,
        _relogin: bool = True,
        **params: Any,
    ) -> etree._Element:
        """Like :meth:`call`, but return the response element undecoded (for bulk reads).

        ``_relogin=False`` raises NotAuthenticated instead of logging in again (for
        clean-up calls on objects that died with an expired session anyway).
        """

        def payload(resp: Response) -> etree._Element:
            return codec.response_payload(method, resp.body, resp.status)

        return self._invoke(this, method, params, _timeout, _relogin, payload)

    def call_bytes(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> bytes:
        """Like :meth:`call_raw`, but return the response's bytes unparsed.

        For readers that parse the answer their own way (the bulk-read fast path). The
        same retries and re-login apply; a SOAP fault is still raised as its exception.
        """

        def body(resp: Response) -> bytes:
            if resp.status != 200:
                codec.response_payload(method, resp.body, resp.status)  # raises the fault
            return resp.body

        return self._invoke(this, method, params, None, True, body)

    def _invoke(
        self,
        this: MoRef | ManagedObject,
        method: str,
        params: dict[str, Any],
        timeout: float | None,
        relogin: bool,
        finish: Callable[[Response], _T],
    ) -> _T:
        """Encode, send (re-sending and logging in again as the module says), ``finish``."""
        ref = this.ref if isinstance(this, ManagedObject) else this
        if not isinstance(ref, MoRef):
            raise UsageError(f"{method}: the target must be a MoRef or a handle, got {ref!r}")
        if self._closed.is_set() and method != "Logout":
            raise UsageError(
                f"{method}: this session was logged out; connect() again for a new one"
            )
        writes = codec.method_info(method)[3]
        if writes and self.read_only:
            raise ReadOnlyError(
                f"{method} changes server state and this session is read-only "
                "(connect without read_only=True to allow it)"
            )
        body = codec.encode_call(method, ref, params, self._vindex)
        generation = self._login_generation
        relogged = not relogin
        attempt = 0
        while True:
            try:
                return finish(self._send(method, body, timeout))
            except TransportError as e:
                if e.maybe_sent and writes:
                    raise OutcomeUnknown(
                        f"{method} on {ref}: the outcome is unknown ({e}). The request may "
                        "have reached the server, so it was not re-sent; check the server's "
                        "state (e.g. recent tasks) before trying again",
                        method=method,
                        maybe_sent=True,
                    ) from e
                if attempt >= len(READ_RETRY_DELAYS) or self._closed.is_set():
                    raise
                time.sleep(READ_RETRY_DELAYS[attempt])
                attempt += 1
            except Exception as e:
                if (
                    not relogged
                    and _is_not_authenticated(e)
                    and self._password is not None
                    and method not in ("Login", "Logout")
                ):
                    self._relogin(generation)
                    relogged = True
                    continue
                raise

    def _send(self, method: str, body: bytes, timeout: float | None) -> Response:
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"urn:vim25/{self.api_version}"',
        }
        cookie = self._cookie
        if cookie:
            headers["Cookie"] = cookie
        resp = self._transport.send(
            Request("POST", self._path, headers, body, soap_method=method), timeout=timeout
        )
        set_cookie = resp.headers.get("set-cookie")
        if set_cookie and _COOKIE in set_cookie:
            m = _COOKIE_RE.search(set_cookie)
            if m is not None:
                self._cookie = m.group(1)
        return resp

    # -- login ----------------------------------------------------------------------

    def login(self) -> UserSession:
        """Log in with the session's credentials (done by :func:`connect`)."""
        if self._user is None or self._password is None:
            raise UsageError("no credentials: pass user= and password= (or put them in the URL)")
        mgr = self.content.sessionManager
        if mgr is None:
            raise ProtocolError("the server's ServiceContent has no sessionManager")
        us = self.call(mgr, "Login", userName=self._user, password=self._password)
        self.user_session = cast("UserSession", us)
        return self.user_session

    @property
    def cookie(self) -> str | None:
        """The session cookie (``vmware_soap_session=...``); None before login and after logout.

        Pass it to :func:`connect` as ``cookie=`` to resume this session elsewhere (another
        process, a later run) without logging in again. It is a secret, as good as a
        password while the session lives: never log or print it.
        """
        return self._cookie

    def _resume(self, cookie: str) -> UserSession:
        """Present ``cookie`` instead of logging in, and check that the server knows it.

        Reads ``SessionManager.currentSession`` (never logging in again on the way); a
        session the server has ended raises ``NotAuthenticated``.
        """
        from spherekit.schema.vim25.data import (
            NotAuthenticated,
            ObjectSpec,
            PropertyFilterSpec,
            PropertySpec,
            RetrieveOptions,
        )

        mgr = self.content.sessionManager
        if mgr is None:
            raise ProtocolError("the server's ServiceContent has no sessionManager")
        cookie = cookie.strip()
        self._cookie = cookie if cookie.startswith(f"{_COOKIE}=") else f"{_COOKIE}={cookie}"
        spec = PropertyFilterSpec(
            propSet=[PropertySpec(type="SessionManager", pathSet=["currentSession"], all=False)],
            objectSet=[ObjectSpec(obj=mgr, skip=False)],
        )
        us: UserSession | None = None
        try:
            result = self.call(
                self.content.propertyCollector,
                "RetrievePropertiesEx",
                specSet=[spec],
                options=RetrieveOptions(),
                _relogin=False,
            )
        except NotAuthenticated:
            result = None
        for obj in (result.objects or []) if result is not None else []:
            for prop in obj.propSet or []:
                if prop.name == "currentSession":
                    us = prop.val
        if us is None:
            self._cookie = None
            fault = NotAuthenticated()
            fault.msg = (
                "the server no longer knows the session of this cookie (it expired or was "
                "logged out); log in again"
            )
            raise fault
        self.user_session = us
        return us

    def _relogin(self, generation: int) -> None:
        """Log in again, once for all threads whose calls failed in the same generation."""
        with self._login_lock:
            if self._login_generation != generation:
                return  # another thread already logged in again
            self._cookie = None
            self.login()
            self._login_generation += 1

    def logout(self) -> None:
        self._closed.set()
        mgr = self.content.sessionManager if self.content is not None else None
        if mgr is not None and self._cookie:
            try:
                self.call(mgr, "Logout")
            except Exception:
                pass
        self._cookie = None

    def close(self) -> None:
        """Log out and release the connection pool."""
        try:
            self.logout()
        finally:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- keepalive --------------------------------------------------------------------

    def start_keepalive(self, interval: float = 300.0) -> None:
        """Call CurrentTime every ``interval`` seconds so an idle session is not expired."""
        if self._keepalive is not None:
            return

        def run() -> None:
            while not self._closed.wait(interval):
                try:
                    self.call(SERVICE_INSTANCE, "CurrentTime")
                except Exception:
                    continue

        self._keepalive = threading.Thread(target=run, name="spherekit-keepalive", daemon=True)
        self._keepalive.start()

    # -- conveniences (no remote calls) ------------------------------------------------

    def handle(self, ref: MoRef) -> ManagedObject:
        """A typed handle on ``ref`` (``VirtualMachine``, ``Folder``, ...)."""
        return registry.handle_class(ref.type)(self, ref)

    @property
    def is_vcenter(self) -> bool:
        return self.content.about.apiType == "VirtualCenter"

    def negotiate(self) -> str:
        """Pick the API version from /sdk/vimServiceVersions.xml (or the ServiceContent)."""
        version = _versions_from_xml(self._transport, self._path)
        if version is None:
            self.content = self.call(SERVICE_INSTANCE, "RetrieveServiceContent")
            version = _known_version(self.content.about.apiVersion)
        self.api_version = version
        self._vindex = registry.version_index(version)
        self.content = self.call(SERVICE_INSTANCE, "RetrieveServiceContent")
        return version


def _is_not_authenticated(e: Exception) -> bool:
    from spherekit.schema.vim25.data import NotAuthenticated

    return isinstance(e, NotAuthenticated)


def _known_version(server: str) -> str:
    """The version to speak to a server that reports ``server``: it, or our newest."""
    if server in registry.VERSIONS:
        return server
    idx = registry.version_index(server)
    numeric = [v for v in registry.VERSIONS[: idx + 1] if v[0].isdigit()]
    return numeric[-1] if numeric else server


def _versions_from_xml(transport: Transport, sdk_path: str) -> str | None:
    try:
        resp = transport.send(Request("GET", f"{sdk_path}/vimServiceVersions.xml", {}))
    except TransportError:
        raise
    if resp.status != 200 or not resp.body.lstrip().startswith(b"<"):
        return None
    try:
        root = parse(resp.body, what="vimServiceVersions.xml")
    except ProtocolError:
        return None
    for ns in root.iter("namespace"):
        if ns.findtext("name") == "urn:vim25":
            version = ns.findtext("version")
            if version:
                return _known_version(version.strip())
    return None


def connect(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    insecure: bool = False,
    ca_file: str | None = None,
    thumbprint: str | None = None,
    cookie: str | None = None,
    read_only: bool = False,
    keepalive: float | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
    wire_log: WireLog | None = None,
    transport: Transport | None = None,
) -> Session:
    """Connect to a vCenter or ESXi endpoint and log in.

    ``url`` is ``https://host/sdk`` (``/sdk`` is added if missing); credentials may be in
    the URL (``https://user:pass@host/sdk``) or passed as ``user=``/``password=``.
    TLS is verified against the system CAs; ``ca_file=`` trusts another CA,
    ``thumbprint=`` pins the server's SHA-256 certificate thumbprint, and ``insecure=True``
    turns verification off (explicit opt-in only).

    ``cookie=`` (the :attr:`Session.cookie` of an earlier session) resumes that session
    instead of logging in: no Login is sent, the server is asked for
    ``SessionManager.currentSession``, and if it no longer knows the session
    ``NotAuthenticated`` is raised (drop the cookie and connect with a password). Credentials
    are optional then; given as well, they log in again if the session expires later.
    """
    base, url_user, url_password = _split_url(url)
    user = user if user is not None else url_user
    password = password if password is not None else url_password
    if cookie is None and (user is None or password is None):
        raise UsageError(
            "connect needs user= and password= (or https://user:pass@host/sdk), or the "
            "cookie= of a live session"
        )
    split = urlsplit(base)
    if transport is None:
        transport = HttpTransport(
            f"{split.scheme}://{split.netloc}",
            insecure=insecure,
            ca_file=ca_file,
            thumbprint=thumbprint,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            wire_log=wire_log,
        )
    session = Session(transport, path=split.path, user=user, password=password, read_only=read_only)
    try:
        session.negotiate()
        if cookie is None:
            session.login()
        else:
            session._resume(cookie)
    except BaseException:
        transport.close()
        raise
    if keepalive:
        session.start_keepalive(keepalive)
    return session
