"""The simulator's Python API: build an inventory, serve it over HTTPS, or use it in-process.

::

    with Simulator() as sim:                     # served on 127.0.0.1, a free port, HTTPS
        s = spherekit.connect(sim.url, thumbprint=sim.thumbprint)

    sim = Simulator(VpxModel(vms=100))           # in-process: no sockets
    s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
    ...
    sim.stop()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote

from spherekit.sim.backend import Backend, Settings
from spherekit.sim.control import Control
from spherekit.sim.inprocess import InProcessTransport
from spherekit.sim.vpx import VpxModel

if TYPE_CHECKING:  # the HTTPS server (uvicorn) and certificates load when served
    from spherekit.sim.server import SimServer
    from spherekit.sim.tls import Certificate

__all__ = ["Simulator"]


class Simulator:
    """One simulated vCenter. Built at construction; :meth:`start` serves it."""

    def __init__(
        self,
        model: VpxModel | None = None,
        *,
        user: str = "user",
        password: str = "pass",
        seed: int | None = None,
        api_version: str = "8.0.2.0",
        session_timeout: float | None = 1800.0,
        task_delay: float = 0.0,
        state: str | os.PathLike[str] | None = None,
        users: Mapping[str, tuple[str, str]] | None = None,
        esx: bool = False,
        lease_timeout: float = 300.0,
        lease_init_delay: float = 0.0,
        guest_ip_delay: float = 0.5,
        guest_network: str = "10.0.0.0/16",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
    ) -> None:
        settings = Settings(
            user=user,
            password=password,
            seed=seed,
            api_version=api_version,
            session_timeout=session_timeout,
            task_delay=task_delay,
            state=os.fspath(state) if state is not None else None,
            users=dict(users or {}),
            esx=esx,
            lease_timeout=lease_timeout,
            lease_init_delay=lease_init_delay,
            guest_ip_delay=guest_ip_delay,
            guest_network=guest_network,
        )
        self.backend = Backend(model, settings)
        self._host = host
        self._port = port
        self._tls = tls
        self.certificate: Certificate | None = None
        self._server: SimServer | None = None
        self._dir: str | None = None
        self._stopped = False

    # -- serving -----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on ``host:port`` (port 0: any free port); return :attr:`url`."""
        if self._stopped:
            raise RuntimeError("this simulator was stopped; create a new one")
        if self._server is not None:
            return self.url
        if self._tls:
            from spherekit.sim.tls import make_certificate

            self.certificate = make_certificate(self._host)
        from spherekit.sim.server import SimServer

        server = SimServer(self.backend, self._host, self._port, self.certificate)
        server.start()
        self._server = server
        return self.url

    def stop(self) -> None:
        """Stop serving and shut the simulator down (waiting calls return). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.backend.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    close = stop

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------------------

    def _served(self) -> SimServer:
        if self._server is None:
            raise RuntimeError("the simulator is not served; call start() first")
        return self._server

    @property
    def sdk_url(self) -> str:
        """``https://127.0.0.1:PORT/sdk`` (no credentials)."""
        server = self._served()
        host = f"[{server.host}]" if ":" in server.host else server.host
        return f"{'https' if self._tls else 'http'}://{host}:{server.port}/sdk"

    @property
    def url(self) -> str:
        """``https://user:pass@127.0.0.1:PORT/sdk``: the SDK URL with the credentials."""
        s = self.backend.settings
        scheme, rest = self.sdk_url.split("://", 1)
        return f"{scheme}://{quote(s.user, safe='')}:{quote(s.password, safe='')}@{rest}"

    @property
    def inprocess_url(self) -> str:
        """A URL with credentials for :meth:`transport` (its host is never contacted)."""
        s = self.backend.settings
        return f"http://{quote(s.user, safe='')}:{quote(s.password, safe='')}@sim.invalid/sdk"

    @property
    def thumbprint(self) -> str | None:
        """SHA-256 thumbprint of the served certificate (``AB:CD:...``), for pinning."""
        return self.certificate.thumbprint if self.certificate is not None else None

    @property
    def ca_file(self) -> str | None:
        """A PEM file holding the CA that signed the served certificate."""
        if self.certificate is None:
            return None
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="spherekit-sim-ca-")
        path = os.path.join(self._dir, "ca.pem")
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(self.certificate.ca_pem)
        return path

    @property
    def served(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def user(self) -> str:
        return self.backend.settings.user

    @property
    def password(self) -> str:
        return self.backend.settings.password

    @property
    def control(self) -> Control:
        """The control plane: reset, seed, task delays, session expiry, fault rules."""
        return self.backend.control

    @property
    def control_url(self) -> str:
        """The served control plane (``https://127.0.0.1:PORT/_sim``; basic auth with the
        simulator's user and password)."""
        return self.sdk_url.removesuffix("/sdk") + "/_sim"

    def transport(self) -> InProcessTransport:
        """A spherekit transport answering from this simulator directly (no sockets)."""
        return InProcessTransport(self.backend)
