"""What event and task history collectors share: entity filters and the scrollable view.

``entity_matches`` applies an ``EventFilterSpecRecursionOption`` /
``TaskFilterSpecRecursionOption`` (``self``, ``children``, ``all``) to the entities an
event or task is about, walking the inventory through ``parent`` and a VM's
``resourcePool``. :class:`Scroll` is a HistoryCollector's position and page size over an
oldest-first list of items (see :mod:`spherekit.sim.event_manager`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from spherekit.schema.base import MoRef
from spherekit.sim import faults

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = [
    "DEFAULT_PAGE",
    "MAX_COLLECTORS",
    "MAX_PAGE",
    "Scroll",
    "ancestors",
    "entity_matches",
    "owned_count",
]

#: collectors of one kind a session may hold (vCenter's ``maxCollector``)
MAX_COLLECTORS = 32
#: the largest page a collector or a read may ask for
MAX_PAGE = 1000
DEFAULT_PAGE = 10
T = TypeVar("T")


def _parents(ctx: Context, ref: MoRef) -> list[MoRef]:
    reg = ctx.registry
    if ref not in reg:
        return []
    props = reg.props(ref)
    out = [p for p in (props.get("parent"), props.get("resourcePool")) if isinstance(p, MoRef)]
    return out


def ancestors(ctx: Context, ref: MoRef) -> set[MoRef]:
    """Every entity above ``ref`` in the inventory (folders, pools, clusters, ...)."""
    seen: set[MoRef] = set()
    todo = _parents(ctx, ref)
    while todo:
        cur = todo.pop()
        if cur not in seen:
            seen.add(cur)
            todo.extend(_parents(ctx, cur))
    return seen


def entity_matches(
    ctx: Context, refs: list[MoRef], target: MoRef, recursion: str, root: MoRef | None
) -> bool:
    """Whether an event about ``refs`` matches an entity filter on ``target``."""
    if recursion == "all":
        if target == root:
            return True
        return any(r == target or target in ancestors(ctx, r) for r in refs)
    if recursion == "children":
        return any(target in _parents(ctx, r) for r in refs)
    if target == root and not refs:
        return True  # events about the server itself (logins, ...)
    return target in refs


class Scroll(Generic[T]):
    """A HistoryCollector's position and page size over an oldest-first list of items."""

    def __init__(self) -> None:
        self.page_size = DEFAULT_PAGE
        self.pos = 0

    @staticmethod
    def check(count: int, name: str = "maxCount") -> None:
        if not 0 < count <= MAX_PAGE:
            raise faults.invalid_argument(name, f"must be 1..{MAX_PAGE}")

    def latest(self, items: list[T]) -> list[T]:
        return items[-self.page_size :] if self.page_size else []

    def read_next(self, items: list[T], count: int) -> list[T]:
        self.check(count)
        self.pos = min(max(self.pos, 0), len(items))
        out = items[self.pos : self.pos + count]
        self.pos += len(out)
        return out

    def read_previous(self, items: list[T], count: int) -> list[T]:
        self.check(count)
        self.pos = min(max(self.pos, 0), len(items))
        start = max(self.pos - count, 0)
        out = items[start : self.pos]
        self.pos = start
        return out[::-1]

    def reset(self, items: list[T]) -> None:
        self.pos = max(len(items) - self.page_size, 0)

    def set_page_size(self, count: int) -> None:
        if not 0 <= count <= MAX_PAGE:
            raise faults.invalid_argument("maxCount", f"must be 0..{MAX_PAGE}")
        self.page_size = count


def owned_count(ctx: Context, mtype: str) -> int:
    s = ctx.require_session()
    return sum(1 for r in s.owned if r.type == mtype and r in ctx.registry)
