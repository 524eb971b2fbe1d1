"""The transport seam's types: :class:`Request`, :class:`Response` and the one-method
:class:`Transport` protocol every transport (HTTP, mock, the simulator's in-process one)
implements, plus the ``User-Agent`` spherekit sends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Protocol, Self

import httpx

__all__ = ["USER_AGENT", "Request", "Response", "Transport", "header"]


def _version() -> str:
    try:
        return metadata.version("spherekit")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


USER_AGENT = f"spherekit/{_version()}"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request. ``path`` is relative to the base URL's origin (``/sdk``)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    soap_method: str | None = None  # for error messages and the wire log


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response, any status. ``headers`` look-ups are case-insensitive."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.headers, httpx.Headers):
            object.__setattr__(self, "headers", httpx.Headers(self.headers))


class Transport(Protocol):
    """Sends one request and returns its response; raises only spherekit errors."""

    def send(self, request: Request, *, timeout: float | None = None) -> Response: ...

    def close(self) -> None: ...


class Closing:
    """``with transport:`` closes it on the way out (for the transports' classes)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (any case) in ``headers``, or ``None``."""
    lname = name.lower()
    for key, value in headers.items():
        if key.lower() == lname:
            return value
    return None
