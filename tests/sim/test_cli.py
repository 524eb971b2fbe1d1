"""``python -m spherekit.sim serve``: URL first on stdout, serves, stops cleanly on signals."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO

import pytest

import spherekit

pytestmark = pytest.mark.timeout(60)


def line(stream: IO[str], timeout: float = 30.0) -> str:
    """The next line of ``stream``; fails the test after ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        pytest.fail(f"no line within {timeout} s")


def serve(*args: str, tls: bool = True) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spherekit.sim", "serve", "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        url = line(proc.stdout)
        note = line(proc.stderr) if tls else ""
    except BaseException:
        close(proc)
        raise
    return proc, url, note


def close(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs; close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_the_url_and_stops_on_signals(sig: signal.Signals) -> None:
    proc, url, note = serve("--vms", "3", "--user", "admin", "--password", "s3cret/:@")
    try:
        assert url.startswith("https://admin:s3cret%2F%3A%40@127.0.0.1:") and url.endswith("/sdk")
        thumbprint = note.rpartition(" ")[2]
        with spherekit.connect(url, thumbprint=thumbprint) as s:
            assert len(spherekit.fetch(s, "VirtualMachine", ["name"])) == 6
        start = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert time.monotonic() - start < 5
    finally:
        close(proc)


def test_serve_plain_http() -> None:
    proc, url, _note = serve("--no-tls", "--vms", "0", "--clusters", "0", tls=False)
    try:
        assert url.startswith("http://user:pass@127.0.0.1:")
        with spherekit.connect(url) as s:
            assert spherekit.fetch(s, "VirtualMachine", ["name"]) == []
            assert [v["name"] for _r, v in spherekit.fetch(s, "HostSystem", ["name"])] == ["DC0_H0"]
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        close(proc)


def test_bad_arguments_are_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spherekit.sim", "serve", "--listen", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "HOST:PORT" in done.stderr
