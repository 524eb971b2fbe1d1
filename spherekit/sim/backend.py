"""The simulated endpoint as pure state: inventory, sessions, tasks, settings.

A :class:`Backend` knows nothing of HTTP or SOAP; :mod:`spherekit.sim.dispatch` adapts
requests to it. Every handler gets a :class:`Context`: the backend, the caller's session
and the call's target.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# importing a handler module registers its methods
import spherekit.sim.authorization
import spherekit.sim.custom_fields_manager
import spherekit.sim.event_manager
import spherekit.sim.folder
import spherekit.sim.guest_ops
import spherekit.sim.import_export
import spherekit.sim.nfc
import spherekit.sim.ovf_manager
import spherekit.sim.property_collector
import spherekit.sim.search_index
import spherekit.sim.session_manager
import spherekit.sim.snapshot
import spherekit.sim.virtual_machine  # noqa: F401
from spherekit.schema.base import MoRef
from spherekit.sim.accounts import accounts_of
from spherekit.sim.accounts import install as install_accounts
from spherekit.sim.control import Control
from spherekit.sim.customization_spec_manager import SpecStore
from spherekit.sim.datastore import install as install_datastores
from spherekit.sim.diagnostic_manager import DiagnosticLog
from spherekit.sim.esx import build_esx
from spherekit.sim.events import EventLog
from spherekit.sim.guest import Guests
from spherekit.sim.registry import Registry
from spherekit.sim.service_instance import install as install_service
from spherekit.sim.sessions import Sessions, SimSession
from spherekit.sim.storage import Storage
from spherekit.sim.store import Store
from spherekit.sim.task import TaskRunner
from spherekit.sim.task_history import TaskHistory
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
    #: the SQLite state file (None: nothing is kept); see spherekit.sim.store
    state: str | None = None
    #: more users besides the admin: name -> (password, role name such as "ReadOnly")
    users: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: a standalone ESXi host (HostAgent) instead of vCenter; see spherekit.sim.esx
    esx: bool = False
    #: seconds an HttpNfcLease lives without HttpNfcLeaseProgress (vCenter: 300)
    lease_timeout: float = 300.0
    #: seconds an HttpNfcLease stays ``initializing`` before it is ``ready``
    lease_init_delay: float = 0.0
    #: seconds from a guest's boot (tools running) to its addresses and host name
    guest_ip_delay: float = 0.5
    #: the pool guest addresses come from (the first address is the gateway)
    guest_network: str = "10.0.0.0/16"


class Backend:
    """One simulated vCenter: build it, dispatch calls to it, close it."""

    def __init__(self, model: VpxModel | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.model = model or VpxModel()
        self.registry = Registry(self.settings.seed)
        self.sessions = Sessions(self.registry, self.settings.session_timeout)
        self.closing = False
        #: the simulator's own log, served as vpxd.log (spherekit.sim.diagnostic_manager)
        self.diagnostics = DiagnosticLog()
        #: who may log in (spherekit.sim.accounts)
        self.accounts = accounts_of(self.settings)
        #: the durable store (``Settings.state``); None keeps everything in memory only
        self.store = Store(self.settings.state) if self.settings.state else None
        self.control = Control(self)
        try:
            self._populate()
        except BaseException:
            if self.store is not None:
                self.store.abandon()
            raise

    def _populate(self) -> None:
        """Build the inventory and everything around it (at start and on reset); with a
        state file that holds a saved simulator, load that instead of building."""
        stored = self.store is not None and self.store.has_state()
        self.events = EventLog(self)
        self.storage = Storage(self.store.files if self.store is not None else None)
        self.guests = Guests(self)
        self.customization_specs = SpecStore()
        with self.registry.lock:
            if self.settings.esx and not stored:
                root = build_esx(self.registry, self.model)
            else:
                root = build(self.registry, VpxModel(datacenters=0) if stored else self.model)
            self.content = install_service(self, root)
            self.tasks = TaskRunner(self)
            self.task_history = TaskHistory(self)
            install_views(self)
            self.access = install_accounts(self, root)
            if self.store is not None:
                self.store.open_state(self, load=stored)
                self.access.reindex()
            install_datastores(self)
            self.guests.install()

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial inventory: sessions end, tasks stop, files go, fault rules
        and task delays are cleared; a new ``seed`` replaces the configured one."""
        from dataclasses import replace

        old_tasks = self.tasks
        with self.registry.lock:
            self.closing = True
            self.sessions.end_all()
            self.registry.touch()
        old_tasks.shutdown()
        with self.registry.lock:
            if seed is not None:
                self.settings = replace(self.settings, seed=seed)
            self.storage.close()
            if self.store is not None:
                shutil.rmtree(self.store.files, ignore_errors=True)
                self.store.wipe()
            self.registry.listeners.clear()
            self.registry.clear(self.settings.seed)
            self.control.clear()
            self._populate()
            self.closing = False

    def flush(self) -> None:
        """Make every change so far durable (a no-op without a state file)."""
        if self.store is not None:
            self.store.flush(self)

    def close(self) -> None:
        """Stop tasks and wake every waiting call; the backend answers nothing afterwards."""
        with self.registry.lock:
            self.closing = True
            self.sessions.end_all()
            self.registry.touch()
        self.tasks.shutdown()
        self.storage.close()
        if self.store is not None:
            self.store.close(self)
        self.diagnostics.close()


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
