"""AuthorizationManager: privileges, roles, permissions on entities, and who may do what.

The model is vCenter's:

- *Privileges* are fixed ids (``VirtualMachine.Interact.PowerOn``). The list is every
  privilege the vim25 model names for a method, the privileges of vCenter's
  "dynamic" methods (see :mod:`spherekit.sim.accounts`) and the three ``System.*`` ones.
- *Roles* aggregate privileges. The system roles are vCenter's: ``Admin`` (-1, every
  privilege), ``ReadOnly`` (-2: ``System.Anonymous``, ``System.View``, ``System.Read``),
  ``View`` (-3) and ``Anonymous`` (-4) (both "cannot be granted"), ``NoAccess`` (-5, none)
  and ``NoCryptoAdmin`` (-6, Admin without ``Cryptographer.*``). A role added by a client
  always holds the three ``System.*`` privileges; its id counts up from 1.
- *Permissions* (principal, role, propagate) sit on managed entities (the entity's
  ``permission`` property). A user's role on an entity is the one of the nearest
  permission for that user: on the entity itself, else on the closest ancestor whose
  permission propagates. The root folder gives the admin user ``Admin``.

The state lives in the registry (``AuthorizationManager.roleList`` / ``privilegeList``, each
entity's ``permission``) so property collectors see it change; :class:`Access` keeps an
index of it for the per-call checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.access import (
    ADMIN,
    UNGRANTABLE,
    Access,
    access,
    is_entity,
    parent_of,
    viewer,
)
from spherekit.sim.methods import computed, handler

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__: list[str] = []


def _entity(ctx: Context, ref: MoRef) -> MoRef:
    if not ctx.visible(ref):
        raise faults.not_found(ref)
    if not is_entity(ref.type):
        raise faults.invalid_argument("entity", f"a {ref.type} is not a managed entity")
    return ref


def _role(a: Access, role_id: int) -> d.AuthorizationRole:
    role = a.roles.get(role_id)
    if role is None:
        raise faults.with_msg(d.NotFound(), f"The role {role_id} does not exist.")
    return role


def _name(a: Access, name: str, role_id: int | None = None) -> None:
    if not name.strip():
        raise faults.with_msg(d.InvalidName(name=name), f"The name '{name}' is invalid.")
    other = a.role_named(name)
    if other is not None and other.roleId != role_id:
        raise faults.with_msg(d.AlreadyExists(name=name), f"The role '{name}' already exists.")


# -- roles ---------------------------------------------------------------------------------


@handler("AuthorizationManager", "AddAuthorizationRole")
def add_authorization_role(
    ctx: Context, this: MoRef, *, name: str, privIds: list[str] | None = None
) -> int:
    a = access(ctx)
    _name(a, name)
    return a.add_role(name, a.check_privileges(privIds))


@handler("AuthorizationManager", "UpdateAuthorizationRole")
def update_authorization_role(
    ctx: Context, this: MoRef, *, roleId: int, newName: str, privIds: list[str] | None = None
) -> None:
    a = access(ctx)
    role = _role(a, roleId)
    if role.system:
        raise faults.no_permission(this, "Authorization.ModifyRoles", "a system role cannot change")
    _name(a, newName, roleId)
    a.update_role(roleId, newName, a.check_privileges(privIds) if privIds is not None else None)


@handler("AuthorizationManager", "RemoveAuthorizationRole")
def remove_authorization_role(ctx: Context, this: MoRef, *, roleId: int, failIfUsed: bool) -> None:
    a = access(ctx)
    role = _role(a, roleId)
    if role.system:
        raise faults.invalid_argument("roleId", "a system role cannot be removed")
    if failIfUsed and any(p.roleId == roleId for p in a.all_permissions()):
        raise faults.with_msg(d.RemoveFailed(), f"The role '{role.name}' is in use.")
    a.remove_role(roleId)


# -- permissions ---------------------------------------------------------------------------


def _check_permission(ctx: Context, a: Access, perm: d.Permission) -> None:
    role = _role(a, perm.roleId)
    if role.roleId in UNGRANTABLE:
        raise faults.invalid_argument(
            "permission.roleId", f"the {role.name} role cannot be granted"
        )
    if perm.group or perm.principal not in ctx.backend.accounts:
        raise faults.with_msg(
            d.UserNotFound(principal=perm.principal, unresolved=False),
            f"The user or group named '{perm.principal}' does not exist.",
        )


def _store(ctx: Context, entity: MoRef, perms: list[d.Permission]) -> None:
    """Replace the permissions on ``entity``; AuthMinimumAdminPermission if that would
    leave no user with Admin on the root folder."""
    a = access(ctx)
    if entity == a.root and not any(p.roleId == ADMIN and not p.group for p in perms):
        raise faults.with_msg(
            d.AuthMinimumAdminPermission(),
            "The change would leave no user with full administrative privileges.",
        )
    a.replace(entity, perms)


def _key(p: d.Permission) -> tuple[str, bool]:
    return p.principal, p.group


@handler("AuthorizationManager", "SetEntityPermissions")
def set_entity_permissions(
    ctx: Context, this: MoRef, *, entity: MoRef, permission: list[d.Permission] | None = None
) -> None:
    a = access(ctx)
    _entity(ctx, entity)
    given = permission or []
    for perm in given:
        _check_permission(ctx, a, perm)
    keys = {_key(p) for p in given}
    _store(ctx, entity, [p for p in a.on_entity(entity) if _key(p) not in keys] + given)


@handler("AuthorizationManager", "ResetEntityPermissions")
def reset_entity_permissions(
    ctx: Context, this: MoRef, *, entity: MoRef, permission: list[d.Permission] | None = None
) -> None:
    a = access(ctx)
    _entity(ctx, entity)
    for perm in permission or ():
        _check_permission(ctx, a, perm)
    _store(ctx, entity, list(permission or ()))


@handler("AuthorizationManager", "RemoveEntityPermission")
def remove_entity_permission(
    ctx: Context, this: MoRef, *, entity: MoRef, user: str, isGroup: bool
) -> None:
    a = access(ctx)
    _entity(ctx, entity)
    current = a.on_entity(entity)
    rest = [p for p in current if _key(p) != (user, isGroup)]
    if len(rest) == len(current):
        raise faults.with_msg(d.NotFound(), f"No permission for '{user}' is defined on the entity.")
    _store(ctx, entity, rest)


@handler("AuthorizationManager", "RetrieveEntityPermissions")
def retrieve_entity_permissions(
    ctx: Context, this: MoRef, *, entity: MoRef, inherited: bool
) -> list[d.Permission] | None:
    a = access(ctx)
    _entity(ctx, entity)
    out = a.on_entity(entity)
    if inherited:
        cur = parent_of(ctx.registry, entity)
        while cur is not None:
            out.extend(p for p in a.on_entity(cur) if p.propagate)
            cur = parent_of(ctx.registry, cur)
    return out or None


@handler("AuthorizationManager", "RetrieveAllPermissions")
def retrieve_all_permissions(ctx: Context, this: MoRef) -> list[d.Permission] | None:
    return access(ctx).all_permissions() or None


@handler("AuthorizationManager", "RetrieveRolePermissions")
def retrieve_role_permissions(
    ctx: Context, this: MoRef, *, roleId: int
) -> list[d.Permission] | None:
    a = access(ctx)
    _role(a, roleId)
    return [p for p in a.all_permissions() if p.roleId == roleId] or None


# -- questions -----------------------------------------------------------------------------


def _session_user(ctx: Context, key: str) -> str | None:
    s = ctx.backend.sessions.by_key(key)
    return s.user if s is not None else None


@handler("AuthorizationManager", "HasPrivilegeOnEntity")
def has_privilege_on_entity(
    ctx: Context, this: MoRef, *, entity: MoRef, sessionId: str, privId: list[str] | None = None
) -> list[bool] | None:
    a = access(ctx)
    user = _session_user(ctx, sessionId)
    return [user is not None and a.has(user, entity, p) for p in privId or ()] or None


@handler("AuthorizationManager", "HasPrivilegeOnEntities")
def has_privilege_on_entities(
    ctx: Context,
    this: MoRef,
    *,
    entity: list[MoRef],
    sessionId: str,
    privId: list[str] | None = None,
) -> list[d.EntityPrivilege] | None:
    a = access(ctx)
    user = _session_user(ctx, sessionId)
    return _entity_privileges(a, user, entity, privId)


@handler("AuthorizationManager", "HasUserPrivilegeOnEntities")
def has_user_privilege_on_entities(
    ctx: Context,
    this: MoRef,
    *,
    entities: list[MoRef],
    userName: str,
    privId: list[str] | None = None,
) -> list[d.EntityPrivilege] | None:
    return _entity_privileges(access(ctx), userName, entities, privId)


def _entity_privileges(
    a: Access, user: str | None, entities: list[MoRef], privs: list[str] | None
) -> list[d.EntityPrivilege] | None:
    out = []
    for e in entities:
        avail = [
            d.PrivilegeAvailability(privId=p, isGranted=user is not None and a.has(user, e, p))
            for p in privs or ()
        ]
        out.append(d.EntityPrivilege(entity=e, privAvailability=avail))
    return out or None


@handler("AuthorizationManager", "FetchUserPrivilegeOnEntities")
def fetch_user_privilege_on_entities(
    ctx: Context, this: MoRef, *, entities: list[MoRef], userName: str
) -> list[d.UserPrivilegeResult] | None:
    a = access(ctx)
    out = [
        d.UserPrivilegeResult(entity=e, privileges=a.privileges_of(userName, e) or None)
        for e in entities
    ]
    return out or None


@computed("ManagedEntity", "effectiveRole")
def _effective_role(ctx: Context, ref: MoRef) -> list[int] | None:
    if ctx.session is None:
        return None
    role = access(ctx).role_of(ctx.session.user, ref)
    return [role] if role is not None else None


@computed("ManagedObjectView", "view")
def _view(ctx: Context, ref: MoRef) -> list[MoRef] | None:
    """A view lists only the entities the caller may see, as on vCenter."""
    stored = ctx.registry.props(ref).get("view")
    sees = viewer(ctx)
    if sees is None or not stored:
        return stored
    return [r for r in stored if sees(r)] or None
