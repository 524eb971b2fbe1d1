"""TLS for the HTTP transport: SHA-256 thumbprints (parse, format, fetch a server's) and
the client's SSL context, verified by default, or pinned to one certificate by thumbprint
(checked during the handshake, before any request byte is sent), or explicitly insecure."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import ssl

from spherekit.errors import UsageError

__all__ = [
    "PinMismatchError",
    "fetch_server_thumbprint",
    "format_thumbprint",
    "parse_thumbprint",
    "ssl_context",
]


def parse_thumbprint(value: str) -> bytes:
    """Parse a SHA-256 thumbprint ("AB:CD:..." or plain hex, any case) into 32 bytes."""
    text = re.sub(r"[\s:]", "", value).lower()
    if not re.fullmatch(r"[0-9a-f]*", text) or not text:
        raise UsageError(f"thumbprint {value!r} is not hex; expected a SHA-256 thumbprint")
    if len(text) == 40:
        raise UsageError(
            "thumbprint is a SHA-1 thumbprint (20 bytes); SHA-256 is required (32 bytes, "
            "e.g. `openssl x509 -noout -fingerprint -sha256 -in cert.pem`, or connect once "
            "without it: the certificate error shows the server's SHA-256 thumbprint)"
        )
    if len(text) != 64:
        raise UsageError(
            f"thumbprint has {len(text) // 2} bytes; a SHA-256 thumbprint has 32 "
            "(64 hex digits, optionally separated by ':')"
        )
    return bytes.fromhex(text)


def format_thumbprint(digest: bytes) -> str:
    """Format a digest the way vSphere shows thumbprints: ``AB:CD:...``."""
    return ":".join(f"{b:02X}" for b in digest)


def _sha256_thumbprint(der: bytes) -> str:
    return format_thumbprint(hashlib.sha256(der).digest())


def fetch_server_thumbprint(host: str, port: int = 443, *, timeout: float = 10.0) -> str | None:
    """The SHA-256 thumbprint of the certificate a server presents, fetched without
    verifying it (to show the user what to pin), or ``None`` if it cannot be fetched."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    return _sha256_thumbprint(der) if der else None


class PinMismatchError(ssl.SSLError):
    """The server presented a certificate other than the pinned one."""

    def __init__(self, expected: bytes, actual: str) -> None:
        super().__init__("certificate thumbprint does not match the pin")
        self.expected = format_thumbprint(expected)
        self.actual = actual


class _PinnedSSLContext(ssl.SSLContext):
    """Accepts exactly the certificate whose SHA-256 digest is ``pin``.

    httpcore's sync backend upgrades a connection with ``ctx.wrap_socket(sock,
    server_hostname=...)``; the check runs right after the handshake, before the caller
    gets the socket, so no request byte is written to an unpinned peer.
    """

    pin: bytes = b""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        tls = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        try:
            if not do_handshake_on_connect:
                tls.do_handshake()
            der = tls.getpeercert(binary_form=True)
            digest = hashlib.sha256(der).digest() if der else b""
            if not self.pin or digest != self.pin:
                raise PinMismatchError(self.pin, format_thumbprint(digest) if der else "none")
        except BaseException:
            tls.close()
            raise
        return tls

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        # TLS inside TLS (an https proxy) would bypass the check above: refuse it.
        raise ssl.SSLError("certificate pinning is not supported through a TLS tunnel")


def ssl_context(insecure: bool, ca_file: str | None, thumbprint: str | None) -> ssl.SSLContext:
    """The client context for these settings (at most one of them; checked here)."""
    if insecure and (ca_file is not None or thumbprint is not None):
        raise UsageError(
            "insecure=True turns certificate checks off; do not combine it with "
            "thumbprint= or ca_file= (drop insecure=True to keep the check)"
        )
    if ca_file is not None and thumbprint is not None:
        raise UsageError(
            "pass either thumbprint= (pin this server's certificate) or ca_file= "
            "(trust certificates issued by a CA), not both"
        )
    if thumbprint is not None:
        pinned = _PinnedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
        pinned.minimum_version = ssl.TLSVersion.TLSv1_2
        pinned.check_hostname = False  # the pin replaces hostname and CA checks
        pinned.verify_mode = ssl.CERT_NONE
        pinned.pin = parse_thumbprint(thumbprint)
        return pinned
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_file is not None:
        try:
            if os.path.isdir(ca_file):
                return ssl.create_default_context(capath=ca_file)
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise UsageError(
                f"cannot load CA certificates from ca_file={ca_file!r}: {exc}; "
                "pass a PEM file holding the CA that issued the server's certificate"
            ) from None
    return ssl.create_default_context()
