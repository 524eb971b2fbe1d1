"""Guest customization outcomes read from events, push-based.

vSphere 7.0 U2 added ``GuestInfo.customizationInfo``. Before it, and for guests whose
VMware Tools do not report it, the only word on a customization is what vCenter posts
against the VM: ``CustomizationStartedEvent``, then ``CustomizationSucceeded`` or
``CustomizationFailed`` (or one of its kinds: ``CustomizationLinuxIdentityFailed``,
``CustomizationNetworkSetupFailed``, ``CustomizationSysprepFailed``,
``CustomizationUnknownFailure``).

:class:`CustomizationEvents` reads those events without polling:

- EventHistoryCollectors (``EventManager.CreateCollectorForEvents``) filtered to these
  event types and to the VMs: the VM itself (``self``) when there is one, else each
  folder holding them (``children``; a group's nodes share one folder, so one collector),
  and the root folder (``all``) if they are spread over more than :data:`MAX_COLLECTORS`
  folders. Events of other VMs that a folder filter lets through are ignored.
- Each collector is rewound to its oldest event, and its ``latestPage`` is watched through
  the caller's :class:`~spherekit.property.Watch` (``WaitForUpdatesEx``) beside the guest
  properties, so one wait covers both.
- Whenever a ``latestPage`` changes, :meth:`CustomizationEvents.read` reads that
  collector to its end with ``ReadNextEvents``: every event once, in order, however many
  arrived between two waits (the latest page alone could skip some).
- Collectors belong to the session. When a re-login made them vanish, the caller
  :meth:`~CustomizationEvents.close`\\ s and opens again; the new collectors are read from
  the oldest event, which gives the same outcomes.

The outcome of a VM is that of its newest customization: a ``CustomizationStartedEvent``
clears what an earlier one ended with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spherekit import vim
from spherekit.compute.placement import read_objects
from spherekit.errors import SpherekitError
from spherekit.property import filter_spec
from spherekit.schema import registry
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.property import Watch
    from spherekit.session import Session

__all__ = [
    "EVENT_TYPES",
    "FAILURES",
    "INFO_SINCE",
    "MAX_COLLECTORS",
    "CustomizationEvents",
    "Outcome",
    "reports_customization_info",
]

STARTED = "CustomizationStartedEvent"
SUCCEEDED = "CustomizationSucceeded"
#: ``CustomizationFailed`` and its kinds
FAILURES = (
    "CustomizationFailed",
    "CustomizationLinuxIdentityFailed",
    "CustomizationNetworkSetupFailed",
    "CustomizationSysprepFailed",
    "CustomizationUnknownFailure",
)
EVENT_TYPES = (STARTED, SUCCEEDED, *FAILURES)
#: the first API version whose GuestInfo carries ``customizationInfo`` (vSphere 7.0 U2)
INFO_SINCE = "7.0.2.0"
#: folders watched one collector each; beyond this, one collector over the root folder
#: (vCenter allows a session 32 event collectors)
MAX_COLLECTORS = 8
_PAGE = 1000  # the largest ReadNextEvents page vCenter accepts


def reports_customization_info(session: Session) -> bool:
    """Whether the API version spoken has ``guest.customizationInfo`` (7.0.2.0 or newer)."""
    return registry.version_index(session.api_version) >= registry.version_index(INFO_SINCE)


@dataclass(frozen=True)
class Outcome:
    """How a VM's customization ended, by the event that said so."""

    ok: bool
    event: str
    message: str


def _outcome(event: Any) -> Outcome | None:
    kind = event._wsdl_name
    if kind == SUCCEEDED:
        return Outcome(True, kind, str(event.fullFormattedMessage or "customization succeeded"))
    if kind in FAILURES:
        why = str(event.fullFormattedMessage or "no details")
        reason = getattr(event, "reason", None)
        return Outcome(False, kind, f"{kind}: {why}" + (f" ({reason})" if reason else ""))
    return None


class CustomizationEvents:
    """The customization events of ``vms``; see the module documentation."""

    def __init__(self, session: Session, vms: Sequence[MoRef]) -> None:
        self._session = session
        self._vms = set(vms)
        self._order = list(vms)
        self._collectors: list[MoRef] = []
        #: the outcome of each VM's newest customization that has ended
        self.outcomes: dict[MoRef, Outcome] = {}

    def _entities(self) -> list[tuple[MoRef, str]]:
        if len(self._order) == 1:
            return [(self._order[0], "self")]
        parents = read_objects(self._session, "VirtualMachine", self._order, ["parent"])
        out: list[tuple[MoRef, str]] = []
        for vm in self._order:
            parent = parents.get(vm, {}).get("parent")
            entity = (parent, "children") if parent is not None else (vm, "self")
            if entity not in out:
                out.append(entity)
        if len(out) > MAX_COLLECTORS:
            return [(self._session.content.rootFolder, "all")]
        return out

    def open(self, watch: Watch) -> None:
        """Create the collectors and watch their ``latestPage`` through ``watch``."""
        mgr = self._session.content.eventManager
        if mgr is None:
            raise SpherekitError(
                "this endpoint has no EventManager, so the outcome of a guest customization "
                "cannot be read (it predates guest.customizationInfo too)"
            )
        try:
            for entity, recursion in self._entities():
                spec = vim.EventFilterSpec(
                    entity=vim.EventFilterSpecByEntity(
                        entity=entity, recursion=vim.EventFilterSpecRecursionOption(recursion)
                    ),
                    eventTypeId=list(EVENT_TYPES),
                )
                ref: MoRef = self._session.call(mgr, "CreateCollectorForEvents", filter=spec)
                self._collectors.append(ref)
                self._session.call(ref, "RewindCollector")
                watch.add(filter_spec("EventHistoryCollector", ["latestPage"], [ref]))
        except BaseException:
            self.close()
            raise

    def owns(self, ref: MoRef | None) -> bool:
        """Whether ``ref`` is one of this reader's collectors."""
        return ref in self._collectors

    def read(self, collectors: Sequence[MoRef] | None = None) -> None:
        """Read ``collectors`` (all if None) to their end and update :attr:`outcomes`."""
        for ref in self._collectors if collectors is None else collectors:
            while True:
                events = self._session.call(ref, "ReadNextEvents", maxCount=_PAGE) or []
                for event in sorted(events, key=lambda e: e.key):
                    arg = getattr(event, "vm", None)
                    vm = getattr(arg, "vm", None)
                    if vm not in self._vms:
                        continue
                    if event._wsdl_name == STARTED:
                        self.outcomes.pop(vm, None)
                    outcome = _outcome(event)
                    if outcome is not None:
                        self.outcomes[vm] = outcome
                if len(events) < _PAGE:
                    break

    def close(self) -> None:
        """Destroy the collectors (those already gone with their session are skipped)."""
        for ref in self._collectors:
            try:
                self._session.call(ref, "DestroyCollector", _relogin=False)
            except SpherekitError:
                pass
        self._collectors = []
