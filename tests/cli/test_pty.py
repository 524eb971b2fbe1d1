"""In a pseudo-terminal, a command that waits for a transfer draws a progress bar on stderr."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

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
