"""Accounts, roles, permissions and the per-call privilege check (AuthorizationManager)."""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults
from spherekit.property import MissingProperties, filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import Permission
from tests.sim.conftest import SimFactory, Target

USERS = {"ro": ("ro-pass", "ReadOnly"), "na": ("na-pass", "NoAccess")}


@pytest.fixture
def lab(sim_factory: SimFactory) -> Target:
    return sim_factory(seed=1, users=USERS)


def props(s: spherekit.Session, ref: MoRef, paths: list[str]) -> dict[str, Any]:
    rows = retrieve(s, filter_spec(ref.type, paths, [ref]))
    return rows[0][1] if rows else {}


def authz(s: spherekit.Session) -> MoRef:
    ref = s.content.authorizationManager
    assert ref is not None
    return ref


def vms(s: spherekit.Session) -> list[MoRef]:
    return [ref for ref, _ in spherekit.fetch(s, "VirtualMachine", ["name"])]


def perm(user: str, role: int, propagate: bool = True) -> Permission:
    return Permission(principal=user, group=False, roleId=role, propagate=propagate)


def test_system_roles_and_privileges(lab: Target) -> None:
    s = lab.connect()
    row = props(s, authz(s), ["roleList", "privilegeList"])
    roles = {r.roleId: r for r in row["roleList"]}
    assert {r: roles[r].name for r in range(-6, 0)} == {
        -6: "NoCryptoAdmin",
        -5: "NoAccess",
        -4: "Anonymous",
        -3: "View",
        -2: "ReadOnly",
        -1: "Admin",
    }
    assert all(r.system for r in roles.values())
    assert roles[-2].privilege == ["System.Anonymous", "System.Read", "System.View"]
    assert not roles[-5].privilege
    privs = {p.privId for p in row["privilegeList"]}
    assert set(roles[-1].privilege) == privs
    assert {"VirtualMachine.Interact.PowerOn", "System.Read", "Folder.Delete"} <= privs
    power_on = next(p for p in row["privilegeList"] if p.privId.endswith("Interact.PowerOn"))
    assert (power_on.name, power_on.privGroupName) == ("PowerOn", "VirtualMachine.Interact")


def test_root_folder_grants_each_user_its_role(lab: Target) -> None:
    s = lab.connect()
    root = s.content.rootFolder
    found = s.call(authz(s), "RetrieveEntityPermissions", entity=root, inherited=False)
    assert {(p.principal, p.roleId, p.propagate) for p in found} == {
        ("user", -1, True),
        ("ro", -2, True),
        ("na", -5, True),
    }
    vm = vms(s)[0]
    assert props(s, vm, ["effectiveRole"])["effectiveRole"] == [-1]
    ro = lab.connect(user="ro", password="ro-pass")
    assert props(ro, vm, ["effectiveRole"])["effectiveRole"] == [-2]


def test_read_only_user_reads_everything_and_writes_nothing(lab: Target) -> None:
    admin = lab.connect()
    ro = lab.connect(user="ro", password="ro-pass")
    assert vms(ro) == vms(admin)
    vm = vms(ro)[0]
    with pytest.raises(faults.NoPermission) as info:
        ro.call(vm, "PowerOffVM_Task")
    assert info.value.object == vm
    assert info.value.privilegeId == "VirtualMachine.Interact.PowerOff"
    assert "Permission to perform this operation was denied" in str(info.value)
    for ref, method, kwargs, privilege in [
        (vm, "Destroy_Task", {}, "VirtualMachine.Inventory.Delete"),
        (vm, "Rename_Task", {"newName": "x"}, "VirtualMachine.Config.Rename"),
        (admin.content.rootFolder, "CreateFolder", {"name": "f"}, "Folder.Create"),
    ]:
        with pytest.raises(faults.NoPermission) as info:
            ro.call(ref, method, **kwargs)
        assert (info.value.object, info.value.privilegeId) == (ref, privilege)
    # a manager's privilege is checked on the root folder
    with pytest.raises(faults.NoPermission) as info:
        ro.call(authz(ro), "AddAuthorizationRole", name="r", privIds=[])
    assert info.value.object == ro.content.rootFolder
    assert info.value.privilegeId == "Authorization.ModifyRoles"
    assert props(admin, vm, ["runtime.powerState"])["runtime.powerState"] == "poweredOn"


