"""Fixtures for the command line's end-to-end tests: the CLI as a subprocess, against a
temporary local lab (HOME, XDG dirs and SPHEREKIT_LAB under tmp_path) or a served simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spherekit.sim import Simulator

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("SPHEREKIT_")}
    e.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        SPHEREKIT_LAB=str(tmp_path / "lab.db"),
        SPHEREKIT_JOURNAL=str(tmp_path / "journal.jsonl"),
        SPHEREKIT_LAB_SEED="1",
    )
    return e


@pytest.fixture
def cli(env: dict[str, str]) -> Run:
    def run(*args: str, extra: dict[str, str] | None = None, timeout: float = 60) -> Any:
        return subprocess.run(
            [sys.executable, "-m", "spherekit", *args],
            env={**env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def as_json(p: subprocess.CompletedProcess[str]) -> Any:
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def served() -> Iterator[Simulator]:
    sim = Simulator(seed=1)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
