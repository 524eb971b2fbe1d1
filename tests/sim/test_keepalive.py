"""Idle keep-alive connections stay open: pyVmomi reuses them without retrying."""

from __future__ import annotations

import time

from spherekit.sim import Simulator
from spherekit.sim.server import KEEP_ALIVE
from tests.sim.pyvmomi_client import connected


def test_pyvmomi_call_after_an_idle_pause_succeeds() -> None:
    assert KEEP_ALIVE >= 900  # pyVmomi keeps pooled connections for 900 s
    with Simulator() as sim, connected(sim, sim.user, sim.password) as si:
        time.sleep(6)  # past uvicorn's default keep-alive of 5 s
        assert si.CurrentTime() is not None
