"""docs/simulator.md is generated from the handler table and must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_simulator_doc_is_in_sync_with_the_handlers() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sim" / "coverage.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_listed_method_is_a_vim25_method() -> None:
    from spherekit.schema.vim25.model import METHODS
    from spherekit.sim import methods

    listed = [m for _t, m in methods.implemented() if m != "Fetch"]
    assert len(listed) > 150  # a floor, so a handler table that failed to load cannot pass
    assert all(m in METHODS for m in listed)
