"""Audit of issue 3 through pyVmomi, unmodified, against the served simulator: TLS and
version negotiation, idle-session expiry, and the classic "traverse everything" spec.

Always served over HTTPS, whatever SPHEREKIT_SIM_MODE says (pyVmomi only speaks HTTP).
"""

from __future__ import annotations

import gc
import ssl
import time
import warnings
from contextlib import ExitStack
from typing import Any

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connect, connected, objects, vim, vmodl


def entities(si: Any) -> set[tuple[str, str]]:
    """(type, moref) of every entity, through a container view (and the root folder)."""
    found = {(type(e).__name__.rpartition(".")[2], e._moId) for e in objects(si, vim.ManagedEntity)}
    return found | {("Folder", si.content.rootFolder._moId)}


# -- 1. TLS both ways, and version negotiation ------------------------------------------------


@pytest.mark.parametrize("api_version", ["8.0.2.0", "7.0.3.0"])
def test_smart_connect_negotiates_the_served_version(api_version: str) -> None:
    """SmartConnect reads /sdk/vimServiceVersions.xml and speaks the newest version both
    know: pyVmomi 9 knows newer ones, so it settles on what the simulator serves."""
    with (
        Simulator(seed=1, api_version=api_version) as sim,
        connected(sim, disableSslCertValidation=True) as si,
    ):
        assert si._stub.versionId == f'"urn:vim25/{api_version}"'
        assert si.content.about.apiVersion == api_version
        assert si.content.sessionManager.currentSession.userName == "user"


def test_certificate_validation_with_the_ca_and_without_it() -> None:
    with Simulator(seed=1) as sim:
        assert sim.ca_file is not None and sim.certificate is not None
        with open(sim.ca_file, "rb") as f:
            assert f.read() == sim.certificate.ca_pem
        # validating against the generated CA: hostname and chain both check out
        context = ssl.create_default_context(cafile=sim.ca_file)
        with connected(sim, sslContext=context) as si:
            assert si._stub.versionId == '"urn:vim25/8.0.2.0"'
            assert len(entities(si)) > 10
        # validating against the system's CAs only: refused, as it must be
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            with pytest.raises(ssl.SSLCertVerificationError):
                connect(sim, sslContext=ssl.create_default_context())
            gc.collect()  # pyVmomi leaves the failed connection's socket open


# -- 5. sessions ---------------------------------------------------------------------------


def test_idle_sessions_expire_but_not_while_they_wait() -> None:
    with ExitStack() as stack:
        sim = stack.enter_context(Simulator(seed=1, session_timeout=0.5))
        idle = stack.enter_context(connected(sim, disableSslCertValidation=True))
        waiting = stack.enter_context(connected(sim, disableSslCertValidation=True))
        pc = waiting.content.propertyCollector
        pc.CreateFilter(
            vmodl.query.PropertyCollector.FilterSpec(
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Folder)],
                objectSet=[
                    vmodl.query.PropertyCollector.ObjectSpec(obj=waiting.content.rootFolder)
                ],
            ),
            partialUpdates=False,
        )
        first = pc.WaitForUpdatesEx("", vmodl.query.PropertyCollector.WaitOptions())
        # a call in progress is activity: 1 s in WaitForUpdatesEx, twice the timeout
        options = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=1)
        start = time.monotonic()
        assert pc.WaitForUpdatesEx(first.version, options) is None
        assert time.monotonic() - start >= 0.9
        assert waiting.content.sessionManager.currentSession.userName == "user"
        # the other session did nothing all that time: it is gone
        with pytest.raises(vim.fault.NotAuthenticated):
            idle.content.sessionManager.currentSession  # noqa: B018
        keys = {s.key for s in waiting.content.sessionManager.sessionList}
        assert keys == {waiting.content.sessionManager.currentSession.key}


