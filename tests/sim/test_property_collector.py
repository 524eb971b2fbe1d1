"""PropertyCollector retrieval: traversal semantics, nested paths, paging, faults."""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    ObjectSpec,
    PropertyFilterSpec,
    PropertySpec,
    RetrieveOptions,
    SelectionSpec,
    TraversalSpec,
)
from spherekit.sim import methods
from tests.sim.conftest import container_view

VMS = {"DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"}


def inventory_traversal() -> list[SelectionSpec]:
    """The classic recursive spec (as pyVmomi scripts write it): every entity from the root."""

    def ts(name: str, mtype: str, path: str, *more: str) -> TraversalSpec:
        return TraversalSpec(
            name=name,
            type=mtype,
            path=path,
            skip=False,
            selectSet=[SelectionSpec(name=n) for n in more],
        )

    return [
        ts("folder", "Folder", "childEntity", "folder", "dcVm", "dcHost", "dcDs", "dcNet", "cr"),
        ts("dcVm", "Datacenter", "vmFolder", "folder"),
        ts("dcHost", "Datacenter", "hostFolder", "folder"),
        ts("dcDs", "Datacenter", "datastoreFolder", "folder"),
        ts("dcNet", "Datacenter", "networkFolder", "folder"),
        ts("cr", "ComputeResource", "host"),
    ]


def call_retrieve(s: spherekit.Session, spec: PropertyFilterSpec, **opts: Any) -> Any:
    return s.call(
        s.content.propertyCollector,
        "RetrievePropertiesEx",
        specSet=[spec],
        options=RetrieveOptions(**opts),
    )


def test_recursive_traversal_with_named_selection_specs(session: spherekit.Session) -> None:
    root = session.content.rootFolder
    spec = PropertyFilterSpec(
        propSet=[
            PropertySpec(type="VirtualMachine", pathSet=["name"]),
            PropertySpec(type="HostSystem", pathSet=["name"]),
        ],
        objectSet=[ObjectSpec(obj=root, skip=True, selectSet=inventory_traversal())],
    )
    rows = retrieve(session, spec)
    by_type: dict[str, set[str]] = {}
    for ref, values in rows:
        by_type.setdefault(ref.type, set()).add(values["name"])
    assert by_type == {
        "VirtualMachine": VMS,
        "HostSystem": {"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"},
    }


def test_skip_and_objects_without_a_property_spec(session: spherekit.Session) -> None:
    root = session.content.rootFolder
    folder_only = PropertySpec(type="Folder", pathSet=["name"])
    # skip=False on the ObjectSpec: the root itself is selected too
    spec = PropertyFilterSpec(
        propSet=[folder_only],
        objectSet=[ObjectSpec(obj=root, skip=False, selectSet=inventory_traversal())],
    )
    names = sorted(v["name"] for _r, v in retrieve(session, spec))
    assert names == ["Datacenters", "datastore", "host", "network", "vm"]
    # objects that no PropertySpec applies to (datacenters, VMs...) are not reported
    assert all(r.type == "Folder" for r, _v in retrieve(session, spec))
    # a skipped traversal still walks through: only what lies beyond is selected
    dc_skip = TraversalSpec(
        type="Folder",
        path="childEntity",
        skip=True,
        selectSet=[TraversalSpec(type="Datacenter", path="vmFolder", skip=False)],
    )
    spec = PropertyFilterSpec(
        propSet=[PropertySpec(type="ManagedEntity", pathSet=["name"])],
        objectSet=[ObjectSpec(obj=root, skip=True, selectSet=[dc_skip])],
    )
    assert [v["name"] for _r, v in retrieve(session, spec)] == ["vm"]


