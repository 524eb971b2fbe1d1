"""The declarative VM spec against the simulator: dump, apply (create / reconcile), plan."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed, spec
from spherekit.compute.spec_doc import SpecError
from spherekit.session import Session
from spherekit.sim import Simulator

DEFAULT_VM = "/DC0/vm/DC0_H0_VM0"


def _names(session: Session) -> list[str]:
    return sorted(v["name"] for _, v in spherekit.fetch(session, "VirtualMachine", ["name"]))


def _default_doc(session: Session) -> dict[str, Any]:
    return spec.dump(session, find.by_path(session, DEFAULT_VM))


def _new_doc(session: Session, name: str) -> dict[str, Any]:
    """A powered-off copy of the default VM's document under ``name``."""
    doc = _default_doc(session)
    doc["name"] = name
    doc["powerState"] = "poweredOff"
    return doc


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_dump_of_the_default_vm(session: Session) -> None:
    doc = _default_doc(session)
    assert doc["name"] == "DC0_H0_VM0"
    assert doc["powerState"] == "poweredOn"
    assert doc["hardware"] == {"cpus": 1, "coresPerSocket": 1, "memoryMB": 32, "firmware": "bios"}
    assert doc["placement"] == {
        "datacenter": "DC0", "folder": "/", "host": "DC0_H0", "resourcePool": "Resources",
        "datastore": "LocalDS_0",
    }  # fmt: skip
    assert doc["disks"] == [
        {"label": "Hard disk 1", "sizeGB": 1, "datastore": "LocalDS_0", "provisioning": "thin",
         "controller": "pvscsi:0", "unit": 0}
    ]  # fmt: skip
    assert doc["nics"] == [
        {"label": "Network adapter 1", "network": "DC0_DVPG0", "adapter": "vmxnet3"}
    ]  # MAC left out: the server assigned it
    assert doc["cdroms"] == [{"label": "CD/DVD drive 1", "controller": "ide:0", "unit": 0}]
    assert doc["extraConfig"] == {}  # "nvram" is vSphere's own, not portable
    # portable: names, never morefs
    morefs = ("vm", "host", "datastore", "resgroup", "dvportgroup", "group")
    assert not [s for s in _strings(doc) if s.split("-")[0] in morefs]
    # the text forms read back as the same document
    assert spec.load(spec.to_yaml(doc)) == doc
    assert spec.load(spec.to_json(doc)) == doc == json.loads(spec.to_json(doc))


def test_dump_of_a_cluster_vm_names_the_cluster(session: Session) -> None:
    doc = spec.dump(session, find.by_path(session, "/DC0/vm/DC0_C0_RP0_VM0"))
    assert doc["placement"]["cluster"] == "DC0_C0"
    assert doc["placement"]["host"].startswith("DC0_C0_H")


def test_secrets_are_redacted_unless_asked_for(session: Session, journal: Journal) -> None:
    vm = find.by_path(session, DEFAULT_VM)
    extra = [vim.OptionValue(key="guestinfo.userdata", value="#cloud-config\npassword: x"),
             vim.OptionValue(key="guestinfo.userdata.encoding", value="plain"),
             vim.OptionValue(key="app.mode", value="blue")]  # fmt: skip
    spherekit.wait_for_task(
        session, session.call(vm, "ReconfigVM_Task", spec=vim.VirtualMachineConfigSpec(
            extraConfig=extra))
    )  # fmt: skip
    doc = spec.dump(session, vm)
    assert doc["extraConfig"] == {
        "guestinfo.userdata": "<redacted>", "guestinfo.userdata.encoding": "plain",
        "app.mode": "blue",
    }  # fmt: skip
    secret = spec.dump(session, vm, include_secrets=True)
    assert secret["extraConfig"]["guestinfo.userdata"].startswith("#cloud-config")
    # a redacted value is left as it is on the server: nothing to do
    assert spec.apply(session, doc, journal).action == "none"
    assert journal.entries() == []
    # ... but a new VM cannot be made from it
    doc["name"] = "needs-the-secret"
    with pytest.raises(SpecError, match="include_secrets=True"):
        spec.apply(session, doc, journal)
    assert "needs-the-secret" not in _names(session)


def test_round_trip(session: Session, journal: Journal) -> None:
    doc = _default_doc(session)
    doc["name"] = "round-trip"
    result = spec.apply(session, doc, journal)
    assert result.action == "create" and result.vm is not None
    again = spec.dump(session, result.vm)
    assert again == doc
    original = _default_doc(session)
    assert {k: x for k, x in again.items() if k != "name"} == {
        k: x for k, x in original.items() if k != "name"
    }


