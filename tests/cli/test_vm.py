"""``spherekit vm create|clone|reconfigure`` against the local lab: --json fields, --plan,
the journal, and bad input refused with one line, the right exit code and nothing made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.cli.conftest import Run, as_json

MADE = {"name", "moref", "action", "source", "linked", "snapshot", "power_state", "placement",
        "planned"}  # fmt: skip
PLACEMENT = {"datacenter", "compute", "host", "pool", "datastore", "folder", "network"}


def _names(cli: Run) -> list[str]:
    return sorted(r["name"] for r in as_json(cli("vm", "ls", "--json", "--templates")))


def _journal(cli: Run) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = as_json(cli("journal", "--json", "-n", "1000"))
    return out


def _refused(p: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert p.returncode == code, (p.returncode, p.stderr)
    assert p.stdout == ""
    lines = [ln for ln in p.stderr.strip().splitlines() if "using the local lab" not in ln]
    assert len(lines) == 1, p.stderr
    assert words in lines[0], lines[0]
    assert "Traceback" not in p.stderr


def _dump(cli: Run, vm: str) -> dict[str, Any]:
    doc: dict[str, Any] = as_json(cli("vm", "spec", "dump", vm, "--json"))
    return doc


def test_create_makes_the_vm_it_is_asked_for(cli: Run) -> None:
    doc = as_json(cli("vm", "create", "web-1", "--cpus", "2", "--memory", "2048", "--disk", "4",
                      "--network", "VM Network", "--guest-id", "ubuntu64Guest", "--on",
                      "--json"))  # fmt: skip
    assert set(doc) == MADE and set(doc["placement"]) == PLACEMENT
    assert doc["action"] == "create" and doc["name"] == "web-1"
    assert doc["moref"].startswith("vm-") and doc["power_state"] == "poweredOn"
    assert doc["planned"] == [] and doc["source"] is None and doc["linked"] is False
    assert doc["placement"]["network"] == "VM Network" and doc["placement"]["datacenter"] == "DC0"
    info = as_json(cli("vm", "info", "web-1", "--json"))
    assert (info["moref"], info["cpus"], info["memory_mb"]) == (doc["moref"], 2, 2048)
    assert (info["power_state"], info["guest_id"]) == ("poweredOn", "ubuntu64Guest")
    spec = _dump(cli, "web-1")
    assert [(d["sizeGB"], d["provisioning"]) for d in spec["disks"]] == [(4, "thin")]
    assert [(n["network"], n["adapter"]) for n in spec["nics"]] == [("VM Network", "vmxnet3")]
    assert spec["placement"]["host"] == doc["placement"]["host"]
    # a VM without disk or NIC, placed by path; the next command still sees it
    p = cli("vm", "create", "bare", "--host", "/DC0/host/DC0_H0/DC0_H0", "--folder", "/DC0/vm")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("created bare (vm-") and "host DC0_H0" in p.stdout
    bare = _dump(cli, "bare")
    assert (bare["disks"], bare["nics"], bare["powerState"]) == ([], [], "poweredOff")
    assert (bare["hardware"]["cpus"], bare["hardware"]["memoryMB"]) == (1, 1024)
    assert bare["guestId"] == "otherGuest64"
    methods = [(e["operation"], e["method"], e["outcome"]) for e in _journal(cli)]
    assert ("apply web-1", "CreateVM_Task", "started") in methods
    assert ("apply web-1", "PowerOnVM_Task", "started") in methods
    assert ("apply bare", "CreateVM_Task", "started") in methods


def test_create_plan_lists_the_calls_and_makes_nothing(cli: Run) -> None:
    before = _names(cli)
    doc = as_json(cli("vm", "create", "planned-1", "--disk", "2", "--on", "--plan", "--json"))
    assert doc["moref"] is None and doc["power_state"] == "poweredOn"
    calls = doc["planned"]
    assert [c.split("(")[0] for c in calls] == ["CreateVM_Task", "PowerOnVM_Task"]
    assert "'name': 'planned-1'" in calls[0]
    p = cli("vm", "create", "planned-1", "--plan")
    assert p.returncode == 0 and p.stdout.startswith("CreateVM_Task(")
    assert _names(cli) == before
    assert {e["outcome"] for e in _journal(cli)} == {"planned"}


def test_create_refuses_bad_input_and_makes_nothing(cli: Run) -> None:
    assert cli("vm", "create", "taken").returncode == 0
    before = _names(cli)
    _refused(cli("vm", "create", "taken"), 5, "a VM named 'taken' already exists")
    _refused(cli("vm", "create", "DC0_H0_VM0", "--cpus", "2"), 5, "already exists")
    _refused(cli("vm", "create", "x", "--cpus", "0"), 2, "argument --cpus")
    _refused(cli("vm", "create", "x", "--cpus", "-1"), 2, "argument --cpus")
    _refused(cli("vm", "create", "x", "--memory", "0"), 2, "argument --memory")
    _refused(cli("vm", "create", "x", "--memory", "1001"), 2, "multiple of 4")
    _refused(cli("vm", "create", "x", "--disk", "0"), 2, "argument --disk")
    _refused(cli("vm", "create", "x", "--disk", "-5"), 2, "argument --disk")
    _refused(cli("vm", "create", "x", "--network", "nope"), 2, "unknown network 'nope'")
    _refused(cli("vm", "create", "x", "--datastore", "nope"), 2, "unknown datastore 'nope'")
    _refused(cli("vm", "create", "x", "--host", "nope"), 2, "unknown host 'nope'")
    _refused(cli("vm", "create", "x", "--guest-id", "ubuntu64"), 2, "ubuntu64Guest")
    _refused(cli("vm", "create", "x", "--folder", "/DC0/vm/nothing"), 3, "nothing at")
    assert _names(cli) == before
    creates = [e for e in _journal(cli) if e["method"] == "CreateVM_Task"]
    assert len(creates) == 1  # only "taken"


def test_clone_full_and_linked(cli: Run) -> None:
    src = as_json(cli("vm", "create", "src", "--disk", "1", "--network", "VM Network", "--json"))
    doc = as_json(cli("vm", "clone", "src", "copy", "--on", "--json"))
    assert set(doc) == MADE and doc["action"] == "clone"
    assert doc["source"] == src["moref"] and doc["moref"] not in (None, src["moref"])
    assert (doc["linked"], doc["snapshot"], doc["power_state"]) == (False, None, "poweredOn")
    # next to its source unless told otherwise
    for role in ("host", "pool", "datastore", "folder"):
        assert doc["placement"][role] == src["placement"][role], role
    copy = _dump(cli, "copy")
    assert copy["powerState"] == "poweredOn" and [d["sizeGB"] for d in copy["disks"]] == [1]
    assert [n["network"] for n in copy["nics"]] == ["VM Network"]
    moved = as_json(cli("vm", "clone", "/DC0/vm/src", "moved", "--host", "DC0_H0", "--json"))
    assert moved["placement"]["host"] == "DC0_H0"
    assert as_json(cli("vm", "info", "moved", "--json"))["power_state"] == "poweredOff"
    # linked: from the current snapshot, refused without one
    _refused(cli("vm", "clone", "src", "thin", "--linked"), 2, "has no snapshot")
    snap = as_json(cli("snapshot", "create", "src", "base", "--json"))
    plan = as_json(cli("vm", "clone", "src", "thin", "--linked", "--plan", "--json"))
    assert plan["moref"] is None and len(plan["planned"]) == 1
    assert "createNewChildDiskBacking" in plan["planned"][0]
    assert snap["snapshot"] in plan["planned"][0]
    linked = as_json(cli("vm", "clone", "src", "thin", "--linked", "--json"))
    assert linked["linked"] is True and linked["snapshot"] == snap["snapshot"]
    clones = [e for e in _journal(cli) if e["method"] == "CloneVM_Task"]
    assert [(e["operation"], e["outcome"]) for e in clones] == [
        ("clone src to copy", "started"),
        ("clone src to moved", "started"),
        ("clone src to thin", "planned"),
        ("clone src to thin", "started"),
    ]


def test_clone_refuses_bad_input_and_makes_nothing(cli: Run) -> None:
    assert cli("vm", "create", "src").returncode == 0
    before = _names(cli)
    _refused(cli("vm", "clone", "no-such-vm", "c"), 3, "no VirtualMachine named 'no-such-vm'")
    _refused(cli("vm", "clone", "src", "src"), 5, "a VM named 'src' already exists")
    _refused(cli("vm", "clone", "src", "c", "--datastore", "nope"), 2, "unknown datastore")
    _refused(cli("vm", "clone", "src", "c", "--pool", "nope"), 2, "unknown resource pool")
    _refused(cli("vm", "clone", "src", "c", "--datacenter", "nope"), 2, "unknown datacenter")
    _refused(cli("vm", "clone", "src", "x" * 81), 2, "at most 80")
    assert _names(cli) == before
    assert not [e for e in _journal(cli) if e["method"] == "CloneVM_Task"]


def test_reconfigure(cli: Run) -> None:
    assert cli("vm", "create", "r", "--disk", "2").returncode == 0
    plan = as_json(cli("vm", "reconfigure", "r", "--cpus", "2", "--plan", "--json"))
    assert set(plan) == {"vm", "moref", "changes", "changed", "planned"}
    assert plan["changes"] == ["CPUs 1 -> 2"] and plan["planned"][0].startswith("ReconfigVM_Task(")
    assert as_json(cli("vm", "info", "r", "--json"))["cpus"] == 1
    doc = as_json(cli("vm", "reconfigure", "r", "--cpus", "4", "--memory", "4096",
                      "--disk-grow", "6", "--add-nic", "VM Network", "--add-nic", "DC0_DVPG0",
                      "--json"))  # fmt: skip
    assert doc["changed"] is True and doc["planned"] == []
    assert doc["changes"] == [
        "CPUs 1 -> 4",
        "memory 1024 MB -> 4096 MB",
        "Hard disk 1 2 GiB -> 6 GiB",
        "add vmxnet3 NIC on 'VM Network'",
        "add vmxnet3 NIC on 'DC0_DVPG0'",
    ]
    spec = _dump(cli, "r")
    assert (spec["hardware"]["cpus"], spec["hardware"]["memoryMB"]) == (4, 4096)
    assert [d["sizeGB"] for d in spec["disks"]] == [6]
    assert [n["network"] for n in spec["nics"]] == ["VM Network", "DC0_DVPG0"]
    p = cli("vm", "reconfigure", "r", "--disk-grow", "Hard disk 1=8")
    assert p.returncode == 0 and p.stdout.strip() == "r: Hard disk 1 6 GiB -> 8 GiB"
    same = as_json(cli("vm", "reconfigure", "r", "--cpus", "4", "--json"))
    assert (same["changed"], same["changes"]) == (False, [])
    reconfigs = [e for e in _journal(cli) if e["method"] == "ReconfigVM_Task"]
    assert [e["outcome"] for e in reconfigs] == ["planned", "started", "started"]


def test_reconfigure_refuses_bad_input_and_changes_nothing(cli: Run) -> None:
    assert cli("vm", "create", "r", "--disk", "4").returncode == 0
    before = _dump(cli, "r")
    _refused(cli("vm", "reconfigure", "r"), 2, "nothing to change")
    _refused(cli("vm", "reconfigure", "r", "--disk-grow", "2"), 2, "cannot shrink")
    _refused(cli("vm", "reconfigure", "r", "--disk-grow", "0"), 2, "argument --disk-grow")
    _refused(cli("vm", "reconfigure", "r", "--disk-grow", "Hard disk 9=10"), 2, "no disk")
    _refused(cli("vm", "reconfigure", "r", "--cpus", "0"), 2, "argument --cpus")
    _refused(cli("vm", "reconfigure", "r", "--memory", "-4"), 2, "argument --memory")
    _refused(cli("vm", "reconfigure", "r", "--add-nic", "nope"), 2, "no network 'nope'")
    _refused(cli("vm", "reconfigure", "no-such-vm", "--cpus", "2"), 3, "no VirtualMachine")
    assert _dump(cli, "r") == before
    assert not [e for e in _journal(cli) if e["method"] == "ReconfigVM_Task"]


def test_task_commands_draw_nothing_in_a_pipe(cli: Run) -> None:
    doc = as_json(cli("vm", "power", "off", "DC0_H0_VM0", "--json"))
    assert doc[0]["after"] == "poweredOff"
    p = cli("vm", "clone", "DC0_H0_VM0", "c", "--on")
    assert p.returncode == 0 and "\r" not in p.stderr and "%" not in p.stderr


def test_vm_module_imports_no_compute_layer(tmp_path: Path) -> None:
    """``vm ls`` must start fast: the vm noun's module (and what it imports) leaves the
    compute layer, transfers, YAML and the simulator to the handlers that need them."""
    code = (
        "import sys, types, importlib\n"
        "pkg = types.ModuleType('spherekit.cli'); pkg.__path__ = [sys.argv[1]]\n"
        "sys.modules['spherekit.cli'] = pkg\n"
        "for m in ('vm', 'node', 'snapshot', 'image', 'datastore', 'guest', 'output'):\n"
        "    importlib.import_module('spherekit.cli.' + m)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('spherekit.compute', "
        "'spherekit.transfer', 'spherekit.sim', 'yaml'))))\n"
    )
    import spherekit.cli.vm as vm

    p = subprocess.run([sys.executable, "-c", code, str(Path(vm.__file__).parent)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.replace("'", '"')) == []


def test_spec_apply_removes_unlisted_disks_only_with_prune(cli: Run, tmp_path: Path) -> None:
    assert cli("vm", "create", "pr", "--disk", "1", "--json").returncode == 0
    doc = _dump(cli, "pr")
    assert len(doc["disks"]) == 1
    doc["disks"] = []
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _refused(cli("vm", "spec", "apply", str(path)), 2, "prune")  # data is never lost silently
    assert len(_dump(cli, "pr")["disks"]) == 1
    planned = as_json(cli("vm", "spec", "plan", str(path), "--prune", "--json"))
    assert any("ReconfigVM_Task" in c for c in planned["calls"])
    assert len(_dump(cli, "pr")["disks"]) == 1  # a plan writes nothing
    done = as_json(cli("vm", "spec", "apply", str(path), "--prune", "--json"))
    assert done["action"] == "reconcile"
    assert _dump(cli, "pr")["disks"] == []
