"""Idle keep-alive connections stay open: pyVmomi reuses them without retrying."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from pyVim.connect import Disconnect, SmartConnect

from spherekit.sim import Simulator
from spherekit.sim.server import KEEP_ALIVE


def test_pyvmomi_call_after_an_idle_pause_succeeds() -> None:
    assert KEEP_ALIVE >= 900  # pyVmomi keeps pooled connections for 900 s
    with Simulator() as sim:
        port = urlsplit(sim.sdk_url).port
        si: Any = SmartConnect(  # type: ignore[no-untyped-call]
            host="127.0.0.1",
            port=port,
            user=sim.user,
            pwd=sim.password,
            disableSslCertValidation=True,
        )
        try:
            time.sleep(6)  # past uvicorn's default keep-alive of 5 s
            assert si.CurrentTime() is not None
        finally:
            Disconnect(si)  # type: ignore[no-untyped-call]