def test_apply_creates_a_vm_matching_the_doc_and_again_writes_nothing(
    session: Session, journal: Journal
) -> None:
    doc = _new_doc(session, "web-1")
    doc["hardware"] |= {"cpus": 4, "coresPerSocket": 2, "memoryMB": 2048, "firmware": "efi"}
    doc["annotation"] = "made from a document"
    doc["disks"].append({"sizeGB": 2.5, "provisioning": "thick", "controller": "lsilogic:1"})
    doc["nics"].append({"network": "VM Network", "adapter": "e1000", "mac": "00:50:56:00:00:01"})
    doc["cdroms"] = [{"iso": "[LocalDS_0] iso/boot.iso"}]
    doc["extraConfig"] = {"app.role": "web"}
    result = spec.apply(session, doc, journal)
    assert result.action == "create"
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("CreateVM_Task", "started"), ("task", "ok"),
    ]  # fmt: skip
    got = spec.dump(session, result.vm)  # type: ignore[arg-type]
    assert got["hardware"] == doc["hardware"]
    assert got["annotation"] == "made from a document"
    assert got["powerState"] == "poweredOff"
    assert got["extraConfig"] == {"app.role": "web"}
    assert got["disks"][1] == {
        "label": "Hard disk 2", "sizeGB": 2.5, "datastore": "LocalDS_0",
        "provisioning": "thick", "controller": "lsilogic:1", "unit": 0,
    }  # fmt: skip
    assert got["nics"][1] == {
        "label": "Network adapter 2", "network": "VM Network", "adapter": "e1000",
        "mac": "00:50:56:00:00:01",
    }  # fmt: skip
    assert got["cdroms"] == [{"label": "CD/DVD drive 1", "controller": "ide:0", "unit": 0,
                              "iso": "[LocalDS_0] iso/boot.iso"}]  # fmt: skip
    # the same document again, and the dump of the result: no writes
    before = len(journal.entries())
    assert spec.apply(session, doc, journal).action == "none"
    assert spec.apply(session, got, journal).action == "none"
    assert len(journal.entries()) == before


def _created(session: Session, journal: Journal, name: str = "app-1") -> dict[str, Any]:
    doc = _new_doc(session, name)
    doc["extraConfig"] = {"app.role": "web", "app.old": "1"}
    spec.apply(session, doc, journal)
    return spec.dump(session, find.by_path(session, f"/DC0/vm/{name}"))


def test_plan_lists_the_reconfigure_with_its_diff_then_apply_does_it(
    session: Session, journal: Journal
) -> None:
    doc = _created(session, journal)
    journal = Journal()
    changed = copy.deepcopy(doc)
    changed["hardware"] |= {"cpus": 2, "memoryMB": 64}
    changed["disks"][0]["sizeGB"] = 3
    changed["nics"].append({"network": "VM Network", "adapter": "e1000"})
    changed["extraConfig"] = {"app.role": "db", "app.new": "yes"}
    planned = spec.plan(session, changed)
    assert [c.method for c in planned.calls] == ["ReconfigVM_Task"]
    assert sorted(str(c) for c in planned.changes) == sorted([
        "hardware.cpus: 1 → 2",
        "hardware.memoryMB: 32 → 64",
        "disks[Hard disk 1].sizeGB: 1 → 3",
        "nics[1]: (none) → 'VM Network'",
        "extraConfig[app.role]: 'web' → 'db'",
        "extraConfig[app.new]: (none) → 'yes'",
        "extraConfig[app.old]: '1' → (none)",
    ])  # fmt: skip
    assert "writes:\n  ReconfigVM_Task on VirtualMachine:" in str(planned)
    assert spec.dump(session, planned.vm) == doc  # type: ignore[arg-type]  # nothing written
    assert journal.entries() == []
    result = spec.apply(session, changed, journal)
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("ReconfigVM_Task", "started"), ("task", "ok"),
    ]  # fmt: skip
    got = spec.dump(session, result.vm)  # type: ignore[arg-type]
    assert got["hardware"]["cpus"] == 2 and got["hardware"]["memoryMB"] == 64
    assert got["disks"][0]["sizeGB"] == 3
    assert [n["network"] for n in got["nics"]] == ["DC0_DVPG0", "VM Network"]
    assert got["extraConfig"] == {"app.role": "db", "app.new": "yes"}
    assert spec.plan(session, changed).calls == []


