"""The two targets of the differential tests (``test_diff_*.py``): govmomi's vcsim and
spherekit.sim (served), each reached through a logged-in pyVmomi ``ServiceInstance``.

    with started("vcsim", esx=True) as peer:     # vcsim -esx=true
        peer.si.RetrieveContent()
    with started("spherekit", guest_ip_delay=0.05) as peer:  # Simulator(seed=1, ...)
        ...

    peer = peer_fixture(esx=True)  # a test module's (name, si) fixture, once per target

vcsim is a required peer: if it cannot be started (tests/interop/vcsim.py builds it from
Debian's govmomi) the test fails, saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from spherekit.sim import Simulator
from tests.interop.vcsim import FlagValue, Vcsim, VcsimError
from tests.sim.pyvmomi_client import connect, connected, wait

__all__ = ["PEERS", "Peer", "connect", "peer_fixture", "started", "wait"]

#: the targets' names, in the order the fixtures parametrize over them
PEERS = ("vcsim", "spherekit")


@dataclass(frozen=True)
class Peer:
    """A running target and a pyVmomi session on it."""

    name: str  # "vcsim" or "spherekit"
    si: Any  # pyVmomi's vim.ServiceInstance (untyped to mypy)
    host: str
    port: int

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"


@contextmanager
def _session(name: str, sdk_url: str) -> Iterator[Peer]:
    u = urlsplit(sdk_url)
    assert u.hostname is not None and u.port is not None, sdk_url
    with connected(sdk_url) as si:
        yield Peer(name, si, u.hostname, u.port)


@contextmanager
def started(
    name: str,
    *,
    esx: bool = False,
    vcsim_flags: Mapping[str, FlagValue] | None = None,
    **settings: Any,
) -> Iterator[Peer]:
    """A fresh target ``name`` ("vcsim" or "spherekit") with a pyVmomi session on it.

    ``esx`` starts either in ESXi mode (``vcsim -esx``, ``Simulator(esx=True)``);
    ``vcsim_flags`` go to :meth:`Vcsim.start` only, ``settings`` to :class:`Simulator`
    only (``seed`` defaults to 1: the default VPX inventory, as vcsim's).
    """
    if name == "vcsim":
        flags = dict(vcsim_flags or {})
        if esx:
            flags["esx"] = True
        try:
            sim = Vcsim().start(**flags)
        except VcsimError as exc:
            what = "vcsim -esx" if esx else "vcsim"
            pytest.fail(f"cannot start {what}, the interop peer:\n{exc}", pytrace=False)
        try:
            with _session(name, sim.sdk_url) as peer:
                yield peer
        finally:
            sim.stop()
    elif name == "spherekit":
        settings.setdefault("seed", 1)
        if esx:
            settings["esx"] = True
        with Simulator(**settings) as ours, _session(name, ours.sdk_url) as peer:
            yield peer
    else:
        raise ValueError(f"no differential target {name!r}: expected one of {PEERS}")


def peer_fixture(
    *,
    esx: bool = False,
    vcsim_flags: Mapping[str, FlagValue] | None = None,
    **settings: Any,
) -> Callable[..., Iterator[tuple[str, Any]]]:
    """A fixture ``peer``, ``(name, ServiceInstance)`` of a fresh target, once per target
    (:data:`PEERS`); the arguments are :func:`started`'s. In a test module::

        peer = peer_fixture(esx=True)
    """

    @pytest.fixture(params=PEERS, name="peer")
    def peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
        with started(request.param, esx=esx, vcsim_flags=vcsim_flags, **settings) as p:
            yield p.name, p.si

    return peer
