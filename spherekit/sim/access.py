"""The permission model: roles, permissions on entities, and what a user may do where.

A user's role on an entity is the one of the nearest permission for that user: on the
entity itself, else on the closest ancestor (``parent``, or ``parentVApp``) whose
permission propagates. Group permissions are kept and listed but never apply (the
simulator's users belong to no groups). The state lives in the registry
(``AuthorizationManager.roleList`` / ``privilegeList`` / ``description``, each entity's
``permission``) so property collectors see it change; :class:`Access` indexes it for the
per-call checks. :mod:`spherekit.sim.authorization` serves it as AuthorizationManager.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.model import PRIVILEGES
from spherekit.sim import faults
from spherekit.sim.registry import LEAVE

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = [
    "ADMIN",
    "NO_ACCESS",
    "READ_ONLY",
    "SYSTEM_PRIVILEGES",
    "UNGRANTABLE",
    "Access",
    "access",
    "all_privileges",
    "is_entity",
    "parent_of",
    "viewer",
]

ADMIN, READ_ONLY, VIEW, ANONYMOUS, NO_ACCESS, NO_CRYPTO_ADMIN = -1, -2, -3, -4, -5, -6
SYSTEM_PRIVILEGES = ("System.Anonymous", "System.View", "System.Read")

#: roleId -> (name, label, summary) of vCenter's system roles, in vCenter's order
_SYSTEM_ROLES: dict[int, tuple[str, str, str]] = {
    NO_CRYPTO_ADMIN: (
        "NoCryptoAdmin",
        "No cryptography administrator",
        "Full access without Cryptographic operations privileges",
    ),
    NO_ACCESS: ("NoAccess", "No access", "Used for restricting granted access"),
    ANONYMOUS: ("Anonymous", "Anonymous", "Not logged-in user (cannot be granted)"),
    VIEW: ("View", "View", "Visibility access (cannot be granted)"),
    READ_ONLY: ("ReadOnly", "Read-only", "See details of objects, but not make changes"),
    ADMIN: ("Admin", "Administrator", "Full access rights"),
}
UNGRANTABLE = frozenset({VIEW, ANONYMOUS})


def all_privileges(extra: Iterable[str] = ()) -> list[str]:
    """Every privilege id, sorted: the model's, ``extra`` and the ``System.*`` ones."""
    return sorted(set(PRIVILEGES.values()) | set(extra) | set(SYSTEM_PRIVILEGES))


def _system_privileges(role_id: int, every: list[str]) -> list[str]:
    if role_id == ADMIN:
        return list(every)
    if role_id == NO_CRYPTO_ADMIN:
        return [p for p in every if not p.startswith("Cryptographer.")]
    return {
        READ_ONLY: ["System.Anonymous", "System.Read", "System.View"],
        VIEW: ["System.Anonymous", "System.View"],
        ANONYMOUS: ["System.Anonymous"],
    }.get(role_id, [])


def parent_of(reg: Any, ref: MoRef) -> MoRef | None:
    obj = reg.get(ref)
    if obj is None:
        return None
    parent = obj.props.get("parent") or obj.props.get("parentVApp")
    return parent if isinstance(parent, MoRef) else None


