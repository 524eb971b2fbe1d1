"""Fixtures for the compute layer's tests: a fresh simulated vCenter per test.

``session`` is a spherekit session on an in-process simulator (served over HTTPS when
``SPHEREKIT_SIM_MODE=served``), with guests that report their address quickly; ``sim`` is
that simulator (its ``control`` injects faults); ``journal`` is an in-memory journal.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import spherekit
from spherekit.compute import Journal
from spherekit.session import Session
from spherekit.sim import Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(seed=1, guest_ip_delay=0.05)
    try:
        if os.environ.get("SPHEREKIT_SIM_MODE") == "served":
            simulator.start()
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def session(sim: Simulator) -> Iterator[Session]:
    if sim.served:
        s = spherekit.connect(sim.url, thumbprint=sim.thumbprint)
    else:
        s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    try:
        yield s
    finally:
        try:
            s.close()
        except spherekit.SpherekitError:
            pass


@pytest.fixture
def journal() -> Journal:
    return Journal()
