"""Power, reconfigure and snapshots against govmomi's vcsim (an interop peer nobody here
wrote). One vcsim for the module; each test uses its own VM of the default inventory.

vcsim departures these tests account for: its VMs report VMware Tools not running (so
guest shutdown and reboot take their fallbacks); device labels are ``disk-202-0`` style.
vcsim is a required peer: without Go or govmomi the fixture fails, it never skips.
"""

from __future__ import annotations

from typing import Any

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal
from spherekit.compute import power as pw
from spherekit.compute import reconfigure as rc
from spherekit.compute import snapshots as sn
from spherekit.compute.endpoint import read_one
from spherekit.session import Session

GiB = 1024**3


def _hw(s: Session, vm: Any) -> Any:
    return read_one(s, vm, ["config.hardware"])["config.hardware"]


def test_power_cycle_and_fallbacks(vcsim_session: Session) -> None:
    s, j = vcsim_session, Journal()
    vm = find.by_path(s, "/DC0/vm/DC0_H0_VM0")
    assert not pw.power_on(s, vm, j).changed
    result = pw.shutdown_guest(s, vm, j, timeout=5)
    assert result.methods == ["PowerOffVM_Task"] and result.fallback is not None
    assert pw.power_state(s, vm) == "poweredOff"
    assert pw.power_on(s, vm, j).after == "poweredOn"
    assert pw.reboot(s, vm, j).methods == ["ResetVM_Task"]
    assert pw.suspend(s, vm, j).after == "suspended"
    assert pw.power_on(s, vm, j).before == "suspended"
    assert pw.reset(s, vm, j).changed
    assert pw.power_off(s, vm, j).changed and pw.power_state(s, vm) == "poweredOff"
    assert {e.outcome for e in j.entries()} == {"started", "ok"}


def test_reconfigure(vcsim_session: Session) -> None:
    s, j = vcsim_session, Journal()
    vm = find.by_path(s, "/DC0/vm/DC0_H0_VM1")
    pw.power_off(s, vm, j)
    disk = next(d for d in _hw(s, vm).device if isinstance(d, vim.VirtualDisk))
    size = int(disk.capacityInBytes or int(disk.capacityInKB) * 1024)
    rc.reconfigure(s, vm, j, cpus=2, memory_mb=2048, grow_disks={0: 2})
    rc.add_nic(s, vm, j, "VM Network")
    rc.add_nic(s, vm, j, "DC0_DVPG0")
    hw = _hw(s, vm)
    assert (hw.numCPU, hw.memoryMB) == (2, 2048)
    grown = next(d for d in hw.device if isinstance(d, vim.VirtualDisk))
    assert grown.capacityInBytes == 2 * GiB > size
    backings = [type(d.backing).__name__ for d in hw.device if isinstance(d, vim.VirtualVmxnet3)]
    assert backings == ["VirtualEthernetCardNetworkBackingInfo",
                        "VirtualEthernetCardDistributedVirtualPortBackingInfo"]  # fmt: skip
    with pytest.raises(spherekit.UsageError, match="cannot shrink"):
        rc.grow_disk(s, vm, j, 0, 1)


def test_snapshots(vcsim_session: Session) -> None:
    s, j = vcsim_session, Journal()
    vm = find.by_path(s, "/DC0/vm/DC0_C0_RP0_VM0")
    sn.create(s, vm, j, "a", description="first")
    sn.create(s, vm, j, "b")
    t = sn.tree(s, vm)
    assert [x.name for x in t.walk()] == ["a", "b"]
    assert t.current is not None and t.current.name == "b"
    sn.revert(s, vm, j, "a")
    current = sn.tree(s, vm).current
    assert current is not None and current.name == "a"
    sn.revert(s, vm, j)
    sn.remove(s, vm, j, "a", children=True)
    assert sn.tree(s, vm).roots == []
    sn.create(s, vm, j, "c")
    assert sn.remove_all(s, vm, j).changed and sn.tree(s, vm).roots == []