def test_no_access_user_sees_nothing(lab: Target) -> None:
    admin = lab.connect()
    na = lab.connect(user="na", password="na-pass")  # logging in is allowed
    assert na.content.rootFolder == admin.content.rootFolder
    assert vms(na) == []
    assert spherekit.fetch(na, "ManagedEntity", ["name"]) == []
    vm = vms(admin)[0]
    assert props(na, vm, ["name"]) == {}
    with pytest.raises(faults.NoPermission) as info:
        na.call(admin.content.searchIndex or vm, "FindByInventoryPath", inventoryPath="DC0")
    assert info.value.privilegeId == "System.View"


def test_a_permission_on_one_vm_overrides_the_inherited_role(lab: Target) -> None:
    admin = lab.connect()
    ro = lab.connect(user="ro", password="ro-pass")
    na = lab.connect(user="na", password="na-pass")
    mine, other = vms(admin)[:2]
    mgr = authz(admin)
    admin.call(mgr, "SetEntityPermissions", entity=mine, permission=[perm("ro", -1)])
    admin.call(mgr, "SetEntityPermissions", entity=mine, permission=[perm("na", -2)])
    spherekit.wait_for_task(ro, ro.call(mine, "PowerOffVM_Task"))
    with pytest.raises(faults.NoPermission):
        ro.call(other, "PowerOffVM_Task")
    assert vms(na) == [mine]  # the NoAccess user now sees just that VM
    got = admin.call(mgr, "RetrieveEntityPermissions", entity=mine, inherited=True)
    assert {(p.entity, p.principal) for p in got} >= {
        (mine, "ro"),
        (mine, "na"),
        (admin.content.rootFolder, "user"),
    }
    everything = admin.call(mgr, "RetrieveAllPermissions")
    assert len(everything) == 5
    assert {p.principal for p in admin.call(mgr, "RetrieveRolePermissions", roleId=-2)} == {
        "ro",
        "na",
    }
    admin.call(mgr, "RemoveEntityPermission", entity=mine, user="ro", isGroup=False)
    with pytest.raises(faults.NotFound):
        admin.call(mgr, "RemoveEntityPermission", entity=mine, user="ro", isGroup=False)
    with pytest.raises(faults.NoPermission):
        ro.call(mine, "PowerOnVM_Task")


def test_a_permission_that_does_not_propagate_stays_on_its_entity(lab: Target) -> None:
    admin = lab.connect()
    na = lab.connect(user="na", password="na-pass")
    dc = spherekit.fetch(admin, "Datacenter", ["vmFolder"])[0][1]["vmFolder"]
    admin.call(authz(admin), "SetEntityPermissions", entity=dc, permission=[perm("na", -2, False)])
    assert [ref for ref, _ in spherekit.fetch(na, "Folder", ["name"])] == [dc]
    assert vms(na) == []
    admin.call(authz(admin), "ResetEntityPermissions", entity=dc, permission=[perm("na", -2)])
    assert len(vms(na)) == len(vms(admin))
    admin.call(authz(admin), "ResetEntityPermissions", entity=dc, permission=None)
    assert vms(na) == []


def test_bad_permissions_are_refused(lab: Target) -> None:
    admin = lab.connect()
    mgr, root = authz(admin), admin.content.rootFolder
    with pytest.raises(faults.InvalidArgument):
        admin.call(mgr, "SetEntityPermissions", entity=root, permission=[perm("ro", -3)])
    with pytest.raises(faults.UserNotFound) as info:
        admin.call(mgr, "SetEntityPermissions", entity=root, permission=[perm("nobody", -2)])
    assert info.value.principal == "nobody"
    with pytest.raises(faults.NotFound):
        admin.call(mgr, "SetEntityPermissions", entity=root, permission=[perm("ro", 4242)])
    with pytest.raises(faults.AuthMinimumAdminPermission):
        admin.call(mgr, "SetEntityPermissions", entity=root, permission=[perm("user", -2)])
    with pytest.raises(faults.AuthMinimumAdminPermission):
        admin.call(mgr, "RemoveEntityPermission", entity=root, user="user", isGroup=False)
    assert admin.call(mgr, "HasPrivilegeOnEntity", entity=root, sessionId=_key(admin), privId=[
        "Folder.Create"
    ]) == [True]  # fmt: skip