def test_nics_change_network_and_are_removed(session: Session, journal: Journal) -> None:
    doc = _created(session, journal)
    doc["nics"] = [{"label": "Network adapter 1", "network": "VM Network"}]
    planned = spec.plan(session, doc)
    assert [str(c) for c in planned.changes] == [
        "nics[Network adapter 1].network: 'DC0_DVPG0' → 'VM Network'"
    ]
    spec.apply(session, doc, journal)
    assert spec.dump(session, planned.vm)["nics"][0]["network"] == "VM Network"  # type: ignore[arg-type]
    doc["nics"] = []
    assert [str(c) for c in spec.plan(session, doc).changes] == [
        "nics[Network adapter 1]: 'VM Network' → (none)"
    ]
    spec.apply(session, doc, journal)
    assert spec.dump(session, planned.vm)["nics"] == []  # type: ignore[arg-type]


def test_shrinking_a_disk_is_refused_before_writing(session: Session, journal: Journal) -> None:
    doc = _created(session, journal)
    journal = Journal()
    doc["disks"][0]["sizeGB"] = 0.5
    doc["hardware"]["cpus"] = 2
    with pytest.raises(SpecError, match=r"disks\[Hard disk 1\].sizeGB: 0.5 GB is smaller"):
        spec.apply(session, doc, journal)
    assert journal.entries() == []
    assert spec.dump(session, find.by_path(session, "/DC0/vm/app-1"))["hardware"]["cpus"] == 1


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("nics", 0, "network"), "nowhere", "no network named 'nowhere'"),
        (("placement", "datacenter"), "DC9", "no datacenter named 'DC9'"),
        (("placement", "folder"), "/a/b", "no 'a' in '/a/b'"),
        (("placement", "resourcePool"), "Resources/x", "no 'x' in 'x'"),
        (("placement", "datastore"), "NoDS", "no datastore named 'NoDS'"),
        (("placement", "host"), "H9", "no host named 'H9'"),
        (("disks", 0, "sizeGB"), 0, "sizeGB must be a number of GB > 0"),
        (("hardware", "cpus"), -1, "cpus must be a whole number >= 1"),
    ],
)
def test_bad_documents_are_refused_before_writing(
    session: Session, journal: Journal, path: tuple[Any, ...], value: Any, message: str
) -> None:
    before = _names(session)
    for name in ("fresh", "DC0_H0_VM0"):  # create and reconcile
        doc = _default_doc(session)
        doc["name"] = name
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(SpecError, match=message):
            spec.apply(session, doc, journal)
    assert journal.entries() == []
    assert _names(session) == before


def test_unknown_fields_are_refused(session: Session, journal: Journal) -> None:
    doc = _default_doc(session)
    doc["hardware"]["cpu"] = 2
    with pytest.raises(SpecError, match="hardware has unknown field"):
        spec.plan(session, doc)


def test_a_running_vm_is_not_changed_cold_unless_the_doc_powers_it_off(
    session: Session, journal: Journal
) -> None:
    doc = _default_doc(session)
    doc["hardware"]["cpus"] = 2
    with pytest.raises(SpecError, match="CPU hot-add is not enabled"):
        spec.apply(session, doc, journal)
    assert journal.entries() == []
    doc["powerState"] = "poweredOff"
    planned = spec.plan(session, doc)
    assert [c.method for c in planned.calls] == ["PowerOffVM_Task", "ReconfigVM_Task"]
    spec.apply(session, doc, journal)
    got = spec.dump(session, find.by_path(session, DEFAULT_VM))
    assert (got["powerState"], got["hardware"]["cpus"]) == ("poweredOff", 2)
    doc["powerState"] = "poweredOn"
    assert [c.method for c in spec.plan(session, doc).calls] == ["PowerOnVM_Task"]


def test_failed_reconfigure_leaves_the_vm_unchanged(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    doc = _created(session, journal)
    journal = Journal()
    sim.control.add_fault({"method": "ReconfigVM_Task", "stage": "task", "fault": "InvalidState"})
    changed = copy.deepcopy(doc)
    changed["hardware"]["memoryMB"] = 128
    changed["disks"][0]["sizeGB"] = 4
    with pytest.raises(OperationFailed) as caught:
        spec.apply(session, changed, journal)
    assert type(caught.value.cause).__name__ == "InvalidState"
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("ReconfigVM_Task", "started"), ("task", "error: InvalidState"),
    ]  # fmt: skip
    assert spec.dump(session, find.by_path(session, "/DC0/vm/app-1")) == doc


