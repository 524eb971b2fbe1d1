"""spherekit.sim: a vCenter simulator that real clients accept.

Served over HTTPS (``python -m spherekit.sim serve``, or :class:`Simulator` ``.start()``)
or in-process for tests (:meth:`Simulator.transport`). It reuses the client's schema and
codec; every mutation goes through the :class:`~spherekit.sim.registry.Registry`, so
property collectors and views see it; anything not implemented answers
``MethodNotFound``.

This package may import :mod:`spherekit.schema`, :mod:`spherekit.wire` and
:mod:`spherekit.errors` only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Settings
    from spherekit.sim.inprocess import InProcessTransport
    from spherekit.sim.simulator import Simulator
    from spherekit.sim.vpx import VpxModel

__all__ = ["Backend", "InProcessTransport", "Settings", "Simulator", "VpxModel"]

#: loaded on first use, so that importing one module of the package (the CLI's parser, the
#: in-process lab) does not import the rest, the HTTPS server among it
_HOME = {
    "Backend": "backend",
    "Settings": "backend",
    "InProcessTransport": "inprocess",
    "Simulator": "simulator",
    "VpxModel": "vpx",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'spherekit.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"spherekit.sim.{module}"), name)
    globals()[name] = value
    return value
