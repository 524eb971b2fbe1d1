"""Nodes against govmomi's vcsim (an interop peer nobody here wrote): make an image, create
nodes (full and linked clones, sized, with cloud-init guestinfo), list them with one bulk
read, destroy them. vcsim's guests report no IP, so these runs use ``wait_ip=False``; and
vcsim 0.24.2's CloneVM_Task applies only ``extraConfig`` of ``spec.config`` (not CPU or
memory), so sizes are tested against spherekit.sim only.
vcsim is a required peer: without Go or govmomi the fixture fails, it never skips.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import spherekit
from spherekit import find
from spherekit.compute import Journal
from spherekit.compute.endpoint import read_one
from spherekit.compute.groups import list_groups
from spherekit.compute.images import find_image, mark_template
from spherekit.compute.nodes import destroy_nodes, get_node, list_nodes
from spherekit.compute.nodes_create import create_nodes
from spherekit.session import Session
from tests.interop.vcsim import Vcsim, connect_to


@pytest.fixture(scope="module")
def vcsim_session(vcsim: Vcsim) -> Iterator[Session]:
    """The module's vcsim, with DC0_H0_VM1 made an image (off, a snapshot, a template)."""
    with connect_to(vcsim) as s:
        vm = find.by_path(s, "/DC0/vm/DC0_H0_VM1")
        spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
        task = s.call(vm, "CreateSnapshot_Task", name="base", memory=False, quiesce=False)
        spherekit.wait_for_task(s, task)
        mark_template(s, "DC0_H0_VM1")
        yield s


def _vms(s: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(s, "VirtualMachine", ["name"]))


def test_create_list_destroy(vcsim_session: Session) -> None:
    s, j = vcsim_session, Journal()
    before = _vms(s)
    image = find_image(s, "DC0_H0_VM1")
    assert image.template and image.snapshot is not None
    nodes = create_nodes(s, image, 2, "vc", user_data="#cloud-config\n", wait_ip=False,
                         journal=j)  # fmt: skip
    assert [n.name for n in nodes] == ["vc-1", "vc-2"]
    assert [n.power_state for n in nodes] == ["poweredOn"] * 2
    extra = read_one(s, nodes[0].ref, ["config.extraConfig"])["config.extraConfig"]
    assert {o.key: o.value for o in extra}["guestinfo.userdata.encoding"] == "gzip+base64"
    listed = list_nodes(s, "vc")
    assert [n.ref for n in listed] == [n.ref for n in nodes]
    assert get_node(s, str(nodes[0].instance_uuid)).ref == nodes[0].ref
    (group,) = [g for g in list_groups(s) if g.key == "vc"]
    assert len(list_nodes(s, group)) == 2
    done = destroy_nodes(s, group="vc", journal=j)
    assert sorted(done.destroyed) == sorted(n.ref for n in nodes)
    assert len(done.folders_removed) == 1
    assert destroy_nodes(s, nodes, journal=j).already_gone == [n.ref for n in nodes]
    assert _vms(s) == before


def test_linked_clone_and_rollback(vcsim_session: Session) -> None:
    s, j = vcsim_session, Journal()
    before = _vms(s)
    (node,) = create_nodes(s, "DC0_H0_VM1", 1, "vclinked", linked=True, wait_ip=False)
    destroy_nodes(s, [node])
    assert _vms(s) == before
    plan = create_nodes(s, "DC0_H0_VM1", 2, "vcplan", plan=True, journal=j)
    assert [c.method for c in plan.planned][:2] == ["CreateFolder", "CloneVM_Task"]
    assert _vms(s) == before and not [g for g in list_groups(s) if g.key == "vcplan"]
