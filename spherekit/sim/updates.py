"""Property collectors and filters as state: what each filter last reported, and the diff.

A filter remembers, per object, the values it last reported. An update is the difference
between that and the current state: objects that entered the selection (``enter``, all set
values), changed values (``modify``, one ``assign`` per changed path; an unset value is an
``assign`` without ``val``) and objects that left (``leave``). The registry's change log
keeps this cheap: a filter none of whose objects changed since it last looked costs
nothing, and only the changed objects are read again; the selection is recomputed only
when an object the filter's traversal went through has changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim.collector import Plan
from spherekit.sim.encoding import ObjectChange

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["Collector", "Filter"]


class Filter:
    """One PropertyFilter: its plan and what it has reported."""

    def __init__(self, ref: MoRef, plan: Plan, partial_updates: bool) -> None:
        self.ref = ref
        self.plan = plan
        self.partial_updates = partial_updates
        #: object -> {path: value} as last reported (set values only)
        self.reported: dict[MoRef, dict[str, Any]] = {}
        self.selected: dict[MoRef, None] = {}
        self.traversed: set[MoRef] = set()
        #: registry version this filter's state corresponds to; -1: compute everything
        self.seen = -1

    def reset(self) -> None:
        self.reported.clear()
        self.selected.clear()
        self.traversed.clear()
        self.seen = -1

    def diff(self, ctx: Context, budget: int | None) -> tuple[list[ObjectChange], bool]:
        """The updates since the last call, at most ``budget`` of them; (updates, truncated).

        Only what is returned counts as reported, so a truncated diff continues next time.
        """
        reg = ctx.registry
        version = reg.version
        if self.seen == version:
            return [], False
        changed = reg.changed_since(self.seen) if self.seen >= 0 else None
        if changed is None:
            reselect, to_read = True, None  # None: every selected object
        else:
            mine = [r for r in changed if r in self.selected or r in self.reported]
            through = bool(changed & self.traversed)
            if not mine and not through:
                self.seen = version
                return [], False
            reselect = through or any(r not in reg for r in mine)
            to_read = changed
        if reselect:
            self.selected, self.traversed = self.plan.select(ctx, strict=False)
        out: list[ObjectChange] = []
        truncated = False
        for ref in self.selected:
            if ref in self.reported and (to_read is None or ref not in to_read):
                continue
            if budget is not None and len(out) >= budget:
                truncated = True
                break
            update = self._object_update(ctx, ref)
            if update is not None:
                out.append(update)
        if not truncated:
            for ref in [r for r in self.reported if r not in self.selected]:
                if budget is not None and len(out) >= budget:
                    truncated = True
                    break
                del self.reported[ref]
                out.append(("leave", ref, [], []))
        # a truncated diff looks at everything again next time
        self.seen = -1 if truncated else version
        return out, truncated

    def _object_update(self, ctx: Context, ref: MoRef) -> ObjectChange | None:
        content = self.plan.read(ctx, ref)
        if content is None:
            return None
        _ref, props, missing = content
        now = {path: (tname, flags, value) for path, tname, flags, value in props}
        old = self.reported.get(ref)
        self.reported[ref] = {path: v[2] for path, v in now.items()}
        if old is None:
            changes = [(p, "assign", t, f, v) for p, (t, f, v) in now.items()]
            return "enter", ref, changes, missing
        changes = []
        for path, (tname, flags, value) in now.items():
            before = old.get(path)
            if before is not value and before != value:
                changes.append((path, "assign", tname, flags, value))
        for path in old:
            if path not in now:
                changes.append((path, "assign", "anyType", 0, None))
        if not changes:
            return None
        return "modify", ref, changes, []


class Collector:
    """One PropertyCollector of a session: its filters and its update version."""

    def __init__(self, ref: MoRef) -> None:
        self.ref = ref
        self.filters: dict[MoRef, Filter] = {}
        self.version = 0
        self.waiting = 0
        self.cancelled = False
        self.closed = False

    def reset(self) -> None:
        """Forget what was reported: the next update is a full one."""
        for f in self.filters.values():
            f.reset()

    def close(self) -> None:
        self.closed = True
        self.filters.clear()

    def updates(
        self, ctx: Context, budget: int | None
    ) -> tuple[list[tuple[MoRef, list[ObjectChange]]], bool]:
        """Updates of every filter, at most ``budget`` object updates in all."""
        out: list[tuple[MoRef, list[ObjectChange]]] = []
        truncated = False
        for f in list(self.filters.values()):
            left = None if budget is None else budget - sum(len(u) for _r, u in out)
            if left is not None and left <= 0:
                truncated = True
                break
            changes, cut = f.diff(ctx, left)
            if changes:
                out.append((f.ref, changes))
            if cut:
                truncated = True
                break
        return out, truncated
