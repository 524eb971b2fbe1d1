"""Fixtures for the compute layer's tests: a fresh simulated vCenter per test, and vcsim.

``sim`` and ``session`` come from spherekit's pytest plugin (:mod:`spherekit.pytest_plugin`):
``sim`` is an in-process simulator (served over HTTPS when ``SPHEREKIT_SIM_MODE=served``;
its ``control`` injects faults), ``session`` is the plugin's ``sim_session`` on it. Here
every simulator's guests report their address quickly; ``journal`` is an in-memory journal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spherekit.compute import Journal
from spherekit.session import Session
from tests.interop.vcsim import Vcsim, connect_to, start_peer


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


@pytest.fixture(scope="module")
def vcsim() -> Iterator[Vcsim]:
    """govmomi's vcsim (default inventory), one per test module: the flows it supports run
    against it too. A required peer: the tests fail, never skip, without it."""
    sim = start_peer()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def vcsim_session(vcsim: Vcsim) -> Iterator[Session]:
    """One session on the module's vcsim."""
    with connect_to(vcsim) as s:
        yield s
