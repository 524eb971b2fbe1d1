"""Throw-away TLS material for tests: a CA and a server certificate it signed, as files.

The certificates are the served simulator's (:func:`spherekit.sim.tls.make_certificate`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from spherekit.sim.tls import make_certificate


@dataclass(frozen=True)
class TestCerts:
    """PEM files on disk plus the server certificate's SHA-256 thumbprint."""

    __test__ = False  # not a pytest test class

    ca_file: Path
    cert_file: Path
    key_file: Path
    #: ``AB:CD:...`` (upper case, colon separated), as vSphere shows it
    thumbprint: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_certs(
    directory: Path, host: str = "127.0.0.1", *, loopback: bool = True, days: int = 7
) -> TestCerts:
    """Create a CA and a server certificate for ``host`` and (unless ``loopback`` is false)
    localhost, 127.0.0.1 and ::1, as ``ca.pem``, ``server.pem`` and ``server.key`` in
    ``directory``."""
    cert = make_certificate(host, days, loopback=loopback)
    directory.mkdir(parents=True, exist_ok=True)
    certs = TestCerts(
        directory / "ca.pem", directory / "server.pem", directory / "server.key", cert.thumbprint
    )
    certs.ca_file.write_bytes(cert.ca_pem)
    certs.cert_file.write_bytes(cert.cert_pem)
    certs.key_file.write_bytes(cert.key_pem)
    return certs
