"""Types of the compiled bulk-read scanner (spherekit/wire/_scan.c)."""

from collections.abc import Callable, Mapping
from typing import Any

from spherekit.schema.base import MoRef

Fragment = tuple[int, str | None, int, int]

def scan(
    body: bytes,
    decoders: Mapping[str | None, Callable[[str], Any] | None],
    moref: type[MoRef],
    /,
) -> tuple[list[tuple[MoRef, dict[str, Any]]], str | None, list[Fragment], bytes] | None: ...
