"""The simulated endpoint as pure state: inventory, sessions, tasks, settings.

A :class:`Backend` knows nothing of HTTP or SOAP; :mod:`spherekit.sim.dispatch` adapts
requests to it. Every handler gets a :class:`Context`: the backend, the caller's session
and the call's target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# importing a handler module registers its methods
import spherekit.sim.property_collector
import spherekit.sim.search_index
import spherekit.sim.session_manager
import spherekit.sim.virtual_machine  # noqa: F401
from spherekit.schema.base import MoRef
from spherekit.sim.events import EventLog
from spherekit.sim.guest import Guests
from spherekit.sim.registry import Registry
from spherekit.sim.service_instance import install as install_service
from spherekit.sim.sessions import Sessions, SimSession
from spherekit.sim.storage import Storage
from spherekit.sim.task import TaskRunner
from spherekit.sim.view_manager import install as install_views
from spherekit.sim.vpx import VpxModel, build

__all__ = ["Backend", "Context", "Settings"]


@dataclass(frozen=True)
class Settings:
    """How the simulated endpoint behaves."""

    user: str = "user"
    password: str = "pass"
    #: the vim25 version served (``about.apiVersion``, vimServiceVersions.xml)
    api_version: str = "8.0.2.0"
    #: idle sessions expire after this many seconds (None: never), as vCenter's 30 minutes
    session_timeout: float | None = 1800.0
    #: seconds a task takes from running to done (progress rises on the way)
    task_delay: float = 0.0
    #: seed for UUIDs, MACs and instance UUIDs (None: random)
    seed: int | None = None


class Backend:
    """One simulated vCenter: build it, dispatch calls to it, close it."""

    def __init__(self, model: VpxModel | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.model = model or VpxModel()
        self.registry = Registry(self.settings.seed)
        self.sessions = Sessions(self.registry, self.settings.session_timeout)
        self.closing = False
        self.events = EventLog(self)
        self.storage = Storage()
        self.guests = Guests(self)
        with self.registry.lock:
            root = build(self.registry, self.model)
            self.content = install_service(self, root)
            self.tasks = TaskRunner(self)
            install_views(self)

    def close(self) -> None:
        """Stop tasks and wake every waiting call; the backend answers nothing afterwards."""
        with self.registry.lock:
            self.closing = True
            self.sessions.end_all()
            self.registry.touch()
        self.tasks.shutdown()
        self.storage.close()


@dataclass(slots=True)
class Context:
    """One call: who makes it, on what."""

    backend: Backend
    session: SimSession | None
    this: MoRef
    method: str
    peer: str = ""
    user_agent: str = ""
    #: set by Login/Logout: the cookie to send back (or "" to clear it)
    response_cookie: str | None = None

    @property
    def registry(self) -> Registry:
        return self.backend.registry

    def require_session(self) -> SimSession:
        if self.session is None:
            from spherekit.schema.vim25.data import NotAuthenticated

            fault = NotAuthenticated(object=self.this, privilegeId="System.View")
            fault.msg = "The session is not authenticated."
            raise fault
        return self.session

    def visible(self, ref: MoRef) -> bool:
        """True if ``ref`` exists and this caller may see it (other sessions' views,
        collectors and filters are invisible)."""
        obj = self.backend.registry.get(ref)
        if obj is None:
            return False
        return obj.owner is None or (self.session is not None and obj.owner == self.session.key)

    def add_owned(self, mtype: str, props: dict[str, Any]) -> MoRef:
        """Add an object owned by the caller's session (a view, collector or filter)."""
        s = self.require_session()
        ref = MoRef(mtype, s.next_id())
        s.owned.add(ref)
        self.backend.registry.add(ref, props, owner=s.key)
        return ref

    def remove_owned(self, ref: MoRef) -> None:
        if self.session is not None:
            self.session.owned.discard(ref)
        self.backend.registry.remove(ref)
