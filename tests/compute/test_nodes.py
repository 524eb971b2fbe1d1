"""Nodes: create (full / linked, cloud-init, customization, IP wait), list, destroy, plan,
bad input, and failures injected at each step of create."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from typing import Any

import pytest

import spherekit
from spherekit import faults, find, vim
from spherekit.compute import Journal, OperationFailed
from spherekit.compute.cloudinit import GUESTINFO_MAX_BYTES, Customization, UserDataTooLarge
from spherekit.compute.groups import folder_name, group_key, list_groups
from spherekit.compute.images import Image, ImageNotFound
from spherekit.compute.nodes import (
    CustomizationFailed,
    destroy_nodes,
    get_node,
    list_nodes,
    usable_ip,
)
from spherekit.compute.nodes_create import _ovf, create_nodes
from spherekit.compute.placement import PlacementError, PlacementSpec
from spherekit.compute.sizes import SizeError
from spherekit.errors import UsageError
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.wire.transport import Request, Response

IMAGE = "DC0_H0_VM1"


def _make_image(session: Session, name: str, *, snapshot: bool) -> None:
    vm = find.by_path(session, f"/DC0/vm/{name}")
    spherekit.wait_for_task(session, session.call(vm, "PowerOffVM_Task"))
    if snapshot:
        task = session.call(vm, "CreateSnapshot_Task", name="base", memory=False, quiesce=False)
        spherekit.wait_for_task(session, task)
    session.call(vm, "MarkAsTemplate")


@pytest.fixture
def image(session: Session) -> str:
    _make_image(session, IMAGE, snapshot=True)
    return IMAGE


def _vms(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"]))


def _folders(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "Folder", ["name"]))


def _extra(session: Session, ref: spherekit.MoRef) -> dict[str, str]:
    rows = spherekit.fetch(session, "VirtualMachine", ["config.extraConfig", "name"])
    (values,) = [v for r, v in rows if r == ref]
    return {o.key: o.value for o in values.get("config.extraConfig") or []}


class Recording:
    """A transport wrapper that records the SOAP methods sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.methods: list[str] = []

    def send(self, request: Request, timeout: float | None = None) -> Response:
        self.methods.append(request.soap_method or "")
        resp: Response = self.inner.send(request, timeout=timeout)
        return resp

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def recorder(session: Session) -> Iterator[Recording]:
    rec = Recording(session._transport)
    session._transport = rec
    yield rec
    session._transport = rec.inner


# -- creating ------------------------------------------------------------------------------


def test_create_three_nodes_with_cloud_init_waits_for_their_ips(
    session: Session, journal: Journal, image: str
) -> None:
    secret = "#cloud-config\nchpasswd: {list: 'root:hunter2'}\n"
    nodes = create_nodes(
        session, image, 3, "web", user_data=secret, meta_data={"tier": "front"},
        size="2x4096", journal=journal,
    )  # fmt: skip
    assert [n.name for n in nodes] == ["web-1", "web-2", "web-3"]
    ips = [n.ip for n in nodes]
    assert all(ips) and len(set(ips)) == 3
    assert all(n.power_state == "poweredOn" and n.cpus == 2 and n.memory_mb == 4096 for n in nodes)
    assert len({n.instance_uuid for n in nodes}) == 3
    where = nodes.placement
    assert where is not None and where.names["folder"] == "sk-web"
    assert {"compute", "host", "datastore"} <= set(where.chosen)
    extra = _extra(session, nodes[0].ref)
    assert extra["guestinfo.userdata.encoding"] == "gzip+base64"
    assert gzip.decompress(base64.b64decode(extra["guestinfo.userdata"])).decode() == secret
    meta = gzip.decompress(base64.b64decode(extra["guestinfo.metadata"])).decode()
    assert '"local-hostname": "web-1"' in meta and '"tier": "front"' in meta
    assert "hunter2" not in "".join(e.to_json() for e in journal.entries())
    listed = list_nodes(session, "web")
    assert [(n.ref, n.ip, n.group) for n in listed] == [(n.ref, n.ip, "web") for n in nodes]
    again = create_nodes(session, image, 1, "web", wait_ip=False, journal=journal)
    assert again[0].name == "web-4"  # names never collide


def test_linked_clone_uses_the_images_snapshot(session: Session, image: str) -> None:
    (node,) = create_nodes(session, image, 1, "linked", linked=True, wait_ip=False)
    rows = spherekit.fetch(session, "VirtualMachine", ["config.hardware.device"])
    devices = next(v for r, v in rows if r == node.ref)["config.hardware.device"]
    disk = next(d for d in devices if isinstance(d, vim.VirtualDisk))
    assert isinstance(disk.backing, vim.VirtualDiskFlatVer2BackingInfo)
    assert disk.backing.parent is not None


