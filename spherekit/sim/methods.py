"""The table of implemented methods and computed properties.

Each managed-type module registers its handlers here::

    @handler("VirtualMachine", "PowerOnVM_Task")
    def power_on(ctx: Context, this: MoRef, *, host: MoRef | None = None) -> MoRef: ...

A handler takes the call context, ``_this`` and the method's parameters (by their Python
names) as keyword arguments; a parameter the handler does not accept is refused with
``NotSupported`` instead of being silently ignored. A method inherited from a base type
(``Destroy_Task`` of ``ManagedEntity``) is found through the type hierarchy. Anything
not in the table answers ``MethodNotFound``.

A *computed property* (``SessionManager.currentSession``, ``ServiceInstance.serverClock``)
is read through a function of the caller's context instead of the stored properties.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = [
    "ANONYMOUS",
    "Computed",
    "Handler",
    "computed",
    "find",
    "find_computed",
    "handler",
    "implemented",
]

Handler = Callable[..., Any]
Computed = Callable[["Context", MoRef], Any]
F = TypeVar("F", bound=Handler)
C = TypeVar("C", bound=Computed)

#: methods a client may call before logging in (as vCenter allows)
ANONYMOUS = frozenset({"RetrieveServiceContent", "CurrentTime", "Login"})

_HANDLERS: dict[tuple[str, str], tuple[Handler, frozenset[str] | None]] = {}
_COMPUTED: dict[tuple[str, str], Computed] = {}


def handler(mtype: str, method: str) -> Callable[[F], F]:
    """Register ``fn`` as the implementation of ``mtype.method``."""
    if method != "Fetch" and method not in schema.METHODS:
        raise ValueError(f"{method} is not a vim25 method")

    def register(fn: F) -> F:
        params = inspect.signature(fn).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            accepted = None
        else:
            accepted = frozenset(p.name for p in params if p.kind is p.KEYWORD_ONLY)
        _HANDLERS[(mtype, method)] = (fn, accepted)
        return fn

    return register


def _lineage(mtype: str) -> list[str]:
    out: list[str] = []
    cur: str | None = mtype
    while cur is not None:
        out.append(cur)
        cur = schema.MANAGED_BASES.get(cur)
    out.append("ManagedObject")
    return out


def find(mtype: str, method: str) -> tuple[Handler, frozenset[str] | None] | None:
    """The handler of ``method`` for an object of type ``mtype`` (or a base type)."""
    for t in _lineage(mtype):
        found = _HANDLERS.get((t, method))
        if found is not None:
            return found
    return None


def computed(mtype: str, name: str) -> Callable[[C], C]:
    """Register ``fn(ctx, ref)`` as the reader of property ``name`` of ``mtype``."""

    def register(fn: C) -> C:
        _COMPUTED[(mtype, name)] = fn
        return fn

    return register


def find_computed(mtype: str, name: str) -> Computed | None:
    for t in _lineage(mtype):
        fn = _COMPUTED.get((t, name))
        if fn is not None:
            return fn
    return None


def implemented() -> list[tuple[str, str]]:
    """(type, method) of every implemented method, sorted (for the coverage docs)."""
    return sorted(_HANDLERS)
