"""The property collector's engine: which objects a filter spec selects, and their values.

A :class:`Plan` is a checked ``PropertyFilterSpec``. Selection follows vCenter's rules:
every ``ObjectSpec`` object is selected unless ``skip``; its ``selectSet`` is followed
from it: a ``TraversalSpec`` applies to objects of its ``type`` (or a subtype), follows the
reference(s) in its ``path`` and selects them unless ``skip``, then applies its own
``selectSet`` to each; a bare ``SelectionSpec`` names a ``TraversalSpec`` defined anywhere
in the filter spec (that is how recursion is written). Each (object, traversal) pair is
followed once, so recursive specs terminate.

Properties are read for the ``PropertySpec`` s whose type is the object's type or a base
of it; an object no ``PropertySpec`` applies to is not reported. A path that is not valid
for its type raises ``InvalidProperty``; a value that is not set is left out; a computed
property whose reader raises a fault is reported in ``missingSet``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults, methods
from spherekit.sim.access import viewer
from spherekit.sim.encoding import Content, Prop
from spherekit.sim.paths import all_properties, field_attrs, path_type
from spherekit.sim.values import get_path

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        PropertyFilterSpec,
        SelectionSpec,
        TraversalSpec,
    )
    from spherekit.sim.backend import Context

__all__ = ["Plan", "read_path"]

#: (path, property name, attributes of the fields below it, declared type, flags,
#:  computed reader)
Reader = tuple[str, str, tuple[str, ...], str, int, "methods.Computed | None"]


def _invalid_type(name: str) -> Exception:
    from spherekit.schema.vim25.data import InvalidType

    return faults.with_msg(InvalidType(argument="type"), f"{name!r} is not a managed-object type")


def _check_type(name: str) -> None:
    if not schema.is_managed(name):
        raise _invalid_type(name)


def read_path(ctx: Context, ref: MoRef, name: str, rest: tuple[str, ...]) -> Any:
    """The value of property ``name`` (then fields ``rest``) of ``ref``; None if unset."""
    fn = methods.find_computed(ref.type, name)
    value = fn(ctx, ref) if fn is not None else ctx.registry.props(ref).get(name)
    return get_path(value, rest) if rest else value


def _refs(value: Any) -> list[MoRef]:
    if isinstance(value, MoRef):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, MoRef)]
    return []


class Plan:
    """A checked filter spec, ready to select objects and read their properties."""

    def __init__(self, spec: PropertyFilterSpec) -> None:
        from spherekit.schema.vim25.data import TraversalSpec

        self.spec = spec
        self.report_missing = bool(spec.reportMissingObjectsInResults)
        self._props: list[tuple[str, bool, list[str]]] = []
        for ps in spec.propSet or ():
            _check_type(ps.type)
            for p in ps.pathSet or ():
                if path_type(ps.type, p) is None:
                    raise faults.invalid_property(p)
            self._props.append((ps.type, bool(ps.all), list(ps.pathSet or ())))
        self._named: dict[str, TraversalSpec] = {}
        todo: list[SelectionSpec] = [s for os in spec.objectSet or () for s in os.selectSet or ()]
        specs: list[SelectionSpec] = []
        while todo:
            s = todo.pop()
            specs.append(s)
            if isinstance(s, TraversalSpec):
                _check_type(s.type)
                if path_type(s.type, s.path) is None:
                    raise faults.invalid_property(s.path)
                if s.name:
                    self._named[s.name] = s
                todo.extend(s.selectSet or ())
        for s in specs:
            if not isinstance(s, TraversalSpec) and (s.name is None or s.name not in self._named):
                raise faults.invalid_argument("selectSet", f"no TraversalSpec named {s.name!r}")
        self._readers: dict[str, list[Reader] | None] = {}

    # -- selection ------------------------------------------------------------------------

    def select(self, ctx: Context, *, strict: bool) -> tuple[dict[MoRef, None], set[MoRef]]:
        """(selected objects in order, objects whose properties were traversed).

        With ``strict``, a missing ``ObjectSpec`` object raises ManagedObjectNotFound
        (unless the spec asks to report missing objects in the results).
        """
        from spherekit.schema.vim25.data import TraversalSpec

        selected: dict[MoRef, None] = {}
        traversed: set[MoRef] = set()
        visited: set[tuple[MoRef, int]] = set()
        for os in self.spec.objectSet or ():
            ref = os.obj
            if not ctx.visible(ref):
                if strict and not self.report_missing:
                    raise faults.not_found(ref)
                continue
            if not os.skip:
                selected[ref] = None
            stack: list[tuple[MoRef, list[SelectionSpec]]] = [(ref, os.selectSet or [])]
            while stack:
                cur, select_set = stack.pop()
                for s in select_set:
                    ts = s if isinstance(s, TraversalSpec) else self._named[s.name or ""]
                    key = (cur, id(ts))
                    if key in visited:
                        continue
                    visited.add(key)
                    if cur.type != ts.type and not schema.is_subtype(cur.type, ts.type):
                        continue
                    traversed.add(cur)
                    name, _, rest = ts.path.partition(".")
                    value = read_path(ctx, cur, name, tuple(rest.split(".")) if rest else ())
                    for r in _refs(value):
                        if not ctx.visible(r):
                            continue
                        if not ts.skip:
                            selected[r] = None
                        if ts.selectSet:
                            stack.append((r, ts.selectSet))
        sees = viewer(ctx)  # traversal goes through, results leave out what the user can't see
        if sees is not None:
            selected = {r: None for r in selected if sees(r)}
        return selected, traversed

    # -- reading --------------------------------------------------------------------------

    def readers(self, mtype: str) -> list[Reader] | None:
        """What to read from an object of ``mtype``; None if no PropertySpec applies."""
        if mtype in self._readers:
            return self._readers[mtype]
        out: dict[str, Reader] = {}
        matched = False
        for ptype, all_, paths in self._props:
            if ptype != mtype and not schema.is_subtype(mtype, ptype):
                continue
            matched = True
            if all_:
                for name, tname, flags in all_properties(mtype):
                    fn = methods.find_computed(mtype, name)
                    out.setdefault(name, (name, name, (), tname, flags, fn))
            for p in paths:
                if p not in out:
                    found = path_type(ptype, p)
                    assert found is not None  # checked in __init__
                    head = p.partition(".")[0]
                    attrs = field_attrs(ptype, p)
                    assert attrs is not None
                    fn = methods.find_computed(mtype, head)
                    out[p] = (p, head, attrs, found[0], found[1], fn)
        result = list(out.values()) if matched else None
        self._readers[mtype] = result
        return result

    def read(self, ctx: Context, ref: MoRef) -> Content | None:
        """The set properties of ``ref`` (and the ones that failed); None if not reported."""
        from spherekit.schema.vim25.data import MethodFault

        readers = self.readers(ref.type)
        if readers is None:
            return None
        obj = ctx.registry.get(ref)
        if obj is None:
            return None
        stored = obj.props
        values: list[Prop] = []
        missing: list[tuple[str, Any]] = []
        for path, name, attrs, tname, flags, fn in readers:
            try:
                value = fn(ctx, ref) if fn is not None else stored.get(name)
                for attr in attrs:
                    if value is None:
                        break
                    value = getattr(value, attr)
            except MethodFault as fault:
                missing.append((path, fault))
                continue
            if value is None or (type(value) is list and not value):
                continue
            values.append((path, tname, flags, value))
        return ref, values, missing
