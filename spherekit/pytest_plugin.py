"""pytest fixtures for spherekit.sim (registered by the ``pytest11`` entry point).

- ``sim``: a fresh :class:`~spherekit.sim.Simulator` for each test: in-process (no sockets)
  by default, served over HTTPS on 127.0.0.1 when ``SPHEREKIT_SIM_MODE=served``;
- ``sim_server``: a simulator served over HTTPS for the whole test module, with ``.url``
  (credentials included), ``.sdk_url``, ``.thumbprint``, ``.ca_file``, ``.user``,
  ``.password`` and ``.control`` (reset it between tests if they must not see each other);
- ``sim_session``: a logged-in :class:`spherekit.Session` on ``sim`` (through the
  in-process transport, or over HTTPS pinned by thumbprint when served);
- ``sim_defaults``: the settings every simulator above starts from (none by default);
  override it in a ``conftest.py`` to give a whole directory of tests the same ones.

The inventory and settings come from the ``spherekit_sim`` marker, whose keyword arguments
are :class:`~spherekit.sim.VpxModel` counts and :class:`~spherekit.sim.Simulator` settings::

    @pytest.mark.spherekit_sim(vms=5, hosts=1, seed=7, task_delay=0.1)
    def test_clone(sim_session): ...

Without one, the default VPX inventory with seed 1. A directory's tests share defaults by
overriding ``sim_defaults`` (session or module scope, since ``sim_server`` is module-scoped);
a marker's arguments win over them, one by one::

    @pytest.fixture(scope="session")
    def sim_defaults():
        return {"guest_ip_delay": 0.05}

pytest loads this plugin in every run of every project that has spherekit installed, so
it imports nothing heavy itself: the simulator is imported when a fixture first needs it.
It lives outside :mod:`spherekit.sim` because it uses both the simulator and the client.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from spherekit.session import Session
    from spherekit.sim.simulator import Simulator

__all__ = ["MODE_VARIABLE", "mode", "sim", "sim_defaults", "sim_server", "sim_session"]

#: the environment variable choosing how ``sim`` runs: ``inprocess`` (default) or ``served``
MODE_VARIABLE = "SPHEREKIT_SIM_MODE"


def mode() -> str:
    """``inprocess`` or ``served``, from :data:`MODE_VARIABLE`."""
    value = os.environ.get(MODE_VARIABLE, "inprocess")
    if value not in ("inprocess", "served"):
        raise pytest.UsageError(f"{MODE_VARIABLE} must be inprocess or served, not {value!r}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "spherekit_sim(**kwargs): the spherekit.sim inventory (VpxModel counts such as vms=, "
        "hosts=) and settings (seed=, task_delay=, user=, ...) of the sim fixtures",
    )


def _build(node: pytest.Item | pytest.Collector, defaults: Mapping[str, Any]) -> Simulator:
    from spherekit.sim.simulator import Simulator
    from spherekit.sim.vpx import VpxModel

    model_fields = frozenset(f.name for f in dataclasses.fields(VpxModel))
    marker = node.get_closest_marker("spherekit_sim")
    if not isinstance(defaults, Mapping):
        raise pytest.UsageError(
            f"sim_defaults must return a dict of spherekit_sim settings, not {defaults!r}"
        )
    kwargs: dict[str, Any] = dict(defaults)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("spherekit_sim takes keyword arguments only")
        kwargs.update(marker.kwargs)
    model = VpxModel(**{k: v for k, v in kwargs.items() if k in model_fields})
    settings = {k: v for k, v in kwargs.items() if k not in model_fields}
    settings.setdefault("seed", 1)
    return Simulator(model, **settings)


@pytest.fixture(scope="session")
def sim_defaults() -> dict[str, Any]:
    """Settings (``spherekit_sim`` marker arguments) every ``sim`` and ``sim_server`` starts
    from, under any marker; none here. Override it in a ``conftest.py``."""
    return {}


@pytest.fixture
def sim(request: pytest.FixtureRequest, sim_defaults: Mapping[str, Any]) -> Iterator[Simulator]:
    """A fresh simulator (served when ``SPHEREKIT_SIM_MODE=served``)."""
    simulator = _build(request.node, sim_defaults)
    try:
        if mode() == "served":
            simulator.start()
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def sim_server(
    request: pytest.FixtureRequest, sim_defaults: Mapping[str, Any]
) -> Iterator[Simulator]:
    """A simulator served over HTTPS on 127.0.0.1 for the test module."""
    simulator = _build(request.node, sim_defaults)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def sim_session(sim: Simulator) -> Iterator[Session]:
    """A logged-in spherekit session on ``sim``."""
    import spherekit  # the client: only here, when a test asks for a session

    if sim.served:
        session = spherekit.connect(sim.url, thumbprint=sim.thumbprint)
    else:
        session = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    try:
        yield session
    finally:
        try:
            session.close()
        except spherekit.SpherekitError:
            pass
