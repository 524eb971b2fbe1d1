"""CustomizationSpecManager: the named guest customization specifications of vCenter.

The specs live in a :class:`SpecStore` on the backend; the manager's ``info`` property
(one ``CustomizationSpecInfo`` per spec, in creation order) follows every change through
the registry. As vCenter does, the server owns ``changeVersion`` and ``lastUpdateTime``:
each create or overwrite sets a new ``changeVersion`` (a counter), and
``OverwriteCustomizationSpec`` with a ``changeVersion`` other than the current one fails
with ``ConcurrentAccess`` (omit it to overwrite unconditionally).

``CustomizationSpecItemToXml`` writes an item as an XML document (``<ConfigRoot>`` with
the item in vim25's SOAP encoding) that ``XmlToCustomizationSpecItem`` reads back; it is
not vCenter's own export format, but it round-trips, which is what clients rely on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

from spherekit.errors import ProtocolError, SpherekitError
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.methods import handler
from spherekit.sim.values import clone
from spherekit.wire import codec

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        CustomizationFault,
        CustomizationSpecItem,
        NotFound,
    )
    from spherekit.sim.backend import Context

__all__ = ["SpecStore"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class SpecStore:
    """The specs of one backend by name, in creation order."""

    def __init__(self) -> None:
        self.items: dict[str, CustomizationSpecItem] = {}
        self._version = 0

    def stamp(self, item: CustomizationSpecItem, name: str | None = None) -> CustomizationSpecItem:
        """``item`` with a new changeVersion and lastUpdateTime (and ``name``, if given)."""
        self._version += 1
        changes: dict[str, object] = {
            "changeVersion": str(self._version),
            "lastUpdateTime": datetime.now(UTC),
        }
        if name is not None:
            changes["name"] = name
        return clone(item, info=clone(item.info, **changes))


def _store(ctx: Context) -> SpecStore:
    store: SpecStore = ctx.backend.customization_specs
    return store


def _publish(ctx: Context, this: MoRef) -> None:
    infos = [item.info for item in _store(ctx).items.values()]
    ctx.registry.update(this, {"info": infos or None})


def _not_found(name: str) -> NotFound:
    from spherekit.schema.vim25.data import NotFound

    return faults.with_msg(NotFound(), f"The customization specification '{name}' was not found.")


def _get(ctx: Context, name: str) -> CustomizationSpecItem:
    item = _store(ctx).items.get(name)
    if item is None:
        raise _not_found(name)
    return item


def _check_new(ctx: Context, name: str) -> None:
    if not name:
        raise faults.invalid_argument("name", "a specification needs a name")
    if name in _store(ctx).items:
        raise faults.already_exists(name)


@handler("CustomizationSpecManager", "DoesCustomizationSpecExist")
def exists(ctx: Context, this: MoRef, *, name: str) -> bool:
    ctx.require_session()
    return name in _store(ctx).items


@handler("CustomizationSpecManager", "GetCustomizationSpec")
def get(ctx: Context, this: MoRef, *, name: str) -> CustomizationSpecItem:
    ctx.require_session()
    return _get(ctx, name)


@handler("CustomizationSpecManager", "CreateCustomizationSpec")
def create(ctx: Context, this: MoRef, *, item: CustomizationSpecItem) -> None:
    ctx.require_session()
    _check_new(ctx, item.info.name)
    store = _store(ctx)
    store.items[item.info.name] = store.stamp(item)
    _publish(ctx, this)


@handler("CustomizationSpecManager", "OverwriteCustomizationSpec")
def overwrite(ctx: Context, this: MoRef, *, item: CustomizationSpecItem) -> None:
    ctx.require_session()
    name = item.info.name
    current = _get(ctx, name)
    version = item.info.changeVersion
    if version is not None and version != current.info.changeVersion:
        raise faults.concurrent_access(
            f"specification '{name}' is at changeVersion {current.info.changeVersion}, "
            f"not {version}: read it again with GetCustomizationSpec"
        )
    store = _store(ctx)
    store.items[name] = store.stamp(item)
    _publish(ctx, this)


@handler("CustomizationSpecManager", "DeleteCustomizationSpec")
def delete(ctx: Context, this: MoRef, *, name: str) -> None:
    ctx.require_session()
    _get(ctx, name)
    del _store(ctx).items[name]
    _publish(ctx, this)


@handler("CustomizationSpecManager", "DuplicateCustomizationSpec")
def duplicate(ctx: Context, this: MoRef, *, name: str, newName: str) -> None:
    ctx.require_session()
    item = _get(ctx, name)
    _check_new(ctx, newName)
    store = _store(ctx)
    store.items[newName] = store.stamp(item, newName)
    _publish(ctx, this)


@handler("CustomizationSpecManager", "RenameCustomizationSpec")
def rename(ctx: Context, this: MoRef, *, name: str, newName: str) -> None:
    ctx.require_session()
    _get(ctx, name)
    _check_new(ctx, newName)
    store = _store(ctx)
    store.items = {
        (newName if k == name else k): (store.stamp(v, newName) if k == name else v)
        for k, v in store.items.items()
    }
    _publish(ctx, this)


@handler("CustomizationSpecManager", "CustomizationSpecItemToXml")
def to_xml(ctx: Context, this: MoRef, *, item: CustomizationSpecItem) -> str:
    ctx.require_session()
    enc = codec.Encoder()
    enc.out.append(
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<ConfigRoot xmlns:xsi="{codec.NS_XSI}" xmlns:xsd="{codec.NS_XSD}">'
    )
    enc.data("item", "CustomizationSpecItem", item, "item", xsi=True)
    enc.out.append("</ConfigRoot>")
    return enc.text()


def _bad_xml(why: str) -> CustomizationFault:
    from spherekit.schema.vim25.data import CustomizationFault

    return faults.with_msg(
        CustomizationFault(), f"The customization specification XML is not valid: {why}"
    )


@handler("CustomizationSpecManager", "XmlToCustomizationSpecItem")
def from_xml(ctx: Context, this: MoRef, *, specItemXml: str) -> CustomizationSpecItem:
    from spherekit.schema.vim25.data import CustomizationSpecItem

    ctx.require_session()
    try:
        root = etree.fromstring(specItemXml.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _bad_xml(str(exc)) from None
    if root.tag != "ConfigRoot" or len(root) != 1:
        raise _bad_xml("expected <ConfigRoot> holding one <item>")
    try:
        item = codec.decode(root[0], "CustomizationSpecItem")
    except (ProtocolError, SpherekitError, ValueError) as exc:
        raise _bad_xml(str(exc)) from None
    if not isinstance(item, CustomizationSpecItem):
        raise _bad_xml("the item is not a CustomizationSpecItem")
    return item