class Access:
    """Roles and permissions of one endpoint, indexed for the per-call checks."""

    def __init__(self, backend: Backend, root: MoRef, manager: MoRef, extra: Iterable[str]) -> None:
        self.backend = backend
        self.root = root
        self.manager = manager
        self.privileges = all_privileges(extra)
        self._known = frozenset(self.privileges)
        self.roles: dict[int, d.AuthorizationRole] = {}
        self._granted: dict[int, frozenset[str]] = {}
        #: principal (users only; groups never apply) -> entity -> its permission
        self.by_user: dict[str, dict[MoRef, d.Permission]] = {}
        #: entities holding a group permission
        self.group_holders: set[MoRef] = set()
        self.next_role = 1
        for role_id, (name, label, summary) in _SYSTEM_ROLES.items():
            info = d.Description(label=label, summary=summary)
            privs = _system_privileges(role_id, self.privileges)
            role = d.AuthorizationRole(
                roleId=role_id, system=True, name=name, info=info, privilege=privs or None
            )
            self._set_role(role)
        reg = backend.registry
        describe = [
            d.ElementDescription(key=p, label=p.rpartition(".")[2], summary=p)
            for p in self.privileges
        ]
        groups = sorted({p.rpartition(".")[0] for p in self.privileges})
        reg.update(
            manager,
            {
                "privilegeList": [
                    d.AuthorizationPrivilege(
                        privId=p,
                        onParent=False,
                        name=p.rpartition(".")[2],
                        privGroupName=p.rpartition(".")[0],
                    )
                    for p in self.privileges
                ],
                "roleList": list(self.roles.values()),
                "description": d.AuthorizationDescription(
                    privilege=describe,
                    privilegeGroup=[
                        d.ElementDescription(key=g, label=g, summary=g) for g in groups
                    ],
                ),
            },
        )
        reg.listeners.append(self._on_change)

    # -- roles ----------------------------------------------------------------------------

    def _set_role(self, role: d.AuthorizationRole) -> None:
        self.roles[role.roleId] = role
        self._granted[role.roleId] = frozenset(role.privilege or ())

    def _publish_roles(self) -> None:
        self.backend.registry.update(self.manager, {"roleList": list(self.roles.values())})

    def role_named(self, name: str) -> d.AuthorizationRole | None:
        return next((r for r in self.roles.values() if r.name == name), None)

    def check_privileges(self, ids: list[str] | None) -> list[str]:
        unknown = [p for p in ids or () if p not in self._known]
        if unknown:
            raise faults.invalid_argument("privIds", f"unknown privilege {unknown[0]!r}")
        return sorted(set(ids or ()) | set(SYSTEM_PRIVILEGES))

    def add_role(self, name: str, privs: list[str]) -> int:
        role_id = self.next_role
        self.next_role += 1
        info = d.Description(label=name, summary=name)
        self._set_role(
            d.AuthorizationRole(roleId=role_id, system=False, name=name, info=info, privilege=privs)
        )
        self._publish_roles()
        return role_id

    def update_role(self, role_id: int, name: str, privs: list[str] | None) -> None:
        old = self.roles[role_id]
        self._set_role(
            d.AuthorizationRole(
                roleId=role_id,
                system=old.system,
                name=name,
                info=d.Description(label=name, summary=name),
                privilege=privs if privs is not None else old.privilege,
            )
        )
        self._publish_roles()

    def remove_role(self, role_id: int) -> None:
        del self.roles[role_id]
        self._granted.pop(role_id, None)
        for entity in {p.entity for p in self.all_permissions() if p.roleId == role_id}:
            assert entity is not None
            self.replace(entity, [p for p in self.on_entity(entity) if p.roleId != role_id])
        self._publish_roles()

    # -- permissions ------------------------------------------------------------------------

    def on_entity(self, entity: MoRef) -> list[d.Permission]:
        obj = self.backend.registry.get(entity)
        return list(obj.props.get("permission") or ()) if obj is not None else []

    def all_permissions(self) -> list[d.Permission]:
        reg = self.backend.registry
        holders = [e for perms in self.by_user.values() for e in perms]
        out: list[d.Permission] = []
        for entity in dict.fromkeys([*holders, *self.group_holders]):
            if entity in reg:
                out.extend(self.on_entity(entity))
        return out

    def replace(self, entity: MoRef, perms: list[d.Permission]) -> None:
        """Make ``perms`` the permissions defined on ``entity`` (one per principal)."""
        for old in self.on_entity(entity):
            if not old.group:
                self.by_user.get(old.principal, {}).pop(entity, None)
        unique: dict[tuple[str, bool], d.Permission] = {}
        for p in perms:
            unique[(p.principal, p.group)] = d.Permission(
                entity=entity,
                principal=p.principal,
                group=p.group,
                roleId=p.roleId,
                propagate=p.propagate,
            )
        self.backend.registry.update(entity, {"permission": list(unique.values()) or None})
        for p in unique.values():
            if p.group:
                self.group_holders.add(entity)
            else:
                self.by_user.setdefault(p.principal, {})[entity] = p

    def reindex(self) -> None:
        """Rebuild the index from the registry (after a saved state was loaded)."""
        reg = self.backend.registry
        self.roles.clear()
        self._granted.clear()
        for role in reg.prop(self.manager, "roleList") or ():
            self._set_role(role)
        self.next_role = max([0, *self.roles]) + 1
        self.by_user.clear()
        self.group_holders.clear()
        for ref in reg.of_type("ManagedEntity"):
            for p in reg.prop(ref, "permission") or ():
                if p.group:
                    self.group_holders.add(ref)
                else:
                    self.by_user.setdefault(p.principal, {})[ref] = p

    def _on_change(self, kind: str, ref: MoRef, names: frozenset[str]) -> None:
        if kind == LEAVE:
            for perms in self.by_user.values():
                perms.pop(ref, None)

    # -- decisions --------------------------------------------------------------------------

    def role_of(self, user: str, ref: MoRef) -> int | None:
        """The user's role on ``ref`` (None: no permission applies)."""
        mine = self.by_user.get(user)
        if not mine:
            return None
        reg = self.backend.registry
        cur: MoRef | None = ref
        first = True
        while cur is not None:
            perm = mine.get(cur)
            if perm is not None and (first or perm.propagate):
                return perm.roleId
            first = False
            cur = parent_of(reg, cur)
        return None

    def granted(self, role_id: int | None, privilege: str) -> bool:
        if role_id is None:
            return False
        if role_id == ADMIN:
            return True
        return privilege in self._granted.get(role_id, frozenset())

    def has(self, user: str, ref: MoRef, privilege: str) -> bool:
        return self.granted(self.role_of(user, ref), privilege)

    def privileges_of(self, user: str, ref: MoRef) -> list[str]:
        role_id = self.role_of(user, ref)
        if role_id is None:
            return []
        if role_id == ADMIN:
            return list(self.privileges)
        return sorted(self._granted.get(role_id, ()))

    def viewer(self, user: str) -> Callable[[MoRef], bool] | None:
        """A test of which entities ``user`` may see; None when it sees every entity (the
        usual case: one propagating permission on the root folder that allows viewing)."""
        mine = self.by_user.get(user) or {}
        root = mine.get(self.root)
        whole = len(mine) == 1 and root is not None and root.propagate
        if whole and root is not None and self.granted(root.roleId, "System.View"):
            return None

        def visible(ref: MoRef) -> bool:
            if not is_entity(ref.type):
                return True
            return self.has(user, ref, "System.View")

        return visible


def access(ctx: Context) -> Access:
    found: Access = ctx.backend.access
    return found


def is_entity(mtype: str) -> bool:
    return mtype == "ManagedEntity" or schema.is_subtype(mtype, "ManagedEntity")


def viewer(ctx: Context) -> Callable[[MoRef], bool] | None:
    """Which entities the caller may see (None: all of them, the usual case)."""
    if ctx.session is None:
        return None
    found: Access | None = getattr(ctx.backend, "access", None)
    return found.viewer(ctx.session.user) if found is not None else None
