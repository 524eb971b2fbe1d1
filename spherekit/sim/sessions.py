"""Login sessions: keys, cookies, idle expiry, and the objects a session owns.

The cookie a client presents (``vmware_soap_session``) is a secret distinct from the
session's ``key``, which other sessions can see in ``SessionManager.sessionList`` (as
vCenter keeps them apart). A session owns the views, property collectors and filters it
creates; they go away with it (logout or idle expiry).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim.registry import Registry

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import UserSession
    from spherekit.sim.updates import Collector

__all__ = ["COOKIE", "Sessions", "SimSession"]

COOKIE = "vmware_soap_session"


class SimSession:
    """One logged-in session."""

    def __init__(self, key: str, user: str, ip: str, agent: str, locale: str) -> None:
        self.key = key
        self.cookie = secrets.token_hex(20)
        self.user = user
        self.ip = ip
        self.agent = agent
        self.locale = locale
        self.login_time = datetime.now(UTC)
        self.last_active_time = self.login_time
        self.last_active = time.monotonic()
        self.call_count = 0
        #: calls of this session being answered (a session is not idle while it waits in
        #: WaitForUpdatesEx, however long that takes)
        self.in_flight = 0
        #: objects this session created (views, collectors, filters)
        self.owned: set[MoRef] = set()
        #: property collectors of this session, the default one included once used
        self.collectors: dict[MoRef, Collector] = {}
        #: continuation tokens of RetrievePropertiesEx -> remaining results
        self.retrievals: dict[str, Any] = {}
        self._ids = 0

    def next_id(self) -> str:
        """A moref value for an object of this session: ``session[<key>]<n>``."""
        self._ids += 1
        return f"session[{self.key}]{self._ids:x}"

    def user_session(self) -> UserSession:
        from spherekit.schema.vim25.data import UserSession

        return UserSession(
            key=self.key,
            userName=self.user,
            fullName=self.user,
            loginTime=self.login_time,
            lastActiveTime=self.last_active_time,
            locale=self.locale,
            messageLocale=self.locale,
            extensionSession=False,
            ipAddress=self.ip,
            userAgent=self.agent,
            callCount=self.call_count,
        )


class Sessions:
    """All sessions of one endpoint. Callers hold the registry lock."""

    def __init__(self, registry: Registry, timeout: float | None) -> None:
        self._registry = registry
        self.timeout = timeout
        self._by_cookie: dict[str, SimSession] = {}
        self._by_key: dict[str, SimSession] = {}

    def login(self, user: str, ip: str, agent: str, locale: str) -> SimSession:
        self.expire_idle()
        s = SimSession(self._registry.uuid(), user, ip, agent, locale)
        self._by_cookie[s.cookie] = s
        self._by_key[s.key] = s
        return s

    def by_cookie(self, cookie: str | None) -> SimSession | None:
        """The live session a cookie belongs to (expired ones end here), marking activity."""
        if not cookie:
            return None
        s = self._by_cookie.get(cookie)
        if s is None:
            return None
        now = time.monotonic()
        if self.timeout is not None and not s.in_flight and now - s.last_active > self.timeout:
            self.end(s)
            return None
        s.last_active = now
        s.last_active_time = datetime.now(UTC)
        s.call_count += 1
        return s

    def by_key(self, key: str) -> SimSession | None:
        return self._by_key.get(key)

    def all(self) -> list[SimSession]:
        return list(self._by_key.values())

    def end(self, s: SimSession) -> None:
        """Log a session out: drop its objects and stop its waiting collectors."""
        self._by_cookie.pop(s.cookie, None)
        self._by_key.pop(s.key, None)
        for c in s.collectors.values():
            c.close()
        s.collectors.clear()
        s.retrievals.clear()
        for ref in list(s.owned):
            self._registry.remove(ref)
        s.owned.clear()
        self._registry.touch()

    def expire_idle(self) -> None:
        if self.timeout is None:
            return
        limit = time.monotonic() - self.timeout
        for s in [s for s in self._by_key.values() if s.last_active < limit and not s.in_flight]:
            self.end(s)

    def end_all(self) -> None:
        for s in list(self._by_key.values()):
            self.end(s)
