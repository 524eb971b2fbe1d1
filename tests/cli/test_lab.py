"""The CLI against the local lab: --json output, state kept between commands, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Run, as_json

DATA = Path(__file__).resolve().parents[1] / "sim" / "data"


def test_first_command_creates_the_lab_and_says_so(cli: Run, tmp_path: Path) -> None:
    p = cli("about", "--json")
    doc = as_json(p)
    assert doc["api_type"] == "VirtualCenter" and doc["target"] == "lab"
    assert doc["lab"] == str(tmp_path / "lab.db")
    lines = p.stderr.strip().splitlines()
    assert lines == [f"spherekit: using the local lab at {tmp_path / 'lab.db'} "
                     "(no SPHEREKIT_URL set)"]  # fmt: skip
    assert (tmp_path / "lab.db").exists()


def test_vm_ls_json_has_the_documented_fields(cli: Run) -> None:
    rows = as_json(cli("--json", "vm", "ls"))
    assert rows and set(rows[0]) == {"name", "moref", "path", "power_state", "template",
                                     "cpus", "memory_mb", "ip"}  # fmt: skip
    assert {r["path"] for r in rows} >= {"/DC0/vm/DC0_H0_VM0"}


def test_ls_find_tree(cli: Run) -> None:
    assert as_json(cli("ls", "/DC0", "--json"))[0] == {
        "path": "/DC0/datastore",
        "name": "datastore",
        "type": "Folder",
        "moref": "group-s5",
    }
    hosts = as_json(cli("find", "--type", "h", "--name", "DC0_C0_*", "--json"))
    assert [h["path"] for h in hosts] == [f"/DC0/host/DC0_C0/DC0_C0_H{i}" for i in range(3)]
    t = cli("tree", "/DC0/host")
    assert t.returncode == 0 and "└── DC0_H0 (ComputeResource)" in t.stdout


def test_state_persists_between_commands_and_writes_are_journaled(cli: Run, tmp_path: Path) -> None:
    img = as_json(cli("image", "import", str(DATA / "tiny.ova"), "--json"))
    assert img["uploaded"] and img["name"].startswith("tiny-")
    user_data = tmp_path / "ud.yaml"
    user_data.write_text("#cloud-config\nhostname: web\n")
    made = as_json(cli("node", "create", img["name"], "--group", "web", "--count", "2",
                       "--user-data", str(user_data), "--json"))  # fmt: skip
    assert [n["name"] for n in made["nodes"]] == ["web-1", "web-2"]
    assert all(n["ip"] for n in made["nodes"])
    listed = as_json(cli("node", "ls", "--group", "web", "--json"))
    assert sorted(n["name"] for n in listed) == ["web-1", "web-2"]
    assert set(listed[0]) == {"name", "moref", "instance_uuid", "ip", "power_state", "cpus",
                              "memory_mb", "group"}  # fmt: skip
    snap = as_json(cli("snapshot", "create", "web-1", "before", "--json"))
    assert snap["changed"]
    tree = as_json(cli("snapshot", "tree", "web-1", "--json"))
    assert tree["current"] == "before"
    gone = as_json(cli("node", "destroy", "--group", "web", "--json"))
    assert len(gone["destroyed"]) == 2
    assert as_json(cli("node", "ls", "--json")) == []
    entries = as_json(cli("journal", "--json", "-n", "1000"))
    methods = {e["method"] for e in entries}
    assert {"ImportVApp", "CloneVM_Task", "CreateSnapshot_Task", "Destroy_Task"} <= methods


def test_unknown_command_and_flag_exit_2_with_one_line(cli: Run) -> None:
    for args in (["bogus"], ["vm", "ls", "--bogus"], ["vm"]):
        p = cli(*args)
        assert p.returncode == 2 and p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_path_that_matches_nothing_exits_3(cli: Run) -> None:
    p = cli("ls", "/DC0/vm/nothing")
    assert p.returncode == 3 and p.stdout == ""
    assert p.stderr.strip().splitlines()[-1].startswith("spherekit: nothing at inventory path")
    assert cli("vm", "info", "no-such-vm").returncode == 3


def test_a_name_that_matches_several_things_exits_2(cli: Run) -> None:
    p = cli("find", "--name", "Resources", "--json")
    assert len(as_json(p)) == 2
    p = cli("events", "Resources")
    assert p.returncode == 2 and "matches 2 objects" in p.stderr


def test_url_without_scheme_exits_2(cli: Run) -> None:
    p = cli("--url", "vc.example.com", "about")
    assert p.returncode == 2
    assert p.stderr.strip() == ("spherekit: URL 'vc.example.com' (from --url) has no scheme — "
                                "write https://vc.example.com/sdk")  # fmt: skip
    assert cli("about", extra={"SPHEREKIT_URL": "vc.example.com"}).returncode == 2


def test_corrupt_lab_is_one_line_and_left_as_it_was(cli: Run, tmp_path: Path) -> None:
    lab = tmp_path / "lab.db"
    junk = bytes(range(256)) * 40
    lab.write_bytes(junk)
    p = cli("vm", "ls")
    assert p.returncode == 1 and p.stdout == ""
    last = p.stderr.strip().splitlines()[-1]
    assert "cannot be opened" in last and "lab reset" in last
    assert lab.read_bytes() == junk
    assert not (tmp_path / "lab.db-wal").exists()
    assert as_json(cli("lab", "reset", "--json"))["path"] == str(lab)
    assert as_json(cli("vm", "ls", "--json"))


def test_locked_lab_is_one_line_and_exit_5(cli: Run, env: dict[str, str], tmp_path: Path) -> None:
    assert cli("about").returncode == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "spherekit", "sim", "serve", "--state", str(tmp_path / "lab.db")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("https://")
        p = cli("vm", "ls")
        assert p.returncode == 5 and p.stdout == ""
        last = p.stderr.strip().splitlines()[-1]
        assert "in use by a running simulator" in last and "--url" in last
        assert cli("lab", "reset").returncode == 5
        assert (tmp_path / "lab.db").exists()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert cli("vm", "ls").returncode == 0


def test_trace_writes_a_wire_log_without_secrets(cli: Run, tmp_path: Path) -> None:
    trace = tmp_path / "trace.log"
    assert cli("--trace", str(trace), "about").returncode == 0
    text = trace.read_text()
    assert "RetrieveServiceContent" in text and "Login" in text
    assert "<password>pass</password>" not in text and "***" in text


def test_json_stdout_is_one_document_even_with_progress(cli: Run, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(b"x" * 100_000)
    p = cli("datastore", "upload", str(src), "LocalDS_0:blobs/blob.bin", "--json")
    doc = as_json(p)
    assert doc["size"] == 100_000 and len(doc["sha256"]) == 64
    assert "\r" not in p.stderr  # no progress bar in a pipe
    files = as_json(cli("datastore", "ls", "LocalDS_0:blobs", "--json"))
    assert [f["name"] for f in files] == ["blob.bin"]
    json.dumps(files)
