"""The spherekit client against govmomi's vcsim 0.24.2: connect, fetch, tasks, waits, find.

Tests that only read share the session-wide ``vcsim`` (and one spherekit session on it);
tests that change the inventory start their own through ``vcsim_factory``.

vcsim departures from a real vCenter that these tests account for (each is named again
where it matters):

- its built-in certificate is Go's net/http test certificate: RSA 1024, ``O=Acme Co``,
  self-signed with ``CA:TRUE``, SANs example.com/127.0.0.1/::1. OpenSSL's default security
  level rejects a 1024-bit key, so it cannot be trusted through ``ca_file=``;
- VMs report no guest IP address unless one is injected through the vcsim-only
  ``extraConfig`` key ``SET.guest.ipAddress``;
- tasks run to completion inside the call that creates them (a real vCenter answers with
  a queued task) and never report progress; a failed task's ``localizedMessage`` is the Go
  type name (``*types.InvalidPowerState``), not a sentence;
- WaitForUpdatesEx versions are ``""`` and then ``"-"``, not increasing numbers;
- RetrievePropertiesEx ignores ``maxObjects`` (no paging, no ContinueRetrievePropertiesEx);
- a datastore's moref value is its directory, not ``datastore-NN``; a property filter on a
  deleted object is accepted (a real vCenter answers ManagedObjectNotFound).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

import spherekit
from spherekit import errors, faults, find, vim
from spherekit.schema.base import MoRef
from spherekit.task import wait_for_task, wait_for_tasks
from tests.interop.conftest import ProxyFactory, VcsimFactory, connect_sim
from tests.interop.vcsim import Vcsim

# The default VPX model (dc=1, standalone-host=1, cluster=1 with 3 hosts, vm=2): two VMs on
# the standalone host, two in the cluster's resource pool.
DEFAULT_VMS = {"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}
VM_PATHS = [
    "name",
    "runtime.powerState",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "guest.ipAddress",
    "config.uuid",
]


@pytest.fixture(scope="module")
def session(vcsim: Vcsim) -> Iterator[spherekit.Session]:
    """One spherekit session on the shared vcsim, for tests that only read."""
    s, _ = connect_sim(vcsim)
    with s:
        yield s


def vms_by_name(s: spherekit.Session) -> dict[str, MoRef]:
    return {v["name"]: ref for ref, v in spherekit.fetch(s, "VirtualMachine", ["name"])}


def power_state(s: spherekit.Session, vm: MoRef) -> str:
    rows = dict(spherekit.fetch(s, "VirtualMachine", ["runtime.powerState"]))
    state: str = rows[vm]["runtime.powerState"]
    return state


# --- connect ---------------------------------------------------------------------------------


def test_default_verification_rejects_the_certificate_and_says_what_to_do(vcsim: Vcsim) -> None:
    with pytest.raises(errors.TLSError) as caught:
        spherekit.connect(vcsim.sdk_url, user=vcsim.user, password=vcsim.password)
    message = str(caught.value)
    assert vcsim.thumbprint_sha256() in message  # what to pin, shown to the user
    for advice in ("thumbprint=", "ca_file=", "insecure=True"):
        assert advice in message
    assert caught.value.maybe_sent is False  # rejected before a request byte was written


def test_connect_pinning_the_thumbprint(vcsim: Vcsim) -> None:
    s, _ = connect_sim(vcsim, thumbprint=vcsim.thumbprint_sha256())
    with s:
        assert s.user_session is not None and s.user_session.userName == vcsim.user
        assert s.is_vcenter


def test_connect_with_a_wrong_pin_fails(vcsim: Vcsim) -> None:
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(errors.TLSError, match="does not match the pinned thumbprint") as caught:
        connect_sim(vcsim, thumbprint=wrong)
    assert vcsim.thumbprint_sha256() in str(caught.value)


def test_connect_insecure(vcsim: Vcsim) -> None:
    s, _ = connect_sim(vcsim, insecure=True)
    with s:
        assert s.api_version == "6.5"


def test_ca_file_cannot_trust_vcsims_certificate(vcsim: Vcsim, tmp_path: Path) -> None:
    # vcsim departure: its built-in certificate is Go's net/http test certificate. Its name
    # and chain would do (SAN IP 127.0.0.1, self-signed with CA:TRUE, so it is its own CA),
    # but its RSA key has 1024 bits, which OpenSSL's default security level refuses. A real
    # vCenter's VMCA-issued certificates use 2048 bits; ca_file= is shown to work with a
    # proper CA in test_ca_file_through_a_tls_proxy.
    pem = vcsim.cert_pem()
    cert = x509.load_pem_x509_certificate(pem.encode())
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    ca_file = tmp_path / "vcsim.pem"
    ca_file.write_text(pem)
    with pytest.raises(errors.TLSError, match="too weak"):
        connect_sim(vcsim, ca_file=str(ca_file))


def test_ca_file_through_a_tls_proxy(vcsim: Vcsim, proxy_factory: ProxyFactory) -> None:
    # The drop proxy serves a P-256 certificate for 127.0.0.1 signed by its own CA.
    proxy = proxy_factory(vcsim)
    assert proxy.certs is not None
    with spherekit.connect(
        proxy.sdk_url, user=vcsim.user, password=vcsim.password, ca_file=str(proxy.certs.ca_file)
    ) as s:
        assert {v["name"] for _, v in spherekit.fetch(s, "VirtualMachine", ["name"])} == (
            DEFAULT_VMS
        )
    # ... and a CA that did not issue the server's certificate is refused
    with pytest.raises(errors.TLSError, match="not accepted"):
        spherekit.connect(
            vcsim.sdk_url,
            user=vcsim.user,
            password=vcsim.password,
            ca_file=str(proxy.certs.ca_file),
        )


def test_wrong_password_raises_invalid_login(vcsim: Vcsim) -> None:
    wrong = "not-the-password-" + uuid.uuid4().hex
    with pytest.raises(faults.InvalidLogin) as caught:
        spherekit.connect(
            vcsim.sdk_url, user=vcsim.user, password=wrong, thumbprint=vcsim.thumbprint_sha256()
        )
    message = str(caught.value)
    assert "\n" not in message
    assert wrong not in message and wrong not in repr(caught.value)
    assert caught.value.method_name == "Login"
    assert isinstance(caught.value, faults.MethodFault) and isinstance(
        caught.value, errors.SpherekitError
    )


def test_refused_port_raises_connect_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(errors.ConnectError, match="connection refused") as caught:
        spherekit.connect(f"https://127.0.0.1:{port}/sdk", user="u", password="p", insecure=True)
    assert caught.value.maybe_sent is False
    assert time.monotonic() - start < 5  # refused is final: no retry loop at connect


def test_version_negotiation_follows_vim_service_versions_xml(
    vcsim: Vcsim, session: spherekit.Session
) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # vcsim's 1024-bit test cert
    url = f"{vcsim.sdk_url}/vimServiceVersions.xml"
    with urllib.request.urlopen(url, context=ctx, timeout=10) as response:
        doc = ET.fromstring(response.read())
    served = next(
        ns.findtext("version") for ns in doc.iter("namespace") if ns.findtext("name") == "urn:vim25"
    )
    assert served == "6.5"  # govmomi 0.24.2's VPX model is a vCenter 6.5
    assert session.api_version == served
    assert session.content.about.apiVersion == served
    assert session.content.about.apiType == "VirtualCenter"


# --- fetch -----------------------------------------------------------------------------------


def test_fetch_virtual_machines(session: spherekit.Session) -> None:
    rows = spherekit.fetch(session, "VirtualMachine", VM_PATHS)
    assert len(rows) == len(DEFAULT_VMS)
    by_name = {v["name"]: (ref, v) for ref, v in rows}
    assert set(by_name) == DEFAULT_VMS
    uuids = set()
    for ref, values in by_name.values():
        assert ref.type == "VirtualMachine" and ref.value.startswith("vm-")
        # vcsim's defaults for every VM of the VPX model
        assert values["runtime.powerState"] == vim.VirtualMachinePowerState.poweredOn
        assert values["config.hardware.numCPU"] == 1
        assert values["config.hardware.memoryMB"] == 32
        # vcsim departure: no VMware Tools, so no guest IP; unset properties are absent
        assert "guest.ipAddress" not in values
        uuids.add(str(uuid.UUID(values["config.uuid"])))
    assert len(uuids) == len(DEFAULT_VMS)
    # the same answers, object by object, as a lookup by UUID gives
    for name, (ref, values) in by_name.items():
        assert find.by_uuid(session, values["config.uuid"]) == ref, name


def test_fetch_under_a_datacenter_a_folder_and_a_cluster(session: spherekit.Session) -> None:
    dc = find.by_path(session, "/DC0")
    assert dc.type == "Datacenter"
    assert {
        v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"], root=dc)
    } == (DEFAULT_VMS)
    vm_folder = find.by_path(session, "/DC0/vm")
    rows = spherekit.fetch(session, "VirtualMachine", ["name"], root=vm_folder)
    assert {v["name"] for _, v in rows} == DEFAULT_VMS
    cluster = find.by_path(session, "/DC0/host/DC0_C0")
    rows = spherekit.fetch(session, "VirtualMachine", ["name"], root=cluster)
    assert {v["name"] for _, v in rows} == {"DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}
    # recursive=False: only direct children of the datacenter (its four folders)
    rows = spherekit.fetch(session, "Folder", ["name"], root=dc, recursive=False)
    assert sorted(v["name"] for _, v in rows) == ["datastore", "host", "network", "vm"]


def test_fetch_hosts_datastores_networks(session: spherekit.Session) -> None:
    hosts = spherekit.fetch(session, "HostSystem", ["name", "runtime.connectionState"])
    assert {v["name"] for _, v in hosts} == {"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}
    assert {v["runtime.connectionState"] for _, v in hosts} == {"connected"}
    datastores = spherekit.fetch(session, "Datastore", ["name", "summary.type"])
    assert [v["name"] for _, v in datastores] == ["LocalDS_0"]
    # vcsim departure: a datastore's moref value is its local directory
    # ("/tmp/govcsim-DC0-LocalDS_0-...@folder-5"), not "datastore-NN"
    assert datastores[0][0].type == "Datastore"
    networks = spherekit.fetch(session, "Network", ["name"])
    by_name = {v["name"]: ref.type for ref, v in networks}
    # a ContainerView of Network includes its subtype DistributedVirtualPortgroup
    assert by_name["VM Network"] == "Network"
    assert by_name["DC0_DVPG0"] == "DistributedVirtualPortgroup"


def test_fetch_page_size_is_sent_and_vcsim_answers_in_one_page(vcsim: Vcsim) -> None:
    # vcsim departure: 0.24.2 ignores RetrieveOptions.maxObjects and has no
    # ContinueRetrievePropertiesEx, so paging itself cannot be exercised against it (the
    # unit tests cover the continuation loop); a real vCenter pages at maxObjects.
    s, rec = connect_sim(vcsim, recorder=True)
    assert rec is not None
    with s:
        everything = spherekit.fetch(s, "ManagedEntity", ["name"])
        mark = len(rec.log)
        rows = spherekit.fetch(s, "ManagedEntity", ["name"], page_size=2)
        assert sorted(rows) == sorted(everything) and len(rows) > 2
        assert set(v["name"] for _, v in rows) >= DEFAULT_VMS | {"DC0", "DC0_C0", "LocalDS_0"}
        assert rec.names(mark) == ["CreateContainerView", "RetrievePropertiesEx", "DestroyView"]


def test_bad_property_path_is_refused_before_sending(vcsim: Vcsim) -> None:
    s, rec = connect_sim(vcsim, recorder=True)
    assert rec is not None
    with s:
        sent = len(rec.log)
        with pytest.raises(
            errors.UsageError, match=r"no field 'powerStat'.*did you mean powerState"
        ):
            spherekit.fetch(s, "VirtualMachine", ["name", "runtime.powerStat"])
        with pytest.raises(errors.UsageError, match=r"no property 'runtim'.*did you mean runtime"):
            spherekit.fetch(s, "VirtualMachine", ["runtim.powerState"])
        assert rec.names(sent) == []  # not even the ContainerView was created


def test_misspelled_type_is_refused_with_a_suggestion(vcsim: Vcsim) -> None:
    s, rec = connect_sim(vcsim, recorder=True)
    assert rec is not None
    with s:
        sent = len(rec.log)
        with pytest.raises(errors.UsageError, match="did you mean VirtualMachine"):
            spherekit.fetch(s, "VirtualMachin", ["name"])
        with pytest.raises(errors.UsageError, match="did you mean VirtualMachine"):
            spherekit.fetch(s, "virtualmachine", ["name"])
        with pytest.raises(errors.UsageError, match="did you mean HostSystem"):
            spherekit.fetch(s, "HostSytem", [])
        assert rec.names(sent) == []


# --- tasks -----------------------------------------------------------------------------------


def test_power_off_and_on_through_typed_handles(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, _ = connect_sim(sim)
    with s:
        ref = vms_by_name(s)["DC0_H0_VM0"]
        vm = vim.VirtualMachine(s, ref)
        task = vm.PowerOffVM_Task()
        assert isinstance(task, vim.Task) and task.ref.type == "Task"
        assert wait_for_task(s, task, timeout=10) is None  # PowerOffVM_Task returns void
        assert power_state(s, ref) == "poweredOff"
        assert wait_for_task(s, vm.PowerOnVM_Task(), timeout=10) is None
        assert power_state(s, ref) == "poweredOn"


def test_failed_task_raises_its_fault_with_fields(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, _ = connect_sim(sim)
    with s:
        vm = vim.VirtualMachine(s, vms_by_name(s)["DC0_H0_VM0"])  # powered on
        task = vm.PowerOnVM_Task()
        with pytest.raises(faults.InvalidState) as caught:  # the WSDL base catches it
            wait_for_task(s, task, timeout=10)
        fault = caught.value
        assert isinstance(fault, faults.InvalidPowerState)
        assert fault.requestedState == vim.VirtualMachinePowerState.poweredOn
        assert fault.existingState == vim.VirtualMachinePowerState.poweredOn
        assert fault.method_name == "VirtualMachine.powerOn"  # the task's descriptionId
        # vcsim departure: the localizedMessage is Go's "%T" of the fault
        assert fault.msg == "*types.InvalidPowerState"
        assert "InvalidPowerState" in str(fault)


def test_wait_for_many_tasks_at_once_with_progress(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, _ = connect_sim(sim)
    with s:
        refs = list(vms_by_name(s).values())
        tasks = [vim.VirtualMachine(s, r).PowerOffVM_Task() for r in refs]
        seen: list[tuple[MoRef, int | None, str | None]] = []
        results = wait_for_tasks(
            s, tasks, timeout=10, on_progress=lambda t, pct, st: seen.append((t, pct, st))
        )
        assert results == [None] * len(refs)
        # vcsim departure: its tasks finish inside the creating call and never report
        # progress, so each task is heard of once, already successful
        assert {t for t, _, st in seen if st == "success"} == {t.ref for t in tasks}
        assert {v["runtime.powerState"] for _, v in spherekit.fetch(
            s, "VirtualMachine", ["runtime.powerState"]
        )} == {"poweredOff"}  # fmt: skip

        # a mix of success and failure, without raising: the fault in its slot
        vm0, vm1 = (vim.VirtualMachine(s, r) for r in refs[:2])
        mixed = wait_for_tasks(
            s, [vm0.PowerOnVM_Task(), vm1.PowerOffVM_Task()], timeout=10, raise_errors=False
        )
        assert mixed[0] is None
        assert isinstance(mixed[1], faults.InvalidPowerState)
        assert mixed[1].existingState == "poweredOff"


def test_create_snapshot_returns_a_snapshot(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, _ = connect_sim(sim)
    with s:
        ref = vms_by_name(s)["DC0_H0_VM1"]
        task = vim.VirtualMachine(s, ref).CreateSnapshot_Task(
            name="before-upgrade", memory=False, quiesce=False, description="interop"
        )
        snap = wait_for_task(s, task, timeout=10)
        assert isinstance(snap, MoRef) and snap.type == "VirtualMachineSnapshot"
        ((_, values),) = [
            r for r in spherekit.fetch(s, "VirtualMachine", ["snapshot"]) if r[0] == ref
        ]
        info = values["snapshot"]
        assert info.currentSnapshot == snap
        (tree,) = info.rootSnapshotList
        assert (tree.snapshot, tree.name, tree.description) == (snap, "before-upgrade", "interop")


def test_reconfigure_changes_cpus_and_memory(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, _ = connect_sim(sim)
    with s:
        ref = vms_by_name(s)["DC0_C0_RP0_VM0"]
        spec = vim.VirtualMachineConfigSpec(numCPUs=4, memoryMB=64)
        wait_for_task(s, vim.VirtualMachine(s, ref).ReconfigVM_Task(spec=spec), timeout=10)
        paths = ["config.hardware.numCPU", "config.hardware.memoryMB"]
        rows = dict(spherekit.fetch(s, "VirtualMachine", paths))
        assert rows[ref] == {"config.hardware.numCPU": 4, "config.hardware.memoryMB": 64}
        others = [v for r, v in rows.items() if r != ref]
        assert all(v["config.hardware.numCPU"] == 1 for v in others)


def test_destroy_removes_the_vm(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory()
    s, r = connect_sim(sim, recorder=True)
    assert r is not None
    with s:
        ref = vms_by_name(s)["DC0_H0_VM0"]
        vm = vim.VirtualMachine(s, ref)
        wait_for_task(s, vm.PowerOffVM_Task(), timeout=10)
        mark = len(r.log)
        wait_for_task(s, vm.Destroy_Task(), timeout=10)
        # one filter, on the task: none on the VM it destroyed (vcsim departure: it accepts a
        # filter on a deleted object; a real vCenter answers ManagedObjectNotFound)
        assert r.names(mark) == [
            "Destroy_Task",
            "CreatePropertyCollector",
            "CreateFilter",
            "WaitForUpdatesEx",
            "DestroyPropertyCollector",
        ]
        assert set(vms_by_name(s)) == DEFAULT_VMS - {"DC0_H0_VM0"}
        with pytest.raises(find.NotFound):
            find.by_path(s, "/DC0/vm/DC0_H0_VM0")
        with pytest.raises(faults.ManagedObjectNotFound):  # the handle now points at nothing
            vm.PowerOnVM_Task()


# --- wait_for and Watch ----------------------------------------------------------------------


def test_wait_for_after_a_power_off(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(cluster=0)
    s, _ = connect_sim(sim)
    with s:
        vm = vim.VirtualMachine(s, vms_by_name(s)["DC0_H0_VM0"])
        vm.PowerOffVM_Task()
        state = spherekit.wait_for(
            s, vm, "runtime.powerState", lambda v: v == "poweredOff", timeout=10
        )
        assert state == "poweredOff"


def test_wait_for_sees_a_change_made_while_it_waits(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(cluster=0)
    s, _ = connect_sim(sim)
    with s:
        vm = vim.VirtualMachine(s, vms_by_name(s)["DC0_H0_VM1"])
        timer = threading.Timer(0.5, vm.PowerOffVM_Task)  # the session is thread-safe
        timer.start()
        start = time.monotonic()
        try:
            state = spherekit.wait_for(
                s, vm, "runtime.powerState", lambda v: v == "poweredOff", timeout=10
            )
        finally:
            timer.join()
        assert state == "poweredOff"
        assert time.monotonic() - start < 5  # pushed, not found by a slow poll


def test_wait_for_times_out_quickly(session: spherekit.Session) -> None:
    vm = vms_by_name(session)["DC0_H0_VM0"]
    start = time.monotonic()
    with pytest.raises(errors.WaitTimeout, match="did not reach the expected value") as caught:
        spherekit.wait_for(session, vm, "runtime.powerState", lambda v: v == "suspended", timeout=1)
    assert time.monotonic() - start < 3
    assert "poweredOn" in str(caught.value)  # the last value seen
    # a deadline passing is not a transport failure, but it is a builtin TimeoutError
    assert isinstance(caught.value, TimeoutError)
    assert not isinstance(caught.value, errors.TransportError)


def test_watch_sees_a_power_op(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(cluster=0)
    s, _ = connect_sim(sim)
    with s:
        ref = vms_by_name(s)["DC0_H0_VM0"]
        with spherekit.Watch(s) as w:
            w.watch(ref, ["runtime.powerState", "summary.runtime.powerState"])
            first = w.wait(5)
            assert first is not None
            (enter,) = [u for fs in first.filterSet or () for u in fs.objectSet or ()]
            assert (enter.obj, enter.kind) == (ref, "enter")
            assert {c.name: c.val for c in enter.changeSet or ()}["runtime.powerState"] == (
                "poweredOn"
            )

            vim.VirtualMachine(s, ref).PowerOffVM_Task()
            changes: dict[str, Any] = {}
            for update in w.updates(timeout=5):
                assert (update.obj, update.kind) == (ref, "modify")
                changes.update({c.name: c.val for c in update.changeSet or ()})
                if changes.get("runtime.powerState") == "poweredOff":
                    break
            assert changes["runtime.powerState"] == "poweredOff"


# --- find ------------------------------------------------------------------------------------


def test_find_by_path(session: spherekit.Session) -> None:
    vms = vms_by_name(session)
    assert find.by_path(session, "/DC0/vm/DC0_H0_VM0") == vms["DC0_H0_VM0"]
    assert find.by_path(session, "DC0/vm/DC0_H0_VM0/") == vms["DC0_H0_VM0"]
    assert find.by_path(session, "/") == session.content.rootFolder
    assert find.by_path(session, "/DC0/host/DC0_C0").type == "ClusterComputeResource"
    assert find.by_path(session, "/DC0/datastore/LocalDS_0").type == "Datastore"


def test_find_by_uuid(session: spherekit.Session) -> None:
    rows = spherekit.fetch(session, "VirtualMachine", ["name", "config.uuid"])
    for ref, values in rows:
        assert find.by_uuid(session, values["config.uuid"]) == ref
    dc = find.by_path(session, "/DC0")
    assert find.by_uuid(session, rows[0][1]["config.uuid"], datacenter=dc) == rows[0][0]
    missing = str(uuid.uuid4())
    with pytest.raises(find.NotFound, match=f"no VM with UUID {missing}"):
        find.by_uuid(session, missing)


def test_find_by_ip_finds_nothing_without_guest_ips(session: spherekit.Session) -> None:
    # vcsim departure: no VM reports a guest IP (no VMware Tools); see the next test
    with pytest.raises(find.NotFound, match=r"no VM with IP address 10\.0\.0\.1"):
        find.by_ip(session, "10.0.0.1")
    # hosts do have addresses: every simulated host's vmk0 is 127.0.0.1
    assert find.by_ip(session, "127.0.0.1", vm=False).type == "HostSystem"


def test_find_by_ip_with_an_injected_guest_ip(vcsim_factory: VcsimFactory) -> None:
    sim = vcsim_factory(cluster=0)
    s, _ = connect_sim(sim)
    with s:
        ref = vms_by_name(s)["DC0_H0_VM1"]
        # vcsim-only: the extraConfig key "SET.guest.ipAddress" sets guest.ipAddress
        spec = vim.VirtualMachineConfigSpec(
            extraConfig=[vim.OptionValue(key="SET.guest.ipAddress", value="10.20.30.40")]
        )
        wait_for_task(s, vim.VirtualMachine(s, ref).ReconfigVM_Task(spec=spec), timeout=10)
        assert spherekit.wait_for(s, ref, "guest.ipAddress", timeout=5) == "10.20.30.40"
        assert find.by_ip(s, "10.20.30.40") == ref
        assert find.by_ip(s, "10.20.30.40", datacenter=find.by_path(s, "/DC0")) == ref


def test_find_child(session: spherekit.Session) -> None:
    dc = find.by_path(session, "/DC0")
    assert find.child(session, session.content.rootFolder, "DC0") == dc
    vm_folder = find.child(session, dc, "vm")
    assert vm_folder.type == "Folder"
    assert find.child(session, vm_folder, "DC0_H0_VM1") == find.by_path(
        session, "/DC0/vm/DC0_H0_VM1"
    )
    with pytest.raises(find.NotFound, match="has no child named 'nope'"):
        find.child(session, vm_folder, "nope")


def test_not_found_messages(session: spherekit.Session) -> None:
    with pytest.raises(find.NotFound) as caught:
        find.by_path(session, "/DC0/vm/no-such-vm")
    message = str(caught.value)
    assert "'/DC0/vm/no-such-vm'" in message and "/DC0/vm/NAME" in message
    assert isinstance(caught.value, LookupError)  # catchable as the builtin too
    with pytest.raises(errors.UsageError):
        find.by_path(session, "  ")
