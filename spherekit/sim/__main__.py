"""``python -m spherekit.sim serve|reset|fault``: see :mod:`spherekit.sim.command`."""

from __future__ import annotations

import sys

from spherekit.sim.command import main

if __name__ == "__main__":
    sys.exit(main())