def test_linked_clone_needs_a_snapshot(session: Session, journal: Journal) -> None:
    _make_image(session, IMAGE, snapshot=False)
    with pytest.raises(UsageError, match="no snapshot"):
        create_nodes(session, IMAGE, 1, "g", linked=True, journal=journal)
    assert journal.entries() == []


def test_disk_grows_and_static_customization_sets_the_ip(session: Session, image: str) -> None:
    custom = Customization(ips=["10.9.0.7"], gateway="10.9.0.1", dns_servers=["10.9.0.2"])
    (node,) = create_nodes(session, image, 1, "db", size={"disk_gb": 3}, customization=custom)
    assert node.ip == "10.9.0.7"
    rows = spherekit.fetch(session, "VirtualMachine", ["config.hardware.device"])
    devices = next(v for r, v in rows if r == node.ref)["config.hardware.device"]
    disk = next(d for d in devices if isinstance(d, vim.VirtualDisk))
    assert disk.capacityInBytes == 3 * 1024**3


def test_plan_lists_the_calls_and_writes_nothing(
    session: Session, journal: Journal, image: str
) -> None:
    vms, folders = _vms(session), _folders(session)
    nodes = create_nodes(session, image, 2, "plan", plan=True, journal=journal)
    assert [c.method for c in nodes.planned] == [
        "CreateFolder", "CloneVM_Task", "CloneVM_Task", "PowerOnVM_Task", "PowerOnVM_Task",
    ]  # fmt: skip
    assert nodes.planned[1].args["name"] == "plan-1"
    assert all(n.ref.value.startswith("planned-") for n in nodes)
    assert (_vms(session), _folders(session)) == (vms, folders)
    assert {e.outcome for e in journal.entries()} == {"planned"}


# -- failures: undo leaves nothing behind, the journal tells it ------------------------------


@pytest.mark.parametrize(
    ("rules", "fault"),
    [
        pytest.param(  # the 2nd clone's task fails (the 1st passes the delay rule)
            [{"method": "CloneVM_Task", "stage": "task", "delay": 0.01, "count": 1},
             {"method": "CloneVM_Task", "stage": "task", "fault": "InsufficientResourcesFault",
              "count": 1}],
            faults.InsufficientResourcesFault, id="clone-task",
        ),
        pytest.param(
            [{"method": "PowerOnVM_Task", "stage": "task", "fault": "InvalidState", "count": 1}],
            faults.InvalidState, id="power-on",
        ),
        pytest.param(
            [{"method": "CreateFolder", "fault": "NoPermission"}], faults.NoPermission,
            id="create-folder",
        ),
    ],
)  # fmt: skip
def test_failure_at_each_step_leaves_nothing_behind(
    session: Session,
    sim: Simulator,
    journal: Journal,
    image: str,
    rules: list[dict[str, Any]],
    fault: type[Exception],
) -> None:
    vms, folders = _vms(session), _folders(session)
    for rule in rules:
        sim.control.add_fault(rule)
    with pytest.raises(OperationFailed) as caught:
        create_nodes(session, image, 3, "boom", parallel=1, journal=journal)
    assert isinstance(caught.value.cause, fault)
    assert (_vms(session), _folders(session)) == (vms, folders)
    entries = journal.entries()
    assert any(e.outcome.startswith("error") for e in entries)
    undo = [e.target for e in entries if e.method == "undo"]
    assert all(e.outcome == "undo ok" for e in entries if e.method == "undo")
    if fault is not faults.NoPermission:
        assert any(t.startswith("destroy node boom-") for t in undo)
        assert undo[-1].startswith("remove group folder sk-boom")
    else:
        assert undo == []
    assert list_groups(session) == []


def test_a_failed_clone_among_parallel_ones_undoes_all(
    session: Session, sim: Simulator, journal: Journal, image: str
) -> None:
    vms, folders = _vms(session), _folders(session)
    sim.control.set_task_delays({"CloneVM_Task": 0.05})
    sim.control.add_fault({"method": "CloneVM_Task", "stage": "task", "fault": "NoDiskSpace",
                           "count": 1})  # fmt: skip
    with pytest.raises(OperationFailed) as caught:
        create_nodes(session, image, 5, "par", parallel=3, journal=journal)
    assert isinstance(caught.value.cause, faults.NoDiskSpace)
    assert (_vms(session), _folders(session)) == (vms, folders)
    clones = [e for e in journal.entries() if e.method == "CloneVM_Task"]
    assert 3 <= len(clones) <= 5  # no new clone starts once one failed


class BadSecond(Customization):
    """LinuxPrep with a host name the guest refuses, for the second node."""

    def spec(self, index: int, node: str, count: int) -> vim.CustomizationSpec:
        spec = super().spec(index, node, count)
        if index == 1:
            assert isinstance(spec.identity, vim.CustomizationLinuxPrep)
            spec.identity.hostName = vim.CustomizationFixedName(name="not_a_host_name!")
        return spec