def test_session_list_current_session_and_terminate() -> None:
    with ExitStack() as stack:
        sim = stack.enter_context(Simulator(seed=1))
        a = stack.enter_context(connected(sim, disableSslCertValidation=True))
        b = stack.enter_context(connected(sim, disableSslCertValidation=True))
        mgr = a.content.sessionManager
        mine = mgr.currentSession
        theirs = b.content.sessionManager.currentSession
        assert mine.key != theirs.key and mine.userName == theirs.userName == "user"
        assert {s.key for s in mgr.sessionList} == {mine.key, theirs.key}
        assert mgr.SessionIsActive(sessionID=theirs.key, userName="user")
        mgr.TerminateSession(sessionId=[theirs.key])
        assert not mgr.SessionIsActive(sessionID=theirs.key, userName="user")
        assert {s.key for s in mgr.sessionList} == {mine.key}
        with pytest.raises(vim.fault.NotAuthenticated):
            b.content.sessionManager.currentSession  # noqa: B018
        with pytest.raises(vim.fault.NotFound):
            mgr.TerminateSession(sessionId=[theirs.key])


# -- 6. the classic recursive TraversalSpec ------------------------------------------------------


def traverse_everything() -> list[Any]:
    """The VI SDK samples' spec, named SelectionSpecs and all (as pyVmomi scripts copy it)."""
    pc = vmodl.query.PropertyCollector

    def ts(name: str, mtype: Any, path: str, *more: str) -> Any:
        return pc.TraversalSpec(
            name=name,
            type=mtype,
            path=path,
            skip=False,
            selectSet=[pc.SelectionSpec(name=n) for n in more],
        )

    return [
        ts(
            "visitFolders", vim.Folder, "childEntity",
            "visitFolders", "dcToHf", "dcToVmf", "dcToDs", "dcToNet",
            "crToH", "crToRp", "hToVm", "rpToVm", "rpToRp",
        ),
        ts("dcToVmf", vim.Datacenter, "vmFolder", "visitFolders"),
        ts("dcToHf", vim.Datacenter, "hostFolder", "visitFolders"),
        ts("dcToDs", vim.Datacenter, "datastoreFolder", "visitFolders"),
        ts("dcToNet", vim.Datacenter, "networkFolder", "visitFolders"),
        ts("crToH", vim.ComputeResource, "host"),
        ts("crToRp", vim.ComputeResource, "resourcePool", "rpToRp", "rpToVm"),
        ts("rpToRp", vim.ResourcePool, "resourcePool", "rpToRp", "rpToVm"),
        ts("rpToVm", vim.ResourcePool, "vm"),
        ts("hToVm", vim.HostSystem, "vm", "visitFolders"),
    ]  # fmt: skip


def test_named_recursion_returns_the_whole_inventory() -> None:
    with Simulator(seed=1) as sim, connected(sim, disableSslCertValidation=True) as si:
        content = si.RetrieveContent()
        pc = vmodl.query.PropertyCollector
        spec = pc.FilterSpec(
            propSet=[pc.PropertySpec(type=vim.ManagedEntity, pathSet=["name"])],
            objectSet=[
                pc.ObjectSpec(obj=content.rootFolder, skip=False, selectSet=traverse_everything())
            ],
        )
        result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
        objects = list(result.objects)
        while result.token:
            result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
            objects += result.objects
        got = {(type(o.obj).__name__.rpartition(".")[2], o.obj._moId) for o in objects}
        assert len(got) == len(objects)  # each object once, however many paths reach it
        assert got == entities(si)
        kinds = {k for k, _v in got}
        expected = {"Folder", "Datacenter", "ClusterComputeResource", "ComputeResource",
                    "HostSystem", "ResourcePool", "VirtualMachine", "Datastore", "Network",
                    "VmwareDistributedVirtualSwitch", "DistributedVirtualPortgroup"}  # fmt: skip
        assert expected <= kinds
        # skip=True on the root and on the folder traversal: what only childEntity reaches
        # (datacenters, compute resources, datastores, networks) is walked through, not
        # selected; what another, unskipped traversal reaches (hosts, pools, VMs, the
        # datacenters' folders) still is
        skipping = traverse_everything()
        skipping[0].skip = True
        spec.objectSet = [pc.ObjectSpec(obj=content.rootFolder, skip=True, selectSet=skipping)]
        rows = content.propertyCollector.RetrieveContents([spec])
        kinds_after = {type(o.obj).__name__.rpartition(".")[2] for o in rows}
        assert kinds_after == {"Folder", "HostSystem", "ResourcePool", "VirtualMachine"}
        names = {p.val for o in rows for p in o.propSet if isinstance(o.obj, vim.Folder)}
        assert names == {"vm", "host", "datastore", "network"}
        assert len([o for o in rows if isinstance(o.obj, vim.VirtualMachine)]) == 4
