"""The ``spherekit`` command line: one module per noun (``spherekit sim serve``, ...).

Commands parse their arguments and call the library, nothing more. A bad flag is one line
on stderr and exit status 2; a failed command one line on stderr and exit status 1.
"""

from spherekit.cli.main import main

__all__ = ["main"]
