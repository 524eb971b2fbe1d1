"""Fixtures that run govmomi's vcsim as an interop peer (see tests/interop/vcsim.py).

vcsim is a required peer: when Go or govmomi are missing the fixtures fail, they never
skip, so a machine without the toolchain cannot report a green interop run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import spherekit
from spherekit.wire.transport import HttpTransport, Request, Response, Transport
from tests.interop.proxy import DropProxy, ProxyCerts, make_certs
from tests.interop.vcsim import FlagValue, Vcsim, start_peer

VcsimFactory = Callable[..., Vcsim]


@pytest.fixture(scope="session")
def vcsim() -> Iterator[Vcsim]:
    """A vcsim with the default VPX inventory, shared by the whole session: don't mutate it."""
    sim = start_peer()
    yield sim
    sim.stop()


@pytest.fixture
def vcsim_factory() -> Iterator[VcsimFactory]:
    """Start custom vcsims, e.g. ``vcsim_factory(session_idle_timeout="1s", vm=0)``.

    Keyword arguments are main.go's flags with ``_`` for ``-``. All are stopped at teardown.
    """
    started: list[Vcsim] = []

    def start(**flags: FlagValue) -> Vcsim:
        sim = start_peer(**flags)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


# --- spherekit against vcsim: sessions, a recording transport and the drop proxy -------------


@dataclass
class Exchange:
    """One request as the client sent it, and how it ended."""

    name: str  # the SOAP method, or "GET /path"
    status: int | None  # the HTTP status; None when the transport raised
    cookie: str | None  # the session cookie the request carried


class Recorder:
    """A :class:`~spherekit.wire.transport.Transport` that records every exchange it forwards."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.log: list[Exchange] = []
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        name = request.soap_method or f"{request.method} {request.path}"
        cookie = next((v for k, v in request.headers.items() if k.lower() == "cookie"), None)
        try:
            response = self.inner.send(request, timeout=timeout)
        except BaseException:
            with self._lock:
                self.log.append(Exchange(name, None, cookie))
            raise
        with self._lock:
            self.log.append(Exchange(name, response.status, cookie))
        return response

    def close(self) -> None:
        self.inner.close()

    def names(self, start: int = 0) -> list[str]:
        """The requests sent from ``log[start]`` on, by name."""
        with self._lock:
            return [e.name for e in self.log[start:]]


def connect_sim(
    sim: Vcsim, *, recorder: bool = False, **kwargs: Any
) -> tuple[spherekit.Session, Recorder | None]:
    """Log in to ``sim`` with spherekit, pinning its certificate (unless told otherwise).

    With ``recorder=True`` the session's transport is wrapped in a :class:`Recorder`.
    """
    if not {"insecure", "ca_file", "thumbprint"} & kwargs.keys():
        kwargs["thumbprint"] = sim.thumbprint_sha256()
    rec = None
    if recorder:
        tls = {k: kwargs.pop(k) for k in ("insecure", "ca_file", "thumbprint") if k in kwargs}
        rec = Recorder(HttpTransport(f"https://{sim.host}:{sim.port}", **tls))
        kwargs["transport"] = rec
    session = spherekit.connect(sim.sdk_url, user=sim.user, password=sim.password, **kwargs)
    return session, rec


@pytest.fixture(scope="session")
def proxy_certs(tmp_path_factory: pytest.TempPathFactory) -> ProxyCerts:
    """A throw-away CA and a certificate for 127.0.0.1 it signed, for the drop proxy."""
    return make_certs(tmp_path_factory.mktemp("proxy-tls"))


ProxyFactory = Callable[[Vcsim], DropProxy]


@pytest.fixture
def proxy_factory(proxy_certs: ProxyCerts) -> Iterator[ProxyFactory]:
    """Start a :class:`DropProxy` (HTTPS, ``proxy_certs``) in front of a vcsim; stopped at
    teardown. Connect with ``thumbprint=proxy.thumbprint`` to ``proxy.sdk_url``."""
    started: list[DropProxy] = []

    def start(sim: Vcsim) -> DropProxy:
        proxy = DropProxy((sim.host, sim.port), certs=proxy_certs).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
