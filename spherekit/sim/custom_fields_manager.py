"""CustomFieldsManager: custom attributes ("Annotations" in the vSphere Client).

Definitions are the manager's ``field`` property; a definition with a
``managedObjectType`` applies to entities of that type (and its subtypes), one without it
to every entity. Each entity's ``availableField`` lists the definitions that apply to it
(read through the current definitions, so it is always in step), and ``SetField`` or
``setCustomValue`` store a ``CustomFieldStringValue`` in both its ``customValue`` and its
``value`` (vCenter keeps the two alike). Removing a definition removes its values from
every entity; renaming one changes every entity's ``availableField`` at once.

Faults as vCenter raises them: a duplicate name (for the same type) is ``DuplicateName``;
an unknown key is ``InvalidArgument`` (``key``); a value for an entity the definition does
not apply to is ``InvalidArgument`` (``entity``).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.methods import computed, handler

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import CustomFieldDef, PrivilegePolicyDef
    from spherekit.sim.backend import Backend, Context

__all__ = ["MANAGER", "applies"]

MANAGER = MoRef("CustomFieldsManager", "CustomFieldsManager")

#: the last key handed out, per backend (keys are never reused, as in vCenter)
_KEYS: weakref.WeakKeyDictionary[Backend, list[int]] = weakref.WeakKeyDictionary()


def _fields(ctx: Context) -> list[CustomFieldDef]:
    return list(ctx.registry.prop(MANAGER, "field") or [])


def applies(field: CustomFieldDef, mtype: str) -> bool:
    """Whether ``field`` applies to objects of type ``mtype``."""
    mo = field.managedObjectType
    return mo is None or schema.is_subtype(mtype, mo)


def _by_key(ctx: Context, key: int) -> CustomFieldDef:
    for f in _fields(ctx):
        if f.key == key:
            return f
    raise faults.invalid_argument("key", f"no custom field has key {key}")


def _policy(create: str, update: str) -> PrivilegePolicyDef:
    from spherekit.schema.vim25.data import PrivilegePolicyDef

    return PrivilegePolicyDef(
        createPrivilege=create,
        readPrivilege="System.Read",
        updatePrivilege=update,
        deletePrivilege=update,
    )


@handler("CustomFieldsManager", "AddCustomFieldDef")
def add(
    ctx: Context,
    this: MoRef,
    *,
    name: str,
    moType: str | None = None,
    fieldDefPolicy: PrivilegePolicyDef | None = None,
    fieldPolicy: PrivilegePolicyDef | None = None,
) -> CustomFieldDef:
    from spherekit.schema.vim25.data import CustomFieldDef

    ctx.require_session()
    if not name:
        raise faults.invalid_argument("name", "a custom field needs a name")
    if moType is not None and not schema.is_managed(moType):
        raise faults.invalid_argument("moType", f"{moType!r} is not a managed object type")
    fields = _fields(ctx)
    if any(f.name == name and f.managedObjectType == moType for f in fields):
        raise faults.duplicate_name(name, this)
    counter = _KEYS.setdefault(ctx.backend, [max((f.key for f in fields), default=100)])
    counter[0] = max(counter[0], max((f.key for f in fields), default=0)) + 1
    field = CustomFieldDef(
        key=counter[0],
        name=name,
        type="string",
        managedObjectType=moType,
        fieldDefPrivileges=fieldDefPolicy
        or _policy("Global.ManageCustomFields", "Global.ManageCustomFields"),
        fieldInstancePrivileges=fieldPolicy
        or _policy("Global.SetCustomField", "Global.SetCustomField"),
    )
    ctx.registry.update(MANAGER, {"field": [*fields, field]})
    return field


def _holders(ctx: Context, key: int) -> list[MoRef]:
    reg = ctx.registry
    out = []
    for ref in reg.of_type("ManagedEntity"):
        values = reg.props(ref).get("value") or reg.props(ref).get("customValue") or []
        if any(v.key == key for v in values):
            out.append(ref)
    return out


@handler("CustomFieldsManager", "RemoveCustomFieldDef")
def remove(ctx: Context, this: MoRef, *, key: int) -> None:
    ctx.require_session()
    field = _by_key(ctx, key)
    reg = ctx.registry
    for ref in _holders(ctx, key):
        props = reg.props(ref)
        changes: dict[str, Any] = {}
        for prop in ("value", "customValue"):
            if prop in props:
                changes[prop] = [v for v in props[prop] if v.key != key] or None
        reg.update(ref, changes)
    reg.update(MANAGER, {"field": [f for f in _fields(ctx) if f is not field] or None})


@handler("CustomFieldsManager", "RenameCustomFieldDef")
def rename(ctx: Context, this: MoRef, *, key: int, name: str) -> None:
    from spherekit.sim.values import clone

    ctx.require_session()
    field = _by_key(ctx, key)
    fields = _fields(ctx)
    if any(
        f.name == name and f.managedObjectType == field.managedObjectType and f.key != key
        for f in fields
    ):
        raise faults.duplicate_name(name, this)
    renamed = clone(field, name=name)
    ctx.registry.update(MANAGER, {"field": [renamed if f is field else f for f in fields]})


def set_value(ctx: Context, entity: MoRef, field: CustomFieldDef, value: str) -> None:
    """Store ``value`` for ``field`` on ``entity`` (``customValue`` and ``value``)."""
    from spherekit.schema.vim25.data import CustomFieldStringValue

    if not applies(field, entity.type):
        raise faults.invalid_argument(
            "entity", f"custom field {field.name!r} applies to {field.managedObjectType}"
        )
    reg = ctx.registry
    props = reg.props(entity)
    new = CustomFieldStringValue(key=field.key, value=value)
    changes: dict[str, Any] = {}
    names = ["value"]
    if schema.is_subtype(entity.type, "ManagedEntity"):
        names.append("customValue")
    for prop in names:
        current = list(props.get(prop) or [])
        keys = [v.key for v in current]
        if field.key in keys:
            current[keys.index(field.key)] = new
        else:
            current.append(new)
        changes[prop] = current
    reg.update(entity, changes)


@handler("CustomFieldsManager", "SetField")
def set_field(ctx: Context, this: MoRef, *, entity: MoRef, key: int, value: str) -> None:
    ctx.require_session()
    if not ctx.visible(entity):
        raise faults.not_found(entity)
    set_value(ctx, entity, _by_key(ctx, key), value)


@handler("ExtensibleManagedObject", "setCustomValue")
def set_custom_value(ctx: Context, this: MoRef, *, key: str, value: str) -> None:
    ctx.require_session()
    matching = [f for f in _fields(ctx) if f.name == key and applies(f, this.type)]
    if not matching:
        raise faults.invalid_argument("key", f"no custom field named {key!r} applies here")
    # a definition for the entity's own type wins over a global one
    matching.sort(key=lambda f: f.managedObjectType is None)
    set_value(ctx, this, matching[0], value)


@computed("ExtensibleManagedObject", "availableField")
def _available(ctx: Context, ref: MoRef) -> list[CustomFieldDef] | None:
    if MANAGER not in ctx.registry:
        return None
    return [f for f in _fields(ctx) if applies(f, ref.type)] or None
