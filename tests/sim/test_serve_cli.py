"""``spherekit sim serve|reset|fault`` as a subprocess: state across ``kill -9``, the control
commands, bad flags."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import spherekit
from spherekit import cli, faults
from spherekit.schema.base import MoRef
from spherekit.sim import command as sim_command
from tests.sim.test_cli import line

pytestmark = pytest.mark.timeout(120)


class Served:
    """``python -m spherekit sim serve ...`` (stdout: the URL; stderr: the thumbprint)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "spherekit", "sim", "serve", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        try:
            self.url = line(self.proc.stdout)
            self.thumbprint = line(self.proc.stderr).rpartition(" ")[2]
        except BaseException:
            self.close()
            raise

    def connect(self) -> spherekit.Session:
        return spherekit.connect(self.url, thumbprint=self.thumbprint)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "spherekit", "sim", *args, "--url", self.url,
             "--thumbprint", self.thumbprint],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


def vm_rows(s: spherekit.Session) -> dict[MoRef, dict[str, object]]:
    props = ["name", "config.uuid", "config.instanceUuid", "runtime.powerState"]
    return dict(spherekit.fetch(s, "VirtualMachine", props))


def test_state_survives_kill_9_and_the_control_commands_work(tmp_path: Path) -> None:
    state = str(tmp_path / "lab.db")
    first = Served("--state", state, "--seed", "4", "--vms", "1")
    try:
        with first.connect() as s:
            vm = sorted(vm_rows(s))[0]
            spherekit.wait_for_task(s, s.call(vm, "Rename_Task", newName="survivor"), timeout=10)
            spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"), timeout=10)
            sim_files = sorted(p.name for p in Path(state + ".files").rglob("*"))
            before = vm_rows(s)
        # a second simulator on the same file is refused while this one runs
        refused = subprocess.run(
            [sys.executable, "-m", "spherekit", "sim", "serve", "--state", state],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1
        assert "in use by another running simulator" in refused.stderr
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.close()
    again = Served("--state", state, "--vms", "7")  # a saved state ignores inventory flags
    try:
        with again.connect() as s:
            assert vm_rows(s) == before
            assert before[vm]["name"] == "survivor"
            assert before[vm]["runtime.powerState"] == "poweredOff"
        assert sorted(p.name for p in Path(state + ".files").rglob("*")) == sim_files
        # spherekit sim fault / reset talk to its control plane
        privilege = "privilegeId=VirtualMachine.Interact.PowerOn"
        added = again.cli(
            "fault", "add", "--method", "PowerOnVM_Task", "--fault", "NoPermission",
            "--field", privilege,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout)["fault"] == "NoPermission"
        listed = again.cli("fault", "list")
        assert [r["method"] for r in json.loads(listed.stdout)] == ["PowerOnVM_Task"]
        with again.connect() as s, pytest.raises(faults.NoPermission):
            s.call(vm, "PowerOnVM_Task")
        reset = again.cli("reset", "--seed", "4")
        assert reset.returncode == 0 and json.loads(reset.stdout)["faults"] == []
        with again.connect() as s:
            assert vm_rows(s)[vm]["name"] != "survivor"
        again.proc.send_signal(signal.SIGTERM)
        assert again.proc.wait(15) == 0
    finally:
        again.close()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["serve", "--vms", "many"], "expected a count"),
        (["serve", "--session-timeout", "-1"], "number of seconds"),
        (["serve", "--seed", "x"], "integer seed"),
        (["serve", "--bogus"], "unrecognized arguments"),
        (["fault", "add", "--method", "PowerOnVM_Task"], "one of the arguments"),
        (["fault", "add", "--method", "X", "--drop", "--probability", "2"], "probability"),
        (["reset", "--seed", "1.5"], "integer seed"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    args: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["sim", *args])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err.count("\n") == 1 and why in err and err.startswith("spherekit"), err


def test_the_spherekit_command_refuses_bad_flags() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spherekit", "sim", "serve", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "spherekit sim serve: error: argument --listen: expected HOST:PORT "
        "(e.g. 127.0.0.1:0), got 'nowhere' (see --help)\n"
    )


def test_control_commands_need_a_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SPHEREKIT_SIM_URL", raising=False)
    assert sim_command.main(["reset"]) == 1
    assert "--url" in capsys.readouterr().err