def _key(s: spherekit.Session) -> str:
    assert s.user_session is not None
    return s.user_session.key


def test_custom_roles(lab: Target) -> None:
    admin = lab.connect()
    ro = lab.connect(user="ro", password="ro-pass")
    mgr = authz(admin)
    privs = ["VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.PowerOn"]
    role = admin.call(mgr, "AddAuthorizationRole", name="Operator", privIds=privs)
    assert role > 0
    listed = {r.roleId: r for r in props(admin, mgr, ["roleList"])["roleList"]}
    assert set(listed[role].privilege) == {*privs, "System.Anonymous", "System.Read", "System.View"}
    with pytest.raises(faults.AlreadyExists):
        admin.call(mgr, "AddAuthorizationRole", name="Operator", privIds=[])
    with pytest.raises(faults.InvalidArgument):
        admin.call(mgr, "AddAuthorizationRole", name="Bad", privIds=["No.Such.Privilege"])
    vm = vms(admin)[0]
    admin.call(mgr, "SetEntityPermissions", entity=vm, permission=[perm("ro", role)])
    spherekit.wait_for_task(ro, ro.call(vm, "PowerOffVM_Task"))
    with pytest.raises(faults.NoPermission) as info:
        ro.call(vm, "Destroy_Task")
    assert info.value.privilegeId == "VirtualMachine.Inventory.Delete"
    avail = admin.call(
        mgr, "HasPrivilegeOnEntities", entity=[vm], sessionId=_key(ro), privId=privs[:1]
    )
    assert avail[0].privAvailability[0].isGranted
    fetched = admin.call(mgr, "FetchUserPrivilegeOnEntities", entities=[vm], userName="ro")
    assert set(fetched[0].privileges) == set(listed[role].privilege)
    admin.call(mgr, "UpdateAuthorizationRole", roleId=role, newName="Op", privIds=None)
    with pytest.raises(faults.NoPermission):
        admin.call(mgr, "UpdateAuthorizationRole", roleId=-2, newName="RO", privIds=None)
    with pytest.raises(faults.InvalidArgument):
        admin.call(mgr, "RemoveAuthorizationRole", roleId=-2, failIfUsed=False)
    with pytest.raises(faults.RemoveFailed):
        admin.call(mgr, "RemoveAuthorizationRole", roleId=role, failIfUsed=True)
    admin.call(mgr, "RemoveAuthorizationRole", roleId=role, failIfUsed=False)
    assert not admin.call(mgr, "RetrieveEntityPermissions", entity=vm, inherited=False)
    with pytest.raises(faults.NoPermission):
        ro.call(vm, "PowerOnVM_Task")


def test_sessions_of_several_users(lab: Target) -> None:
    admin = lab.connect()
    ro = lab.connect(user="ro", password="ro-pass")
    mgr = admin.content.sessionManager
    assert mgr is not None
    assert props(ro, mgr, ["currentSession"])["currentSession"].userName == "ro"
    listed = {us.key: us.userName for us in props(admin, mgr, ["sessionList"])["sessionList"]}
    assert listed[_key(ro)] == "ro" and listed[_key(admin)] == "user"
    # the list needs Sessions.TerminateSession, as on vCenter
    with pytest.raises(MissingProperties) as missing:
        props(ro, mgr, ["sessionList"])
    assert isinstance(missing.value.missing[0][2], faults.NoPermission)
    assert ro.call(mgr, "SessionIsActive", sessionID=_key(admin), userName="user")
    with pytest.raises(faults.NoPermission) as info:
        ro.call(mgr, "TerminateSession", sessionId=[_key(admin)])
    assert info.value.privilegeId == "Sessions.TerminateSession"
    with pytest.raises(faults.NotFound):
        admin.call(mgr, "TerminateSession", sessionId=["no-such-session"])
    admin.call(mgr, "TerminateSession", sessionId=[_key(ro)])
    assert not admin.call(mgr, "SessionIsActive", sessionID=_key(ro), userName="ro")
    with pytest.raises(faults.InvalidLogin):
        lab.connect(user="ro", password="pass")


def test_unknown_role_for_a_user_is_refused(sim_factory: SimFactory) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        sim_factory(users={"x": ("p", "Superuser")})
    with pytest.raises(ValueError, match="unknown role"):
        sim_factory(users={"x": ("p", "View")})  # "cannot be granted"
