"""Bulk property reads and watches over the PropertyCollector.

- :func:`fetch` reads properties of every object of a type under a root in one
  ContainerView + ``RetrievePropertiesEx`` (+ ``ContinueRetrievePropertiesEx`` pages), and
  returns ``(MoRef, {path: value})`` rows without building objects nobody asked for.
- :class:`Watch` iterates ``WaitForUpdatesEx`` on a collector of its own; it survives a
  re-login and ``InvalidCollectorVersion`` by rebuilding its filters and starting over.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from lxml import etree

from spherekit.errors import ProtocolError, SpherekitError, UsageError, WaitTimeout
from spherekit.schema import registry
from spherekit.schema.base import ARRAY, ManagedObject, MoRef
from spherekit.schema.vim25.model import PROPERTIES
from spherekit.wire import codec
from spherekit.wire.xml import parse

try:  # the compiled scanner (setup.py); without it lxml reads every answer
    from spherekit.wire import _scan as _scan  # (a module attribute: tests switch it off)
except ImportError:  # pragma: no cover - a build without a C compiler
    _scan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        MethodFault,
        ObjectUpdate,
        PropertyFilterSpec,
        UpdateSet,
    )
    from spherekit.session import Session

__all__ = ["MissingProperties", "Watch", "check_path", "check_type", "fetch", "filter_spec"]

_Q = "{urn:vim25}"
_OBJECTS, _TOKEN, _OBJ, _PROPSET, _MISSING, _NAME = (
    _Q + "objects", _Q + "token", _Q + "obj", _Q + "propSet", _Q + "missingSet", _Q + "name"
)  # fmt: skip

Row = tuple[MoRef, dict[str, Any]]


class MissingProperties(SpherekitError):
    """The server could not read some requested properties (``missingSet``)."""

    def __init__(self, missing: list[tuple[MoRef, str, MethodFault]], rows: list[Row]) -> None:
        first = missing[0]
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        super().__init__(
            f"cannot read {first[1]!r} of {first[0]}: {first[2]}{more} "
            "(pass ignore_missing=True to get the other values)"
        )
        self.missing = missing
        self.rows = rows


def _property_type(mtype: str, name: str) -> tuple[str, int] | None:
    cur: str | None = mtype
    while cur is not None:
        p = PROPERTIES.get(cur, {}).get(name)
        if p is not None:
            return p[0], p[1]
        cur = registry.MANAGED_BASES.get(cur)
    return None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``choices`` (any case), or ``""``."""
    names = list(choices)
    same_case = [n for n in names if n.lower() == word.lower()]
    close = same_case or difflib.get_close_matches(word, names, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _property_names(mtype: str) -> list[str]:
    names: list[str] = []
    cur: str | None = mtype
    while cur is not None:
        names += PROPERTIES.get(cur, {})
        cur = registry.MANAGED_BASES.get(cur)
    return names


def check_type(mtype: str) -> None:
    """Raise UsageError unless ``mtype`` names a managed-object type."""
    if not registry.is_managed(mtype):
        hint = _did_you_mean(mtype, registry.MANAGED_BASES)
        raise UsageError(f"{mtype!r} is not a managed-object type{hint}")


def check_path(mtype: str, path: str) -> None:
    """Raise UsageError unless ``path`` names a property (or nested field) of ``mtype``."""
    check_type(mtype)
    head, _, rest = path.partition(".")
    found = _property_type(mtype, head)
    if found is None:
        hint = _did_you_mean(head, _property_names(mtype))
        raise UsageError(f"{mtype} has no property {head!r} (in {path!r}){hint}")
    tname, flags = found
    walked = head
    while rest:
        if flags & ARRAY or not registry.is_data(tname):
            raise UsageError(f"{mtype}.{walked} is a {tname}; it has no field path {rest!r}")
        head, _, rest = rest.partition(".")
        cls = registry.data_class(tname)
        assert cls is not None
        field = next((f for f in cls._fields if f[1] == head), None)
        if field is None:
            hint = _did_you_mean(head, (f[1] for f in cls._fields))
            raise UsageError(f"{tname} (at {mtype}.{walked}) has no field {head!r}{hint}")
        tname, flags = field[2], field[3]
        walked += "." + head


def filter_spec(
    mtype: str, paths: Sequence[str], objects: Sequence[MoRef], *, view: bool = False
) -> PropertyFilterSpec:
    """A filter spec for ``paths`` of ``objects`` (or of the contents of a view)."""
    from spherekit.schema.vim25.data import (
        ObjectSpec,
        PropertyFilterSpec,
        PropertySpec,
        TraversalSpec,
    )

    for p in paths:
        check_path(mtype, p)
    prop = PropertySpec(type=mtype, pathSet=list(paths), all=False)
    if view:
        (view_ref,) = objects
        traverse = TraversalSpec(name="view", type=view_ref.type, path="view", skip=False)
        obj_specs = [ObjectSpec(obj=view_ref, skip=True, selectSet=[traverse])]
    else:
        obj_specs = [ObjectSpec(obj=o, skip=False) for o in objects]
    return PropertyFilterSpec(propSet=[prop], objectSet=obj_specs)


def _rows(payload: etree._Element, rows: list[Row], missing: list[Any]) -> str | None:
    """Append the rows of one RetrieveResult; return its continuation token.

    The hot loop of every bulk read. An object of the usual shape (``obj`` first, then
    only ``propSet``s of ``name`` + ``val``) is read in one pass, values whose ``xsi:type``
    is a primitive or an enum straight from their text (``codec.TEXT_DECODERS``); anything
    else (``missingSet``, odd shapes) is read again by :func:`_object`, the general path,
    so both give the same rows. This is 1.5x faster than the general path alone.
    """
    token = None
    decode = codec.decode
    text_decoders = codec.TEXT_DECODERS
    xsi_type = codec.XSI_TYPE
    for result in payload:
        for el in result:
            tag = el.tag
            if tag == _OBJECTS:
                children = iter(el)
                first = next(children, None)
                if first is not None and first.tag == _OBJ:
                    values: dict[str, Any] = {}
                    for ps in children:
                        if ps.tag != _PROPSET or len(ps) != 2:
                            break
                        name_el = ps[0]
                        val = ps[1]
                        if name_el.tag != _NAME or val.tag == _NAME:
                            break
                        name = name_el.text
                        if name is None:
                            continue
                        f = text_decoders[val.get(xsi_type)]
                        if f is not None:
                            try:
                                values[name] = f(val.text or "")
                                continue
                            except (ValueError, TypeError):
                                pass  # decode raises the ProtocolError
                        values[name] = decode(val, "anyType")
                    else:
                        rows.append((MoRef(first.get("type") or "", first.text or ""), values))
                        continue
                _object(el, rows, missing)
            elif tag == _TOKEN:
                token = el.text
    return token


def _page(
    session: Session, pc: MoRef, method: str, rows: list[Row], missing: list[Any], **params: Any
) -> str | None:
    """One page of a bulk read into ``rows``: the compiled scanner if built, else lxml."""
    if _scan is None:
        return _rows(session.call_raw(pc, method, **params), rows, missing)
    return _scanned(method, session.call_bytes(pc, method, **params), rows, missing)


def _scanned(method: str, body: bytes, rows: list[Row], missing: list[Any]) -> str | None:
    """:func:`_rows` of a response's bytes, read by the compiled scanner (``_scan.c``).

    The scanner decodes what is text alone (primitives, enums, references) and returns the
    rest (data objects, arrays, ``missingSet``) as byte ranges, parsed here in one document
    and decoded by the codec. An answer of another shape (a fault, comments, ...) is read
    by lxml through :func:`_rows`, which also reports malformed XML.
    """
    got = _scan.scan(body, codec.TEXT_DECODERS, MoRef)
    if got is None:
        return _rows(codec.response_payload(method, body), rows, missing)
    new, token, fragments, nsdecl = got
    if fragments:
        parts = [body[start:end] for _row, _name, start, end in fragments]
        doc = parse(b"".join([b"<fragments", nsdecl, b">", *parts, b"</fragments>"]))
        for (row, name, _start, _end), el in zip(fragments, doc, strict=True):
            obj, values = new[row]
            if name is None:
                m = codec.decode(el, "MissingProperty")
                missing.append((obj, m.path, m.fault.fault if m.fault else None))
            else:
                values[name] = codec.decode(el, "anyType")
    rows.extend(new)
    return token


def _object(el: etree._Element, rows: list[Row], missing: list[Any]) -> None:
    """The general path of :func:`_rows`: one ObjectContent, any shape."""
    decode = codec.decode
    obj = None
    values: dict[str, Any] = {}
    for c in el:
        ctag = c.tag
        if ctag == _PROPSET:
            name = val = None
            for pc in c:
                if pc.tag == _NAME:
                    name = pc.text
                else:
                    val = pc
            if name is not None:
                values[name] = decode(val, "anyType") if val is not None else None
        elif ctag == _OBJ:
            obj = MoRef(c.get("type") or "", c.text or "")
        elif ctag == _MISSING:
            m = decode(c, "MissingProperty")
            missing.append((obj, m.path, m.fault.fault if m.fault else None))
    if obj is not None:
        rows.append((obj, values))


def fetch(
    session: Session,
    mtype: str,
    paths: Sequence[str],
    *,
    root: MoRef | ManagedObject | None = None,
    recursive: bool = True,
    page_size: int | None = None,
    ignore_missing: bool = False,
) -> list[Row]:
    """Read ``paths`` of every ``mtype`` object under ``root`` (default: the root folder).

    One ContainerView, one ``RetrievePropertiesEx`` and its continuations; the view is
    destroyed afterwards. Returns ``[(moref, {path: value}), ...]``; a property that is not
    set on an object is absent from its dict.
    """
    if isinstance(paths, str):
        raise UsageError("paths must be a list of property paths, not a str")
    check_type(mtype)
    for p in paths:  # before anything is sent (the view is created first)
        check_path(mtype, p)
    content = session.content
    if content.viewManager is None:
        raise UsageError("this endpoint has no ViewManager, so bulk reads are not possible")
    root_ref = root.ref if isinstance(root, ManagedObject) else (root or content.rootFolder)
    from spherekit.schema.vim25.data import ManagedObjectNotFound, NotAuthenticated

    for attempt in (1, 2):
        view = session.call(
            content.viewManager, "CreateContainerView", container=root_ref, type=[mtype],
            recursive=recursive,
        )  # fmt: skip
        generation = session._login_generation  # the session the view belongs to
        try:
            spec = filter_spec(mtype, paths, [view], view=True)
            return retrieve(session, spec, page_size=page_size, ignore_missing=ignore_missing)
        except ManagedObjectNotFound as e:
            # the session expired between the calls: the view died with it; a read may
            # be repeated, so build a new view in the new session, once
            if attempt == 2 or e.obj != view or session._login_generation == generation:
                raise
        finally:
            if session._login_generation == generation:
                try:
                    session.call(view, "DestroyView", _relogin=False)
                except (NotAuthenticated, ManagedObjectNotFound):
                    pass  # the view died with its session; nothing is left to clean up
    raise AssertionError("unreachable")


def retrieve(
    session: Session,
    spec: PropertyFilterSpec,
    *,
    page_size: int | None = None,
    ignore_missing: bool = False,
) -> list[Row]:
    """RetrievePropertiesEx and all its continuation pages, as rows."""
    from spherekit.schema.vim25.data import RetrieveOptions

    pc = session.content.propertyCollector
    rows: list[Row] = []
    missing: list[Any] = []
    options = RetrieveOptions(maxObjects=page_size)
    token = _page(session, pc, "RetrievePropertiesEx", rows, missing, specSet=[spec],
                  options=options)  # fmt: skip
    while token:
        token = _page(session, pc, "ContinueRetrievePropertiesEx", rows, missing, token=token)
    if missing and not ignore_missing:
        raise MissingProperties(missing, rows)
    return rows


class Watch:
    """Changes to properties, pushed by the server through ``WaitForUpdatesEx``.

    The watch owns a PropertyCollector, so its filters never disturb anyone else's.
    After the session logs in again (collectors die with the old session) or the
    server answers ``InvalidCollectorVersion``, it recreates its collector and filters
    and delivers a fresh full update of everything it watches.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._specs: list[PropertyFilterSpec] = []
        self._collector: MoRef | None = None
        self._generation = -1
        self.version = ""

    def add(self, spec: PropertyFilterSpec) -> None:
        """Watch what ``spec`` selects (see :func:`filter_spec`)."""
        self._specs.append(spec)
        if self._collector is not None and self._generation == self._session._login_generation:
            self._session.call(self._collector, "CreateFilter", spec=spec, partialUpdates=False)

    def watch(self, obj: MoRef | ManagedObject, paths: Sequence[str]) -> None:
        ref = obj.ref if isinstance(obj, ManagedObject) else obj
        self.add(filter_spec(ref.type, paths, [ref]))

    def _rebuild(self) -> None:
        s = self._session
        self._generation = s._login_generation
        self._collector = s.call(s.content.propertyCollector, "CreatePropertyCollector")
        for spec in self._specs:
            s.call(self._collector, "CreateFilter", spec=spec, partialUpdates=False)
        self.version = ""

    def wait(self, max_wait: float) -> UpdateSet | None:
        """One ``WaitForUpdatesEx`` of at most ``max_wait`` seconds; None if nothing changed."""
        from spherekit.schema.vim25.data import (
            InvalidCollectorVersion,
            ManagedObjectNotFound,
            WaitOptions,
        )

        for _attempt in range(3):
            if self._collector is None or self._generation != self._session._login_generation:
                self._rebuild()
            assert self._collector is not None
            seconds = max(0, int(max_wait + 0.999))
            try:
                result: UpdateSet | None = self._session.call(
                    self._collector,
                    "WaitForUpdatesEx",
                    version=self.version,
                    options=WaitOptions(maxWaitSeconds=seconds),
                    _timeout=seconds + 30.0,
                )
            except InvalidCollectorVersion:
                self.version = ""
                continue
            except ManagedObjectNotFound as e:
                if e.obj is not None and e.obj != self._collector:
                    raise
                self._collector = None  # our collector died with an expired session
                continue
            if result is not None:
                self.version = result.version
            return result
        raise ProtocolError(
            "the server kept rejecting the property collector (InvalidCollectorVersion or "
            "ManagedObjectNotFound three times in a row); giving up"
        )

    def updates(self, timeout: float | None = None) -> Iterator[ObjectUpdate]:
        """Every object update until ``timeout`` seconds pass (forever if None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 60.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return
            result = self.wait(min(left, 60.0))
            if result is None:
                continue
            for fs in result.filterSet or ():
                yield from fs.objectSet or ()

    def close(self) -> None:
        if self._collector is not None and self._generation == self._session._login_generation:
            try:
                self._session.call(self._collector, "DestroyPropertyCollector", _relogin=False)
            except SpherekitError:
                pass
        self._collector = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def apply_changes(values: dict[str, Any], update: ObjectUpdate) -> None:
    """Fold an ObjectUpdate's changes into a {path: value} dict."""
    for change in update.changeSet or ():
        if change.op == "remove" or change.op == "indirectRemove":
            values.pop(change.name, None)
        elif change.op == "assign":
            values[change.name] = change.val
        elif change.op == "add":
            values.setdefault(change.name, []).append(change.val)


def wait_for(
    session: Session,
    obj: MoRef | ManagedObject,
    path: str,
    predicate: Any = bool,
    *,
    timeout: float,
) -> Any:
    """Wait until ``predicate(value of obj.path)`` holds; return that value.

    Push-based (``WaitForUpdatesEx``), bounded by ``timeout`` seconds; e.g.
    ``wait_for(s, vm, "guest.ipAddress", timeout=300)``.
    """
    ref = obj.ref if isinstance(obj, ManagedObject) else obj
    values: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    with Watch(session) as w:
        w.watch(ref, [path])
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout(
                    f"{ref}: {path} did not reach the expected value within {timeout:g} s "
                    f"(last value: {values.get(path)!r})"
                )
            result = w.wait(min(left, 60.0))
            if result is None:
                continue
            for fs in result.filterSet or ():
                for upd in fs.objectSet or ():
                    if upd.kind == "enter":
                        values.clear()
                    apply_changes(values, upd)
            value = values.get(path)
            if predicate(value):
                return value