def test_customization_failure_keeps_that_node_for_diagnosis(
    session: Session, journal: Journal, image: str
) -> None:
    vms = _vms(session)
    with pytest.raises(OperationFailed) as caught:
        create_nodes(session, image, 2, "cust", customization=BadSecond(), journal=journal)
    assert isinstance(caught.value.cause, CustomizationFailed)
    assert "cust-2" in caught.value.cause.failed
    assert any("cust-2" in k for k in caught.value.kept)
    assert _vms(session) == sorted([*vms, "cust-2"])  # cust-1 removed, cust-2 kept
    assert [n.name for n in list_nodes(session, "cust")] == ["cust-2"]
    assert "kept for diagnosis" in str(caught.value)


def test_ip_wait_times_out_and_undoes(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    spec = vim.VirtualMachineConfigSpec(
        extraConfig=[vim.OptionValue(key="guestinfo.sim.tools", value="none")]
    )
    spherekit.wait_for_task(session, session.call(vm, "ReconfigVM_Task", spec=spec))
    _make_image(session, "DC0_H0_VM0", snapshot=False)  # a guest without tools: no IP, ever
    vms = _vms(session)
    with pytest.raises(OperationFailed) as caught:
        create_nodes(session, "DC0_H0_VM0", 2, "slow", timeout=0.5, journal=journal)
    assert isinstance(caught.value.cause, spherekit.errors.WaitTimeout)
    assert "slow-1, slow-2" in str(caught.value.cause)
    assert _vms(session) == vms and list_groups(session) == []


# -- bad input: a clear error before anything is written -------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"image": "DC0_H0_VM"}, ImageNotFound, "did you mean DC0_H0_VM1"),
        ({"image": "DC0_H0_VM0"}, UsageError, "is a VM, not a template"),
        ({"placement": PlacementSpec(datastore="nope")}, PlacementError, "LocalDS_0"),
        ({"placement": PlacementSpec(cluster="DC0_C1")}, PlacementError, "did you mean DC0_C0"),
        ({"placement": PlacementSpec(cluster="DC0_C0", host="DC0_H0")}, PlacementError,
         "not in cluster"),
        ({"network": "no-such-net"}, PlacementError, "unknown network"),
        ({"user_data": "x" * (GUESTINFO_MAX_BYTES * 4)}, UserDataTooLarge, "at most"),
        ({"size": {"disk_gb": 0}}, SizeError, "positive"),
        ({"size": "-1x1024"}, SizeError, "unknown size"),
        ({"size": {"memory_mb": 1001}}, SizeError, "multiple of 4"),
        ({"count": 0}, UsageError, "count"),
        ({"group": " "}, UsageError, "group name"),
        ({"ovf_properties": {"x": "1"}}, UsageError, "no OVF properties"),
        ({"customization": Customization(ips=["10.0.0.1", "10.0.0.2"])}, UsageError, "2 IPs"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_any_write(
    session: Session,
    journal: Journal,
    image: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    import random

    if kwargs.get("user_data"):  # incompressible, so gzip cannot save it
        kwargs["user_data"] = random.Random(1).randbytes(GUESTINFO_MAX_BYTES * 2)
    args: dict[str, Any] = {"image": image, "count": 1, "group": "bad"} | kwargs
    vms, folders = _vms(session), _folders(session)
    with pytest.raises(error, match=match):
        create_nodes(session, journal=journal, **args)
    assert journal.entries() == []
    assert (_vms(session), _folders(session)) == (vms, folders)


def test_shrinking_disk_is_refused(session: Session, journal: Journal, image: str) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    rows = spherekit.fetch(session, "VirtualMachine", ["config.hardware.device"])
    disk = next(d for r, v in rows if r == vm for d in v["config.hardware.device"]
                if isinstance(d, vim.VirtualDisk))  # fmt: skip
    disk.capacityInBytes, disk.capacityInKB = 4 * 1024**3, 4 * 1024**2
    grow = vim.VirtualMachineConfigSpec(
        deviceChange=[
            vim.VirtualDeviceConfigSpec(
                operation=vim.VirtualDeviceConfigSpecOperation.edit, device=disk
            )
        ]
    )
    spherekit.wait_for_task(session, session.call(vm, "ReconfigVM_Task", spec=grow))
    _make_image(session, "DC0_H0_VM0", snapshot=False)  # a 4 GB disk
    with pytest.raises(SizeError, match="cannot shrink"):
        create_nodes(session, "DC0_H0_VM0", 1, "g", size={"disk_gb": 2}, journal=journal)
    with pytest.raises(SizeError, match="cannot be grown"):
        create_nodes(session, image, 1, "g", size={"disk_gb": 2}, linked=True, journal=journal)
    assert journal.entries() == []


def test_explicit_placement_is_used_and_reported(session: Session, image: str) -> None:
    spec = PlacementSpec(host="DC0_H0", datastore="LocalDS_0", network="VM Network")
    (node,) = create_nodes(session, image, 1, "placed", placement=spec, wait_ip=False)
    assert node.placement is not None
    assert node.placement.names["compute"] == "DC0_H0"
    assert "host" not in node.placement.chosen and "network" not in node.placement.chosen
    rows = spherekit.fetch(session, "VirtualMachine", ["runtime.host", "network"])
    values = next(v for r, v in rows if r == node.ref)
    assert values["runtime.host"] == node.placement.host
    assert [n.value for n in values["network"]] == ["network-7"]


# -- listing, getting, destroying ------------------------------------------------------------


def test_list_nodes_is_one_bulk_read(session: Session, image: str, recorder: Recording) -> None:
    create_nodes(session, image, 3, "bulk", wait_ip=False)
    create_nodes(session, image, 1, "other", wait_ip=False)
    for group in ("bulk", None, list_groups(session)[0]):
        recorder.methods.clear()
        nodes = list_nodes(session, group)
        assert recorder.methods.count("RetrievePropertiesEx") == 1, recorder.methods
        assert "ContinueRetrievePropertiesEx" not in recorder.methods
    assert len(list_nodes(session)) == 4
    node = get_node(session, "bulk-2", group="bulk")
    assert get_node(session, node.ref.value).instance_uuid == node.instance_uuid
    assert get_node(session, str(node.instance_uuid)).ref == node.ref
    assert nodes  # the Group form read the folder of group "bulk"


def test_destroy_is_idempotent_and_removes_the_empty_group(
    session: Session, journal: Journal, image: str
) -> None:
    vms = _vms(session)
    nodes = create_nodes(session, image, 2, "tmp")
    first = destroy_nodes(session, [nodes[0]], journal=journal)
    assert first.destroyed == [nodes[0].ref] and first.folders_removed == []
    again = destroy_nodes(session, [nodes[0], str(nodes[0].instance_uuid)], journal=journal)
    assert again.destroyed == [] and again.already_gone == [nodes[0].ref]
    plan = destroy_nodes(session, group="tmp", plan=True)
    assert [c.method for c in plan.planned] == ["PowerOffVM_Task", "Destroy_Task", "Destroy_Task"]
    rest = destroy_nodes(session, group="tmp", journal=journal)
    assert rest.destroyed == [nodes[1].ref] and len(rest.folders_removed) == 1
    assert _vms(session) == vms and list_groups(session) == []
    assert destroy_nodes(session, group="tmp").destroyed == []


# -- small pieces ----------------------------------------------------------------------------


def test_group_names_are_safe_and_collision_free() -> None:
    assert group_key("web") == "web"
    a, b = group_key("a b"), group_key("a_b")
    assert a != b and a.startswith("a-b-") and b == "a_b"
    long = group_key("x" * 200)
    assert len(folder_name("x" * 200)) <= 80 and len(long + "-9999") <= 80
    assert group_key("x" * 200) != group_key("x" * 201)
    assert group_key("éq/ui%pe") != group_key("éq-ui-pe")


def test_usable_ip_ignores_link_local_and_loopback() -> None:
    nic = vim.GuestNicInfo(ipAddress=["fe80::1", "169.254.3.4", "127.0.0.1", "2001:db8::5",
                                      "10.1.2.3"], connected=True, deviceConfigId=4000)  # fmt: skip
    assert usable_ip([nic]) == "10.1.2.3"
    assert usable_ip([], "169.254.1.1") is None
    assert usable_ip([vim.GuestNicInfo(ipAddress=["fe80::2", "2001:db8::5"], connected=True,
                                       deviceConfigId=1)]) == "2001:db8::5"  # fmt: skip


def test_ovf_properties_become_vapp_property_edits() -> None:
    # the spec itself (end to end on an imported image: test_ovf_properties.py); the
    # unknown-id refusal runs against the simulator above.
    image = Image(spherekit.MoRef("VirtualMachine", "vm-1"), "ovf", None, True,
                  ovf_properties={"hostname": 7, "dns": 8})  # fmt: skip
    spec = _ovf(image, {"hostname": "n1"})
    edits = [(p.operation, p.info) for p in spec.property or []]
    assert [(op, i.key, i.id, i.value) for op, i in edits if i is not None] == [
        (vim.ArrayUpdateOperation.edit, 7, "hostname", "n1")
    ]
    with pytest.raises(UsageError, match=r"no OVF properties \['nope'\].*it has: dns, hostname"):
        _ovf(image, {"nope": "1"})
