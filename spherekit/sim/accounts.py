"""Accounts and the per-call permission check.

Who may log in: the admin user (``Settings.user`` / ``Settings.password``, role ``Admin``)
and the configured users (``Settings.users``: name -> (password, role name)). Each gets a
propagating permission with its role on the root folder, as a vCenter administrator
would grant it.

Which privilege a call needs, on which entity (checked by :func:`check` before the
handler runs; a miss is ``NoPermission`` with ``object`` and ``privilegeId``):

1. Free for any logged-in session: the methods needed to log in and navigate
   (:data:`FREE_METHODS`), every method of the property collector, its filters, the view
   manager, views and NFC leases (the caller's own session objects), methods whose
   declared privilege is ``System.Anonymous``, and ``Fetch`` of a non-entity's property.
2. The privilege: the one the vim25 model declares for the method
   (``model.PRIVILEGES``); for vCenter's "dynamic" methods the one the API reference
   names for the target (``Destroy_Task`` on a VM: ``VirtualMachine.Inventory.Delete``,
   ``Rename_Task`` on a folder: ``Folder.Rename``, ``CloneVM_Task`` of a template:
   ``VirtualMachine.Provisioning.DeployTemplate``, ...); otherwise a method that changes
   state needs its target type's configuration privilege (:data:`_WRITE`,
   ``Global.Settings`` for a manager) and one that does not needs ``System.Read``;
   ``Fetch`` of an entity's property needs ``System.Read``.
3. The entity: ``_this`` if it is a managed entity; else the managed entity passed as
   ``entity`` or ``vm`` (SetEntityPermissions, guest operations); else a snapshot's VM;
   else the root folder (managers, as vCenter checks them).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.model import METHODS, PRIVILEGES
from spherekit.sim import faults
from spherekit.sim.access import UNGRANTABLE, Access, access, is_entity

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context, Settings

__all__ = ["FREE_METHODS", "Account", "accounts_of", "authenticate", "check", "install"]


@dataclass(frozen=True)
class Account:
    """A user who may log in, and the role granted to it on the root folder."""

    name: str
    password: str
    role: str


def accounts_of(settings: Settings) -> dict[str, Account]:
    """The admin user first, then the configured users."""
    out = {settings.user: Account(settings.user, settings.password, "Admin")}
    for name, (password, role) in settings.users.items():
        if name == settings.user:
            raise ValueError(f"user {name!r} is the admin user; choose another name")
        out[name] = Account(name, password, role)
    return out


def authenticate(accounts: Mapping[str, Account], user: str, password: str) -> bool:
    """True if ``user`` / ``password`` match an account (compared in constant time)."""
    account = accounts.get(user)
    expected = account.password if account is not None else "\0" + password
    ok = hmac.compare_digest(password.encode(), expected.encode())
    return account is not None and ok


#: methods every logged-in session may call (logging in and navigating)
FREE_METHODS = frozenset(
    {
        "RetrieveServiceContent",
        "CurrentTime",
        "Login",
        "Logout",
        "SessionIsActive",
        "SetLocale",
        "HasPrivilegeOnEntity",
        "HasPrivilegeOnEntities",
        "HasUserPrivilegeOnEntities",
        "FetchUserPrivilegeOnEntities",
    }
)
#: types whose methods act on the caller's own session objects
_SESSION_TYPES = frozenset(
    {
        "PropertyCollector",
        "PropertyFilter",
        "ViewManager",
        "View",
        "ManagedObjectView",
        "ContainerView",
        "ListView",
        "InventoryView",
        "HttpNfcLease",
    }
)

_DESTROY = {
    "VirtualMachine": "VirtualMachine.Inventory.Delete",
    "Folder": "Folder.Delete",
    "Datacenter": "Datacenter.Delete",
    "ClusterComputeResource": "Host.Inventory.DeleteCluster",
    "ComputeResource": "Host.Inventory.RemoveHostFromCluster",
    "HostSystem": "Host.Inventory.RemoveHostFromCluster",
    "VirtualApp": "VApp.Delete",
    "ResourcePool": "Resource.DeletePool",
    "Datastore": "Datastore.Delete",
    "DistributedVirtualPortgroup": "DVPortgroup.Delete",
    "DistributedVirtualSwitch": "DVSwitch.Delete",
    "Network": "Network.Delete",
}
_RENAME = {
    "VirtualMachine": "VirtualMachine.Config.Rename",
    "Folder": "Folder.Rename",
    "Datacenter": "Datacenter.Rename",
    "ClusterComputeResource": "Host.Inventory.RenameCluster",
    "ComputeResource": "Host.Inventory.RenameCluster",
    "VirtualApp": "VApp.Rename",
    "ResourcePool": "Resource.RenamePool",
    "Datastore": "Datastore.Rename",
    "DistributedVirtualPortgroup": "DVPortgroup.Modify",
    "DistributedVirtualSwitch": "DVSwitch.Modify",
    "Network": "Network.Config",
    "HostSystem": "Host.Config.Settings",
}
#: what changing an entity of a type needs when the method names nothing better
_WRITE = {
    "VirtualMachine": "VirtualMachine.Config.Settings",
    "HostSystem": "Host.Config.Settings",
    "ClusterComputeResource": "Host.Inventory.EditCluster",
    "ComputeResource": "Host.Inventory.EditCluster",
    "VirtualApp": "VApp.ApplicationConfig",
    "ResourcePool": "Resource.EditPool",
    "Datastore": "Datastore.Config",
    "Folder": "Folder.Create",
    "Datacenter": "Datacenter.Reconfigure",
    "Network": "Network.Config",
    "DistributedVirtualSwitch": "DVSwitch.Modify",
    "DistributedVirtualPortgroup": "DVPortgroup.Modify",
}
#: MoveIntoFolder_Task by what the folder holds
_MOVE = {
    "VirtualMachine": "VirtualMachine.Inventory.Move",
    "Datacenter": "Datacenter.Move",
    "ComputeResource": "Host.Inventory.MoveHost",
    "Datastore": "Datastore.Move",
    "Network": "Network.Move",
}
_MANAGER_WRITE = "Global.Settings"
#: methods whose privilege does not depend on the target
_FIXED = {
    "AcquireTicket": "VirtualMachine.Interact.ConsoleInteract",
    "CancelTask": "Global.CancelTask",
    "SetField": "Global.SetCustomField",
    "setCustomValue": "Global.SetCustomField",
    "SetEntityPermissions": "Authorization.ModifyPermissions",
    "ResetEntityPermissions": "Authorization.ModifyPermissions",
    "RemoveEntityPermission": "Authorization.ModifyPermissions",
    "LogUserEvent": "Global.LogEvent",
    "MoveDatastoreFile_Task": "Datastore.FileManagement",
    "CopyDatastoreFile_Task": "Datastore.FileManagement",
    "MakeDirectory": "Datastore.FileManagement",
    "ChangeOwner": "Datastore.FileManagement",
    "DeleteDatastoreFile_Task": "Datastore.DeleteFile",
    "StartProgramInGuest": "VirtualMachine.GuestOperations.Execute",
    "TerminateProcessInGuest": "VirtualMachine.GuestOperations.Execute",
    "UpdateConfig": "Resource.EditPool",
    "UpdateChildResourceConfiguration": "Resource.EditPool",
    "MoveIntoResourcePool": "Resource.AssignVMToPool",
    "DestroyChildren": "Resource.DeletePool",
    "RepairVmDiskChains_Task": "VirtualMachine.Config.Settings",
    "BatchAddHostsToCluster_Task": "Host.Inventory.AddHostToCluster",
    "ApplyRecommendation": "Resource.ApplyRecommendation",
}
_GUEST_FILE = "VirtualMachine.GuestOperations.Modify"

#: privileges named here but not in the model's method table (they join privilegeList)
EXTRA_PRIVILEGES = frozenset(
    [
        *_DESTROY.values(),
        *_RENAME.values(),
        *_WRITE.values(),
        *_MOVE.values(),
        *_FIXED.values(),
        _MANAGER_WRITE,
        _GUEST_FILE,
        "VirtualMachine.Provisioning.Clone",
        "VirtualMachine.Provisioning.DeployTemplate",
        "Resource.HotMigrate",
        "Resource.ColdMigrate",
    ]
)


def _by_type(table: Mapping[str, str], mtype: str) -> str | None:
    cur: str | None = mtype
    while cur is not None:
        if cur in table:
            return table[cur]
        cur = schema.MANAGED_BASES.get(cur)
    return None


def _prop(ctx: Context, ref: MoRef, path: str) -> Any:
    obj = ctx.registry.get(ref)
    value: Any = obj.props if obj is not None else None
    for part in path.split("."):
        if value is None:
            return None
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


def _clone(ctx: Context, this: MoRef, params: Mapping[str, Any]) -> str:
    template = _prop(ctx, this, "config.template")
    return (
        "VirtualMachine.Provisioning.DeployTemplate"
        if template
        else "VirtualMachine.Provisioning.Clone"
    )


def _migrate(ctx: Context, this: MoRef, params: Mapping[str, Any]) -> str:
    on = str(_prop(ctx, this, "runtime.powerState") or "") == "poweredOn"
    return "Resource.HotMigrate" if on else "Resource.ColdMigrate"


def _move(ctx: Context, this: MoRef, params: Mapping[str, Any]) -> str:
    for kind in _prop(ctx, this, "childType") or ():
        if kind in _MOVE:
            return _MOVE[kind]
    return "Folder.Move"


Rule = Callable[["Context", MoRef, Mapping[str, Any]], "str | None"]
_RULES: dict[str, Rule] = {
    "Destroy_Task": lambda ctx, this, p: _by_type(_DESTROY, this.type),
    "Rename_Task": lambda ctx, this, p: _by_type(_RENAME, this.type),
    "CloneVM_Task": _clone,
    "MigrateVM_Task": _migrate,
    "MoveIntoFolder_Task": _move,
}


def required(
    ctx: Context, method: str, this: MoRef, params: Mapping[str, Any]
) -> tuple[MoRef, str] | None:
    """(entity, privilege) the call needs; None if any logged-in session may make it."""
    if method == "Fetch":
        return (this, "System.Read") if is_entity(this.type) else None
    info = METHODS.get(method)
    if info is None or method in FREE_METHODS or info[0] in _SESSION_TYPES:
        return None
    privilege = PRIVILEGES.get(method)
    if privilege == "System.Anonymous":
        return None
    if privilege is None:
        rule = _RULES.get(method)
        privilege = rule(ctx, this, params) if rule is not None else _FIXED.get(method)
    if privilege is None and info[0] == "GuestFileManager":
        privilege = _GUEST_FILE
    if privilege is None and not info[3]:
        privilege = "System.Read"
    if privilege is None:
        privilege = _by_type(_WRITE, this.type) or _MANAGER_WRITE
    return _target(ctx, this, params), privilege


def _target(ctx: Context, this: MoRef, params: Mapping[str, Any]) -> MoRef:
    reg = ctx.registry
    if is_entity(this.type):
        return this
    for name in ("entity", "vm"):
        value = params.get(name)
        if isinstance(value, MoRef) and is_entity(value.type) and value in reg:
            return value
    if this.type == "VirtualMachineSnapshot":
        vm = _prop(ctx, this, "vm")
        if isinstance(vm, MoRef) and vm in reg:
            return vm
    return access(ctx).root


def check(ctx: Context, method: str, this: MoRef, params: Mapping[str, Any]) -> None:
    """NoPermission unless the caller's user holds the privilege the call needs."""
    session = ctx.session
    if session is None:
        return
    need = required(ctx, method, this, params)
    if need is None:
        return
    target, privilege = need
    if not access(ctx).has(session.user, target, privilege):
        raise faults.no_permission(target, privilege)


def install(backend: Backend, root: MoRef) -> Access:
    """The endpoint's roles and permissions: each account's role on the root folder."""
    manager = backend.content.authorizationManager
    assert manager is not None
    a = Access(backend, root, manager, EXTRA_PRIVILEGES)
    perms = []
    for account in backend.accounts.values():
        role = a.role_named(account.role)
        if role is None or role.roleId in UNGRANTABLE:
            names = ", ".join(r.name for r in a.roles.values() if r.roleId not in UNGRANTABLE)
            raise ValueError(f"user {account.name!r}: unknown role {account.role!r} ({names})")
        perms.append(
            d.Permission(
                entity=root, principal=account.name, group=False, roleId=role.roleId, propagate=True
            )
        )
    a.replace(root, perms)
    return a
