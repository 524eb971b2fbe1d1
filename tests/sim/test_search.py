"""SearchIndex: inventory paths, children, UUIDs."""

from __future__ import annotations

import pytest

import spherekit
from spherekit import find
from spherekit.schema.base import MoRef


def test_inventory_paths(session: spherekit.Session) -> None:
    s = session
    assert find.by_path(s, "/") == s.content.rootFolder
    assert find.by_path(s, "/DC0") == MoRef("Datacenter", "datacenter-2")
    assert find.by_path(s, "DC0/vm") == MoRef("Folder", "group-v3")
    vm = find.by_path(s, "/DC0/vm/DC0_C0_RP0_VM1")
    assert vm.type == "VirtualMachine"
    assert find.by_path(s, "/DC0/host/DC0_C0/DC0_C0_H2").type == "HostSystem"
    assert find.by_path(s, "/DC0/host/DC0_C0/Resources").type == "ResourcePool"
    assert find.by_path(s, "/DC0/network/DC0_DVPG0").type == "DistributedVirtualPortgroup"
    assert find.by_path(s, "/DC0/datastore/LocalDS_0").type == "Datastore"
    for missing in ("/DC1", "/DC0/vm/nope", "/DC0/vm/DC0_H0_VM0/deeper"):
        with pytest.raises(find.NotFound):
            find.by_path(s, missing)


def test_find_child(session: spherekit.Session) -> None:
    s = session
    dc = find.by_path(s, "/DC0")
    assert find.child(s, dc, "host") == find.by_path(s, "/DC0/host")
    with pytest.raises(find.NotFound):
        find.child(s, dc, "nope")


def test_find_by_uuid(session: spherekit.Session) -> None:
    s = session
    rows = spherekit.fetch(s, "VirtualMachine", ["config.uuid", "config.instanceUuid"])
    ref, row = rows[2]
    assert find.by_uuid(s, row["config.uuid"]) == ref
    assert find.by_uuid(s, row["config.uuid"].upper()) == ref
    assert find.by_uuid(s, row["config.instanceUuid"], instance_uuid=True) == ref
    dc = find.by_path(s, "/DC0")
    assert find.by_uuid(s, row["config.uuid"], datacenter=dc) == ref
    with pytest.raises(find.NotFound):
        find.by_uuid(s, row["config.instanceUuid"])  # not a BIOS UUID
    host, hrow = spherekit.fetch(s, "HostSystem", ["summary.hardware.uuid"])[0]
    assert find.by_uuid(s, hrow["summary.hardware.uuid"], vm=False) == host
    index = s.content.searchIndex
    assert index is not None
    all_ = s.call(index, "FindAllByUuid", uuid=row["config.uuid"], vmSearch=True)
    assert all_ == [ref]
