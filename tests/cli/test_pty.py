"""In a pseudo-terminal, commands that wait for a transfer or a task draw a progress bar on
stderr (the task's bar follows the server's percentage); in a pipe nothing is drawn."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from spherekit.cli.output import Progress, progress
from spherekit.compute.ops import default_progress
from spherekit.schema.base import MoRef
from spherekit.sim import Simulator

DATA = Path(__file__).resolve().parents[1] / "sim" / "data"


def _run_in_pty(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spherekit", *args],
        env=env, stdin=slave, stdout=subprocess.DEVNULL, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    out = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=60), out.decode("utf-8", "replace")


def test_progress_bars_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    code, err = _run_in_pty(["image", "import", str(DATA / "tiny.ova")], env)
    assert code == 0, err
    assert "\rimport " in err and "[" + "#" * 30 + "]" in err and "ETA" in err
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(300_000))
    code, err = _run_in_pty(["datastore", "upload", str(blob), "LocalDS_0:b/blob.bin"], env)
    assert code == 0, err
    assert "\rupload blob.bin [" in err and "/s ETA" in err


def test_task_percentage_bar_on_a_terminal(env: dict[str, str]) -> None:
    """The server's rising task percentage (the simulator reports 0, 25, 50, 75, 100 over a
    task's delay) is drawn as it comes, one line per step (the clone, then the power-on)."""
    with Simulator(seed=1) as sim:
        sim.control.set_task_delays({"CloneVM_Task": 2.0, "PowerOnVM_Task": 2.0})
        flags = ["--url", sim.sdk_url, "--user", sim.user, "--password", sim.password,
                 "--thumbprint", sim.thumbprint or ""]  # fmt: skip
        code, err = _run_in_pty([*flags, "vm", "clone", "DC0_H0_VM0", "c1", "--on"], env)
    assert code == 0, err
    lines = [ln for ln in err.replace("\r\n", "\n").split("\n") if "\rclone c1 [" in ln]
    assert len(lines) == 2, err  # the clone's line, then the power-on's
    for line in lines:
        shown = re.findall(r"\] +(\d+)%", line)
        assert shown[-1] == "100", line
        assert {"25", "50", "75"} & set(shown), line  # a percentage while the task ran


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_the_mean_of_a_step_and_one_line_per_step() -> None:
    out = _Tty()
    bar = Progress("clone", out)
    bar.INTERVAL = 0.0  # draw every update
    a, b, c = (MoRef("Task", f"task-{i}") for i in range(3))
    bar.task(a, 50, "running")
    bar.task(b, 0, "running")
    assert out.getvalue() == (f"\rclone [{'#' * 15}{'.' * 15}]  50%\x1b[K"
                              f"\rclone [{'#' * 8}{'.' * 22}]  25% (2 tasks)\x1b[K")  # fmt: skip
    bar.task(a, None, "success")
    bar.task(b, None, "success")
    assert out.getvalue().endswith("100% (2 tasks)\x1b[K")
    bar.task(c, 25, "running")  # a new step: the finished line stays
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith(f"{'#' * 8}{'.' * 22}]  25%\x1b[K")
    bar.finish()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 2


def test_progress_wires_operations_only_on_a_terminal() -> None:
    pipe = io.StringIO()
    with progress("x", pipe) as bar:
        assert default_progress.get() is None and not bar.enabled
        bar.task(MoRef("Task", "task-1"), 50, "running")
    assert pipe.getvalue() == ""
    tty = _Tty()
    with progress("x", tty) as bar:
        hook = default_progress.get()
        assert hook is not None
        hook(MoRef("Task", "task-1"), 75, "running")
    assert default_progress.get() is None
    assert "]  75%" in tty.getvalue() and tty.getvalue().endswith("\n")
