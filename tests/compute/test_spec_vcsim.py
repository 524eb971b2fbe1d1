"""The declarative VM spec against govmomi's vcsim: dump, apply (create), reconcile.

vcsim 0.24.2 departures these tests account for (spherekit.compute.spec copes with them):

- VMs it creates get the extraConfig key ``govcsim = TRUE``;
- devices it adds are labelled from their (negative) spec key, so several NICs share a
  label such as ``ethernet--7`` (apply matches repeated labels in order);
- CreateVM_Task with several NICs gives them all the last NIC's adapter type, so the
  VM is created with one NIC and the second is added by the reconcile.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from spherekit import find
from spherekit.compute import Journal, spec
from spherekit.session import Session
from tests.interop.vcsim import Vcsim, connect_to

#: vcsim marks the VMs it creates with this extraConfig key (a vCenter adds nothing)
VCSIM_EXTRA = {"govcsim": "TRUE"}


@pytest.fixture
def session(vcsim: Vcsim) -> Iterator[Session]:
    """A session of its own per test on the module's vcsim."""
    with connect_to(vcsim) as s:
        yield s


def _dump(session: Session, path: str) -> dict[str, Any]:
    return spec.dump(session, find.by_path(session, path))


def test_dump_of_a_vcsim_vm(session: Session) -> None:
    doc = _dump(session, "/DC0/vm/DC0_H0_VM0")
    assert doc["name"] == "DC0_H0_VM0"
    assert doc["placement"]["datacenter"] == "DC0"
    assert doc["placement"]["host"] == "DC0_H0"
    assert doc["placement"]["datastore"] == "LocalDS_0"
    assert doc["disks"][0]["datastore"] == "LocalDS_0"
    assert doc["nics"][0]["network"] == "DC0_DVPG0"
    cluster = _dump(session, "/DC0/vm/DC0_C0_RP0_VM0")
    assert cluster["placement"]["cluster"] == "DC0_C0"


def test_apply_creates_then_reconciles(session: Session) -> None:
    journal = Journal()
    doc = _dump(session, "/DC0/vm/DC0_H0_VM0")
    doc["name"] = "spec-vcsim"
    doc["powerState"] = "poweredOff"
    doc["extraConfig"] = {"app.role": "web"}
    doc["nics"] = [{"network": "VM Network", "adapter": "vmxnet3"}]
    doc.pop("cdroms")
    result = spec.apply(session, doc, journal)
    assert result.action == "create" and result.vm is not None
    got = spec.dump(session, result.vm)
    assert got["hardware"] == doc["hardware"]
    assert got["extraConfig"] == {"app.role": "web"} | VCSIM_EXTRA
    assert [n["network"] for n in got["nics"]] == ["VM Network"]
    assert [d["sizeGB"] for d in got["disks"]] == [d["sizeGB"] for d in doc["disks"]]
    assert spec.plan(session, got).calls == []  # idempotent

    changed = copy.deepcopy(got)
    changed["hardware"] |= {"cpus": 2, "memoryMB": 64}
    changed["extraConfig"] = {"app.role": "db"} | VCSIM_EXTRA
    changed["annotation"] = "reconciled"
    changed["disks"][0]["sizeGB"] += 1
    changed["nics"].append({"network": "DC0_DVPG0", "adapter": "e1000"})
    planned = spec.plan(session, changed)
    assert [c.method for c in planned.calls] == ["ReconfigVM_Task"]
    spec.apply(session, changed, journal)
    after = spec.dump(session, result.vm)
    assert after["hardware"]["cpus"] == 2 and after["hardware"]["memoryMB"] == 64
    assert after["extraConfig"] == {"app.role": "db"} | VCSIM_EXTRA
    assert after["annotation"] == "reconciled"
    assert after["disks"][0]["sizeGB"] == changed["disks"][0]["sizeGB"]
    assert [(n["network"], n["adapter"]) for n in after["nics"]] == [
        ("VM Network", "vmxnet3"), ("DC0_DVPG0", "e1000"),
    ]  # fmt: skip
    assert spec.plan(session, after).calls == []


def test_prune_removes_a_disk_the_document_does_not_list(session: Session) -> None:
    # vcsim 0.24.2 accepts RelocateVM_Task but ignores its disk locators (the disks stay
    # where they are), so moving disks is tested on spherekit.sim only
    journal = Journal()
    doc = _dump(session, "/DC0/vm/DC0_H0_VM0")
    doc["name"] = "spec-vcsim-prune"
    doc["powerState"] = "poweredOff"
    doc["nics"] = []
    doc.pop("cdroms")
    doc["disks"].append({"sizeGB": 1, "controller": doc["disks"][0]["controller"]})
    result = spec.apply(session, doc, journal)
    assert result.vm is not None
    got = spec.dump(session, result.vm)
    assert len(got["disks"]) == 2
    kept = copy.deepcopy(got)
    gone = kept["disks"].pop()
    with pytest.raises(spec.SpecError, match=f"does not list: {gone['label']!r}"):
        spec.plan(session, kept)
    planned = spec.plan(session, kept, prune=True)
    assert [str(c) for c in planned.changes] == [
        f"disks[{gone['label']}]: '1 GB on LocalDS_0' → (none)"
    ]
    spec.apply(session, kept, journal, prune=True)
    after = spec.dump(session, result.vm)
    assert [d["label"] for d in after["disks"]] == [got["disks"][0]["label"]]
    assert spec.plan(session, after).calls == []
