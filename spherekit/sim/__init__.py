"""spherekit.sim: a vCenter simulator that real clients accept.

Served over HTTPS (``python -m spherekit.sim serve``, or :class:`Simulator` ``.start()``)
or in-process for tests (:meth:`Simulator.transport`). It reuses the client's schema and
codec; every mutation goes through the :class:`~spherekit.sim.registry.Registry`, so
property collectors and views see it; anything not implemented answers
``MethodNotFound``.

This package may import :mod:`spherekit.schema`, :mod:`spherekit.wire` and
:mod:`spherekit.errors` only.
"""

from spherekit.sim.backend import Backend, Settings
from spherekit.sim.inprocess import InProcessTransport
from spherekit.sim.simulator import Simulator
from spherekit.sim.vpx import VpxModel

__all__ = ["Backend", "InProcessTransport", "Settings", "Simulator", "VpxModel"]
