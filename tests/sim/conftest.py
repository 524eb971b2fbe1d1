"""Fixtures: the spherekit client against spherekit.sim, in-process or served.

``SPHEREKIT_SIM_MODE=inprocess`` (the default) answers from the simulator in the test's
own thread, through :class:`~spherekit.sim.InProcessTransport`; ``served`` starts the
simulator on 127.0.0.1 (a free port, HTTPS with a generated certificate) and connects
over the network, pinning the certificate by thumbprint. The same tests run in both modes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import spherekit
from spherekit.schema.base import MoRef
from spherekit.sim import Simulator, VpxModel
from spherekit.wire.transport import HttpTransport, Request, Response, Transport

MODE = os.environ.get("SPHEREKIT_SIM_MODE", "inprocess")
if MODE not in ("inprocess", "served"):
    raise pytest.UsageError(f"SPHEREKIT_SIM_MODE must be inprocess or served, not {MODE!r}")


class Target:
    """A simulator plus the ways a test reaches it in the current mode."""

    def __init__(self, sim: Simulator, mode: str) -> None:
        self.sim = sim
        self.mode = mode
        self._sessions: list[spherekit.Session] = []
        self._transports: list[Transport] = []

    @property
    def backend(self) -> Any:
        return self.sim.backend

    def transport(self) -> Transport:
        """A raw transport to the simulator (requests go to ``/sdk`` etc.)."""
        t: Transport
        if self.mode == "served":
            t = HttpTransport(self.sim.sdk_url.removesuffix("/sdk"), thumbprint=self.sim.thumbprint)
        else:
            t = self.sim.transport()
        self._transports.append(t)
        return t

    def connect(self, **kwargs: Any) -> spherekit.Session:
        """A logged-in spherekit session (extra keyword arguments go to ``connect``)."""
        if self.mode == "served":
            kwargs.setdefault("thumbprint", self.sim.thumbprint)
            session = spherekit.connect(self.sim.url, **kwargs)
        else:
            session = spherekit.connect(
                self.sim.inprocess_url, transport=self.sim.transport(), **kwargs
            )
        self._sessions.append(session)
        return session

    def post(self, body: bytes, cookie: str | None = None) -> Response:
        """POST a raw SOAP body to /sdk."""
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if cookie:
            headers["Cookie"] = cookie
        return self.transport().send(Request("POST", "/sdk", headers, body))

    def close(self) -> None:
        for s in self._sessions:
            try:
                s.close()
            except spherekit.SpherekitError:
                pass
        for t in self._transports:
            t.close()
        self.sim.stop()


SimFactory = Callable[..., Target]


def view_manager(s: spherekit.Session) -> MoRef:
    """The ServiceContent's ViewManager (always present on vCenter)."""
    ref = s.content.viewManager
    assert ref is not None
    return ref


def container_view(
    s: spherekit.Session, container: MoRef, types: list[str], recursive: bool = True
) -> MoRef:
    ref: MoRef = s.call(
        view_manager(s),
        "CreateContainerView",
        container=container,
        type=types,
        recursive=recursive,
    )
    return ref


@pytest.fixture
def sim_factory() -> Iterator[SimFactory]:
    """Start simulators with custom settings: ``sim_factory(VpxModel(vms=3), seed=1)``."""
    started: list[Target] = []

    def start(model: VpxModel | None = None, **settings: Any) -> Target:
        sim = Simulator(model, **settings)
        if MODE == "served":
            sim.start()
        target = Target(sim, MODE)
        started.append(target)
        return target

    yield start
    for t in started:
        t.close()


@pytest.fixture
def sim(sim_factory: SimFactory) -> Target:
    """The default VPX inventory (seed 1), fresh for each test."""
    return sim_factory(seed=1)


@pytest.fixture
def session(sim: Target) -> spherekit.Session:
    """A logged-in session on :func:`sim`."""
    return sim.connect()
