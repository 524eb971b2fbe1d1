"""pyVmomi against the served simulator: users, roles, permissions, NoPermission, ESXi mode.

Always served over HTTPS (pyVmomi speaks only HTTP). pyVmomi objects are ``Any``.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connect, connected, disconnect, objects, vim, vmodl, wait

USERS = {"ro": ("ro-pass", "ReadOnly"), "na": ("na-pass", "NoAccess")}


@pytest.fixture(scope="module")
def served() -> Iterator[Simulator]:
    with Simulator(seed=1, users=USERS) as sim:
        yield sim


def test_read_only_user_gets_no_permission_on_writes(served: Simulator) -> None:
    with connected(served, "ro", "ro-pass") as ro:
        vm = objects(ro)[0]
        assert vm.runtime.powerState == "poweredOn"  # reads work (pyVmomi's Fetch)
        with pytest.raises(vim.fault.NoPermission) as info:
            vm.PowerOffVM_Task()
        assert info.value.privilegeId == "VirtualMachine.Interact.PowerOff"
        assert info.value.object._moId == vm._moId
        assert info.value.missingPrivileges[0].privilegeIds == ["VirtualMachine.Interact.PowerOff"]
        assert ro.content.sessionManager.currentSession.userName == "ro"


def test_no_access_user_sees_nothing(served: Simulator) -> None:
    with connected(served, "na", "na-pass") as na, connected(served) as admin:
        assert objects(na) == []
        vm = objects(admin)[0]
        foreign = vim.VirtualMachine(vm._moId, na._stub)
        with pytest.raises(vim.fault.NoPermission) as info:
            _ = foreign.name
        assert info.value.privilegeId == "System.Read"


def test_roles_and_permissions_through_pyvmomi(served: Simulator) -> None:
    with connected(served) as admin, connected(served, "ro", "ro-pass") as ro:
        am = admin.content.authorizationManager
        roles = {r.name: r for r in am.roleList}
        assert roles["Admin"].roleId == -1 and roles["ReadOnly"].roleId == -2
        assert roles["NoAccess"].roleId == -5
        role = am.AddAuthorizationRole(
            name="PowerUser", privIds=["VirtualMachine.Interact.PowerOff"]
        )
        vm = objects(admin)[1]
        perm = vim.AuthorizationManager.Permission(
            principal="ro", group=False, roleId=role, propagate=True
        )
        am.SetEntityPermissions(entity=vm, permission=[perm])
        mine = vim.VirtualMachine(vm._moId, ro._stub)
        wait(mine.PowerOffVM_Task())
        assert mine.runtime.powerState == "poweredOff"
        got = am.RetrieveEntityPermissions(entity=vm, inherited=False)
        assert [(p.principal, p.roleId) for p in got] == [("ro", role)]
        assert am.HasPrivilegeOnEntity(
            entity=vm,
            sessionId=ro.content.sessionManager.currentSession.key,
            privId=["VirtualMachine.Interact.PowerOff", "VirtualMachine.Inventory.Delete"],
        ) == [True, False]
        am.RemoveEntityPermission(entity=vm, user="ro", isGroup=False)
        am.RemoveAuthorizationRole(roleId=role, failIfUsed=True)
        with pytest.raises(vim.fault.NoPermission):
            mine.PowerOnVM_Task()


def test_wrong_password_and_terminate_session(served: Simulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(vim.fault.InvalidLogin):
            connect(served, "ro", "wrong")
        gc.collect()  # pyVmomi leaves the failed connection's socket open
    admin = connect(served)
    ro = connect(served, "ro", "ro-pass")
    try:
        sm = admin.content.sessionManager
        key = ro.content.sessionManager.currentSession.key
        assert key in {s.key for s in sm.sessionList}
        with pytest.raises(vim.fault.NoPermission):
            ro.content.sessionManager.TerminateSession(sessionId=[sm.currentSession.key])
        sm.TerminateSession(sessionId=[key])
        with pytest.raises(vim.fault.NotFound):
            sm.TerminateSession(sessionId=[key])
    finally:
        disconnect(admin)
        ro._stub.DropConnections()  # its session is gone: nothing to log out


def test_esx_mode_through_pyvmomi() -> None:
    with Simulator(seed=1, esx=True) as sim, connected(sim) as si:
        content = si.RetrieveContent()
        assert content.about.apiType == "HostAgent"
        assert content.rootFolder._moId == "ha-folder-root"
        vm = objects(si)[0]
        assert vm.name.startswith("ha-host_VM")
        spec = vim.vm.CloneSpec(location=vim.vm.RelocateSpec())
        with pytest.raises(vmodl.fault.NotSupported):
            vm.CloneVM_Task(folder=vm.parent, name="copy", spec=spec)
