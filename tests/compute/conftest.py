"""Fixtures for the compute layer's tests: a fresh simulated vCenter per test.

``sim`` and ``session`` come from spherekit's pytest plugin (:mod:`spherekit.pytest_plugin`):
``sim`` is an in-process simulator (served over HTTPS when ``SPHEREKIT_SIM_MODE=served``;
its ``control`` injects faults), ``session`` is the plugin's ``sim_session`` on it. Here
every simulator's guests report their address quickly; ``journal`` is an in-memory journal.
"""

from __future__ import annotations

from typing import Any

import pytest

from spherekit.compute import Journal
from spherekit.session import Session


@pytest.fixture(scope="session")
def sim_defaults() -> dict[str, Any]:
    """The plugin's simulators, for these tests: guests get an address after 0.05 s."""
    return {"guest_ip_delay": 0.05}


@pytest.fixture
def session(sim_session: Session) -> Session:
    """The plugin's ``sim_session``, under the name the compute tests use."""
    return sim_session


@pytest.fixture
def journal() -> Journal:
    return Journal()
