"""``python -m spherekit``: the ``spherekit`` command."""

from __future__ import annotations

import sys

from spherekit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