def test_nested_paths_and_unset_values(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    ((_ref, values),) = retrieve(
        session,
        filter_spec(
            "VirtualMachine",
            [
                "config.hardware.numCPU",
                "summary.runtime.powerState",
                "guest.ipAddress",
                "snapshot",
                "config.files.vmPathName",
            ],
            [vm],
        ),
    )
    assert values == {
        "config.hardware.numCPU": 1,
        "summary.runtime.powerState": "poweredOn",
        "config.files.vmPathName": "[LocalDS_0] DC0_H0_VM0/DC0_H0_VM0.vmx",
    }


def test_all_properties(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM1")
    spec = PropertyFilterSpec(
        propSet=[PropertySpec(type="VirtualMachine", all=True)],
        objectSet=[ObjectSpec(obj=vm)],
    )
    ((_ref, values),) = retrieve(session, spec)
    assert {"name", "config", "runtime", "summary", "parent", "datastore"} <= set(values)
    assert "snapshot" not in values  # unset


def test_invalid_paths_and_types_are_faults(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")

    def spec(mtype: str, path: str) -> PropertyFilterSpec:
        return PropertyFilterSpec(
            propSet=[PropertySpec(type=mtype, pathSet=[path])], objectSet=[ObjectSpec(obj=vm)]
        )

    for bad in ("nosuch", "config.hardware.nosuch", "config.hardware.device.key", "name.x"):
        with pytest.raises(faults.InvalidProperty) as info:
            call_retrieve(session, spec("VirtualMachine", bad))
        assert info.value.name == bad
    with pytest.raises(faults.InvalidType):
        call_retrieve(session, spec("NoSuchType", "name"))
    undefined = PropertyFilterSpec(
        propSet=[PropertySpec(type="VirtualMachine", pathSet=["name"])],
        objectSet=[ObjectSpec(obj=vm, selectSet=[SelectionSpec(name="nowhere")])],
    )
    with pytest.raises(faults.InvalidArgument):
        call_retrieve(session, undefined)
    gone = PropertyFilterSpec(
        propSet=[PropertySpec(type="VirtualMachine", pathSet=["name"])],
        objectSet=[ObjectSpec(obj=MoRef("VirtualMachine", "vm-999"))],
    )
    with pytest.raises(faults.ManagedObjectNotFound) as missing:
        call_retrieve(session, gone)
    assert missing.value.obj == MoRef("VirtualMachine", "vm-999")
    # ... unless the spec asks for missing objects to be left out
    gone.reportMissingObjectsInResults = True
    assert call_retrieve(session, gone) is None


def test_paging_with_continue_and_cancel(session: spherekit.Session) -> None:
    paged = spherekit.fetch(session, "VirtualMachine", ["name"], page_size=1)
    assert {v["name"] for _r, v in paged} == VMS
    assert paged == spherekit.fetch(session, "VirtualMachine", ["name"])
    view = container_view(session, session.content.rootFolder, ["VirtualMachine"])
    spec = filter_spec("VirtualMachine", ["name"], [view], view=True)
    first = call_retrieve(session, spec, maxObjects=3)
    assert len(first.objects) == 3 and first.token
    pc = session.content.propertyCollector
    rest = session.call(pc, "ContinueRetrievePropertiesEx", token=first.token)
    assert len(rest.objects) == 1 and rest.token is None
    with pytest.raises(faults.InvalidArgument):
        session.call(pc, "ContinueRetrievePropertiesEx", token=first.token)
    second = call_retrieve(session, spec, maxObjects=2)
    session.call(pc, "CancelRetrievePropertiesEx", token=second.token)
    with pytest.raises(faults.InvalidArgument):
        session.call(pc, "ContinueRetrievePropertiesEx", token=second.token)
    with pytest.raises(faults.InvalidArgument):
        call_retrieve(session, spec, maxObjects=0)


def test_legacy_retrieve_properties(session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    result = session.call(
        session.content.propertyCollector,
        "RetrieveProperties",
        specSet=[filter_spec("VirtualMachine", ["name"], [vm])],
    )
    assert len(result) == 1
    assert result[0].obj == vm
    assert result[0].propSet[0].name == "name" and result[0].propSet[0].val == "DC0_H0_VM0"


def test_managed_entity_properties_through_a_base_type(session: spherekit.Session) -> None:
    rows = spherekit.fetch(session, "ManagedEntity", ["name", "overallStatus"])
    assert len(rows) > 20
    assert all(v["overallStatus"] == "green" for _r, v in rows)


def test_properties_that_cannot_be_read_go_to_missing_set(
    session: spherekit.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(ctx: Any, ref: MoRef) -> Any:
        raise faults.NoPermission(object=ref, privilegeId="VirtualMachine.Interact.Guest")

    monkeypatch.setitem(methods._COMPUTED, ("VirtualMachine", "guest"), unreadable)
    with pytest.raises(spherekit.property.MissingProperties) as info:
        spherekit.fetch(session, "VirtualMachine", ["name", "guest.ipAddress"])
    _ref, path, fault = info.value.missing[0]
    assert path == "guest.ipAddress" and isinstance(fault, faults.NoPermission)
    assert fault.privilegeId == "VirtualMachine.Interact.Guest"
    rows = spherekit.fetch(
        session, "VirtualMachine", ["name", "guest.ipAddress"], ignore_missing=True
    )
    assert sorted(v["name"] for _r, v in rows) == sorted(VMS)
