"""ViewManager: container views (type filter, recursion, containers) and list views."""

from __future__ import annotations

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.sim import entities
from tests.sim.conftest import Target, container_view, view_manager


def view_of(s: spherekit.Session, container: MoRef, types: list[str], recursive: bool) -> MoRef:
    return container_view(s, container, types, recursive)


def contents(s: spherekit.Session, view: MoRef) -> list[MoRef]:
    ((_ref, row),) = retrieve(s, filter_spec(view.type, ["view"], [view]))
    return list(row.get("view", []))


def names(s: spherekit.Session, refs: list[MoRef]) -> list[str]:
    if not refs:
        return []
    return [row["name"] for _r, row in retrieve(s, filter_spec("ManagedEntity", ["name"], refs))]


def test_type_filter_and_recursion(session: spherekit.Session) -> None:
    s = session
    root = s.content.rootFolder
    assert names(s, contents(s, view_of(s, root, ["Datacenter"], True))) == ["DC0"]
    # not recursive: only the root folder's direct children
    assert names(s, contents(s, view_of(s, root, [], False))) == ["DC0"]
    assert names(s, contents(s, view_of(s, root, ["VirtualMachine"], False))) == []
    # a base type matches its subtypes
    crs = names(s, contents(s, view_of(s, root, ["ComputeResource"], True)))
    assert crs == ["DC0_H0", "DC0_C0"]
    everything = contents(s, view_of(s, root, [], True))
    assert len(everything) == len(set(everything)) > 20


def test_containers(session: spherekit.Session) -> None:
    s = session
    host = find.by_path(s, "DC0/host/DC0_H0/DC0_H0")
    assert names(s, contents(s, view_of(s, host, ["VirtualMachine"], False))) == [
        "DC0_H0_VM0",
        "DC0_H0_VM1",
    ]
    cluster = find.by_path(s, "DC0/host/DC0_C0")
    in_cluster = names(s, contents(s, view_of(s, cluster, ["VirtualMachine"], True)))
    assert sorted(in_cluster) == ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]
    pool = find.by_path(s, "DC0/host/DC0_C0/Resources")
    assert sorted(names(s, contents(s, view_of(s, pool, ["VirtualMachine"], False)))) == [
        "DC0_C0_RP0_VM0",
        "DC0_C0_RP0_VM1",
    ]
    vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    with pytest.raises(faults.InvalidArgument):
        view_of(s, vm, [], True)
    with pytest.raises(faults.InvalidArgument):
        view_of(s, cluster, ["NoSuchType"], True)
    with pytest.raises(faults.ManagedObjectNotFound):
        view_of(s, MoRef("Folder", "group-v999"), [], True)


def test_views_are_live_and_listed(sim: Target, session: spherekit.Session) -> None:
    s = session
    folder = find.by_path(s, "DC0/vm")
    view = view_of(s, folder, ["VirtualMachine"], False)
    assert len(contents(s, view)) == 4
    reg = sim.backend.registry
    with reg.lock:
        ref = reg.new_ref("VirtualMachine")
        reg.add(ref, entities.entity("new", folder))
        reg.append(folder, "childEntity", ref)
    assert contents(s, view)[-1] == ref
    with reg.lock:
        reg.discard(folder, "childEntity", ref)
        reg.remove(ref)
    assert ref not in contents(s, view)
    mgr = s.content.viewManager
    assert mgr is not None
    ((_r, row),) = retrieve(s, filter_spec("ViewManager", ["viewList"], [mgr]))
    assert view in row["viewList"]
    s.call(view, "DestroyView")
    assert retrieve(s, filter_spec("ViewManager", ["viewList"], [mgr]))[0][1] == {}
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(view, "DestroyView")


def test_list_views(sim: Target, session: spherekit.Session) -> None:
    s = session
    a = find.by_path(s, "DC0/vm/DC0_H0_VM0")
    b = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    view = s.call(view_manager(s), "CreateListView", obj=[a])
    assert contents(s, view) == [a]
    missing = MoRef("VirtualMachine", "vm-999")
    assert s.call(view, "ModifyListView", add=[b, missing], remove=[a]) == [missing]
    assert contents(s, view) == [b]
    assert not s.call(view, "ResetListView", obj=[a, b])
    assert contents(s, view) == [a, b]
    with pytest.raises(faults.ManagedObjectNotFound):
        s.call(view_manager(s), "CreateListView", obj=[missing])
    # an object that goes away leaves the list
    with sim.backend.registry.lock:
        sim.backend.registry.remove(a)
    assert contents(s, view) == [b]
