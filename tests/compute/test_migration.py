"""Migration: prechecks with readable blockers, migrate / relocate, refusals, ESX mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import spherekit
from spherekit import find
from spherekit.compute import Journal, OperationFailed
from spherekit.compute import migration as mg
from spherekit.compute.endpoint import NeedsVCenter, read_one, require_vcenter
from spherekit.errors import UsageError
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator, VpxModel

H0_POOL = "/DC0/host/DC0_H0/Resources"
C0_POOL = "/DC0/host/DC0_C0/Resources"


def _host_of(session: Session, vm: MoRef) -> MoRef:
    host: MoRef = read_one(session, vm, ["runtime.host"])["runtime.host"]
    return host


@pytest.fixture
def two_dcs() -> Iterator[Session]:
    """Two datacenters: a VM of DC0 cannot reach DC1's hosts, datastores or networks."""
    sim = Simulator(VpxModel(datacenters=2), seed=1)
    s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    yield s
    s.close()
    sim.stop()


@pytest.fixture
def esx() -> Iterator[Session]:
    sim = Simulator(esx=True, seed=1)
    s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    yield s
    s.close()
    sim.stop()


def test_migrate_within_the_cluster(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_C0_RP0_VM0")
    dest = "/DC0/host/DC0_C0/DC0_C0_H2"
    if _host_of(session, vm) == find.by_path(session, dest):
        dest = "/DC0/host/DC0_C0/DC0_C0_H1"
    check = mg.precheck(session, vm, host=dest)
    assert check.ok and str(check).endswith("no blockers")
    result = mg.migrate(session, vm, journal, host=dest)
    assert result.method == "MigrateVM_Task" and not result.forced
    assert _host_of(session, vm) == find.by_path(session, dest)
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("MigrateVM_Task", "started"), ("task", "ok")]  # fmt: skip


def test_relocate_to_the_cluster_and_plan(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM1")
    host = find.by_path(session, "/DC0/host/DC0_C0/DC0_C0_H0")
    planned = mg.relocate(session, vm, journal, host=host, pool=C0_POOL, plan=True)
    assert [c.method for c in planned.planned] == ["RelocateVM_Task"]
    assert _host_of(session, vm) != host
    mg.relocate(session, vm, journal, host=host, pool=C0_POOL,
                datastore="/DC0/datastore/LocalDS_0")  # fmt: skip
    assert _host_of(session, vm) == host
    assert [e.outcome for e in journal.entries()] == ["planned", "started", "ok"]


def test_a_blocked_migration_is_refused_with_its_blockers(
    session: Session, journal: Journal
) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    before = _host_of(session, vm)
    # a cluster host with the standalone host's pool: the pool is not the host's
    check = mg.precheck(session, vm, host="/DC0/host/DC0_C0/DC0_C0_H0", pool=H0_POOL)
    assert not check.ok
    assert [b.fault for b in check.errors] == ["InvalidArgument"]
    with pytest.raises(mg.MigrationBlocked, match=r"InvalidArgument.*force=True") as caught:
        mg.migrate(session, vm, journal, host="/DC0/host/DC0_C0/DC0_C0_H0", pool=H0_POOL)
    assert caught.value.check.errors == check.errors
    assert journal.entries() == [] and _host_of(session, vm) == before


def test_blockers_across_datacenters_and_force(two_dcs: Session, journal: Journal) -> None:
    s = two_dcs
    vm = find.by_path(s, "/DC0/vm/DC0_H0_VM0")  # powered on, disk on DC0's LocalDS_0
    check = mg.precheck(s, vm, host="/DC1/host/DC1_H0/DC1_H0")
    faults = sorted(b.fault for b in check.errors)
    assert faults == ["CannotAccessNetwork", "CannotAccessVmDisk", "DatacenterMismatch"]
    text = "\n".join(check.lines())
    assert "Virtual disk 'Hard disk 1' is not accessible on the host" in text
    assert "Network 'DC0_DVPG0'" in text
    with pytest.raises(mg.MigrationBlocked):
        mg.migrate(s, vm, journal, host="/DC1/host/DC1_H0/DC1_H0")
    assert journal.entries() == []
    # forced: the server refuses; the journal shows the attempt and its fault
    with pytest.raises(OperationFailed) as caught:
        mg.migrate(s, vm, journal, host="/DC1/host/DC1_H0/DC1_H0", force=True)
    assert type(caught.value.cause).__name__ in {"DatacenterMismatch", "CannotAccessVmDisk"}
    assert [e.outcome.split(":")[0] for e in journal.entries()] == ["started", "error"]
    assert _host_of(s, vm) == find.by_path(s, "/DC0/host/DC0_H0/DC0_H0")


def test_compatibility_of_vms_and_hosts(two_dcs: Session) -> None:
    s = two_dcs
    vm = find.by_path(s, "/DC0/vm/DC0_H0_VM0")
    checks = mg.compatibility(s, [vm], ["/DC0/host/DC0_C0/DC0_C0_H0", "/DC1/host/DC1_H0/DC1_H0"])
    assert [c.ok for c in checks] == [True, False]


def test_bad_targets(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    with pytest.raises(UsageError, match="unknown host '/DC0/host/nope'"):
        mg.migrate(session, vm, journal, host="/DC0/host/nope")
    with pytest.raises(UsageError, match="must be a HostSystem"):
        mg.migrate(session, vm, journal, host=H0_POOL)
    with pytest.raises(UsageError, match="needs a host or a pool"):
        mg.migrate(session, vm, journal)
    with pytest.raises(UsageError, match="say where"):
        mg.relocate(session, vm, journal)
    assert journal.entries() == []


def test_esx_fails_early_and_says_why(esx: Session, journal: Journal) -> None:
    vm = find.by_path(esx, "/ha-datacenter/vm/ha-host_VM0")
    host = find.by_path(esx, "/ha-datacenter/host/localhost.localdomain/localhost.localdomain")
    with pytest.raises(NeedsVCenter, match=r"migrating a VM needs vCenter.*HostAgent"):
        mg.migrate(esx, vm, journal, host=host)
    with pytest.raises(NeedsVCenter, match="relocating a VM needs vCenter"):
        mg.relocate(esx, vm, journal, host=host)
    with pytest.raises(NeedsVCenter):
        mg.precheck(esx, vm, host=host)
    with pytest.raises(NeedsVCenter, match="cloning needs vCenter"):
        require_vcenter(esx, "cloning")
    assert journal.entries() == []


def test_require_vcenter_passes_on_vcenter(session: Session) -> None:
    require_vcenter(session, "cloning")