def test_failed_power_on_after_create_destroys_the_new_vm(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    before = _names(session)
    doc = _new_doc(session, "doomed")
    doc["powerState"] = "poweredOn"
    fault = "InsufficientResourcesFault"
    sim.control.add_fault({"method": "PowerOnVM_Task", "stage": "task", "fault": fault})
    with pytest.raises(OperationFailed) as caught:
        spec.apply(session, doc, journal)
    assert "undone: destroy the new VM 'doomed'" in str(caught.value)
    assert _names(session) == before
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("CreateVM_Task", "started"), ("task", "ok"),
        ("PowerOnVM_Task", "started"), ("task", "error: InsufficientResourcesFault"),
        ("Destroy_Task", "started"), ("task", "ok"), ("undo", "undo ok"),
    ]  # fmt: skip


def test_a_failure_after_power_on_powers_the_new_vm_off_and_destroys_it(
    sim: Simulator, session: Session, journal: Journal
) -> None:
    before = _names(session)
    doc = _new_doc(session, "doomed-on")
    doc["powerState"] = "suspended"
    sim.control.add_fault({"method": "SuspendVM_Task", "stage": "task", "fault": "InvalidState"})
    with pytest.raises(OperationFailed) as caught:
        spec.apply(session, doc, journal)
    assert "undone: destroy the new VM 'doomed-on'" in str(caught.value)
    assert _names(session) == before
    assert [e.method for e in journal.entries() if e.method.endswith("_Task")][-2:] == [
        "PowerOffVM_Task", "Destroy_Task",
    ]  # fmt: skip


def test_a_name_taken_by_a_folder_is_a_collision(session: Session, journal: Journal) -> None:
    session.call(find.by_path(session, "/DC0/vm"), "CreateFolder", name="taken")
    doc = _new_doc(session, "taken")
    with pytest.raises(SpecError, match="already has a Folder named 'taken'"):
        spec.apply(session, doc, journal)
    assert journal.entries() == []


def test_create_in_a_subfolder_and_a_cluster_left_to_drs(
    session: Session, journal: Journal
) -> None:
    apps = session.call(find.by_path(session, "/DC0/vm"), "CreateFolder", name="apps")
    session.call(apps, "CreateFolder", name="web")
    doc = spec.dump(session, find.by_path(session, "/DC0/vm/DC0_C0_RP0_VM0"))
    doc["name"] = "in-cluster"
    doc["powerState"] = "poweredOff"
    doc["placement"]["folder"] = "/apps/web"
    del doc["placement"]["host"]  # the cluster's DRS chooses
    planned = spec.plan(session, doc)
    assert planned.action == "create"
    assert planned.calls[0].args["host"] is None
    result = spec.apply(session, doc, journal)
    got = spec.dump(session, result.vm)  # type: ignore[arg-type]
    assert got["placement"]["folder"] == "/apps/web"
    assert got["placement"]["cluster"] == "DC0_C0"
    assert got["placement"]["host"].startswith("DC0_C0_H")
    # the same name elsewhere is another VM: the folder is part of the identity
    assert spec.plan(session, doc).action == "none"
    doc["placement"]["folder"] = "/apps"
    assert spec.plan(session, doc).action == "create"
    # a document placing the VM elsewhere does not move it, and says so
    got["placement"]["host"] = next(
        h for h in ("DC0_C0_H0", "DC0_C0_H1") if h != got["placement"]["host"]
    )
    again = spec.plan(session, got)
    assert again.action == "none" and "apply does not migrate" in again.notes[0]


def test_secrets_applied_from_a_document_never_reach_the_journal(
    session: Session, journal: Journal
) -> None:
    doc = _new_doc(session, "with-secrets")
    doc["extraConfig"] = {"guestinfo.userdata": "#cloud-config\nchpasswd: hunter2",
                          "guestinfo.sim.password": "hunter2"}  # fmt: skip
    spec.apply(session, doc, journal)
    doc["extraConfig"]["guestinfo.sim.password"] = "hunter3"
    spec.apply(session, doc, journal)
    text = "\n".join(e.to_json() for e in journal.entries())
    assert "ReconfigVM_Task" in text and "hunter" not in text
    dumped = spec.dump(session, find.by_path(session, "/DC0/vm/with-secrets"))
    assert set(dumped["extraConfig"].values()) == {"<redacted>"}
