"""Audit of issue 3, "the default inventory has the same shape and names as vcsim's VPX
model": the full list of entities by inventory path and type, read through pyVmomi from
govmomi's vcsim (default ``simulator.VPX()``) and from ``Simulator()``, must be the same.
Moref values may differ; paths, names and types may not, except:

- the uplink portgroup is named after its switch's moref (``DVS0-DVUplinks-<n>``, in both),
  so ``<n>`` is compared as a wildcard;
- departure: vcsim 0.24.2's switch is a plain ``DistributedVirtualSwitch``; vCenter creates
  a ``VmwareDistributedVirtualSwitch`` (its moref type, and what pyVmomi hands back), and
  so does spherekit.sim.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from spherekit.sim import Simulator, VpxModel
from tests.interop.vcsim import Vcsim, VcsimError
from tests.sim.pyvmomi_client import connected, vim, vmodl

pytestmark = pytest.mark.timeout(300)


def inventory(si: Any) -> set[tuple[str, str]]:
    """(inventory path, vim type) of every entity: one RetrievePropertiesEx over a view."""
    content = si.RetrieveContent()
    pc = vmodl.query.PropertyCollector
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ManagedEntity], True)
    try:
        spec = pc.FilterSpec(
            propSet=[pc.PropertySpec(type=vim.ManagedEntity, pathSet=["name", "parent"])],
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[pc.TraversalSpec(type=vim.view.ContainerView, path="view")],
                )
            ],
        )
        result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
        objects = list(result.objects)
        while result.token:
            result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
            objects += result.objects
    finally:
        view.DestroyView()
    rows = {o.obj._moId: (o.obj, {p.name: p.val for p in o.propSet}) for o in objects}
    root = content.rootFolder._moId

    def path(moid: str) -> str:
        _obj, props = rows[moid]
        parent = props.get("parent")
        if parent is None or parent._moId == root:
            return str(props["name"])
        return f"{path(parent._moId)}/{props['name']}"

    return {(path(m), type(obj).__name__.rpartition(".")[2]) for m, (obj, _p) in rows.items()}


def comparable(found: set[tuple[str, str]], switch: str) -> set[tuple[str, str]]:
    """The uplink portgroup's number as a wildcard; the switch's type checked and dropped."""
    out = set()
    for path, kind in found:
        if kind.endswith("DistributedVirtualSwitch"):
            assert kind == switch, (path, kind)
            kind = "switch"
        out.add((re.sub(r"-DVUplinks-\d+$", "-DVUplinks-*", path), kind))
    return out


def vcsim_inventory(**flags: Any) -> set[tuple[str, str]]:
    try:
        peer = Vcsim().start(**flags)
    except VcsimError as exc:
        pytest.fail(f"cannot start vcsim, the interop peer:\n{exc}", pytrace=False)
    try:
        with connected(peer.sdk_url) as si:
            return comparable(inventory(si), "DistributedVirtualSwitch")  # vcsim's departure
    finally:
        peer.stop()


def our_inventory(model: VpxModel | None = None) -> set[tuple[str, str]]:
    with Simulator(model, seed=1) as sim, connected(sim.sdk_url) as si:
        return comparable(inventory(si), "VmwareDistributedVirtualSwitch")  # as vCenter


def test_the_default_inventory_is_vcsims_vpx() -> None:
    theirs = vcsim_inventory()
    ours = our_inventory()
    assert ours == theirs, {"only vcsim": theirs - ours, "only spherekit": ours - theirs}
    paths = {p for p, _t in ours}
    assert {
        "DC0",
        "DC0/host/DC0_C0/DC0_C0_H0",
        "DC0/host/DC0_H0/DC0_H0",
        "DC0/vm/DC0_H0_VM0",
        "DC0/vm/DC0_C0_RP0_VM0",
        "DC0/datastore/LocalDS_0",
        "DC0/network/VM Network",
        "DC0/network/DC0_DVPG0",
        "DC0/host/DC0_C0/Resources",
        "DC0/network/DVS0-DVUplinks-*",
    } <= paths
    assert len(ours) == 22


def test_a_larger_model_has_the_same_shape_too() -> None:
    """Counts other than the defaults name things alike as well (vcsim's flags are main.go's)."""
    theirs = vcsim_inventory(dc=2, cluster=2, host=2, standalone_host=2, vm=1, ds=2, folder=1)
    ours = our_inventory(
        VpxModel(
            datacenters=2,
            clusters=2,
            hosts=2,
            standalone_hosts=2,
            vms=1,
            datastores=2,
            folders=1,
        )
    )
    assert ours == theirs, {"only vcsim": theirs - ours, "only spherekit": ours - theirs}
    paths = {p for p, _t in ours}
    # a datacenter in a folder gets a folder of the same name in each of its own; "VM Network"
    # stays in the datacenter's network folder (it comes with the datacenter)
    assert {"F0/DC1/vm/F0/DC1_H0_VM0", "F0/DC1/network/VM Network",
            "F0/DC1/network/F0/DVS0"} <= paths  # fmt: skip
