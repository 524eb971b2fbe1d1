"""The ``spherekit`` command line: one module per noun (``spherekit sim serve``, ...).

Commands parse their arguments and call the library, nothing more. With no --url (or
$SPHEREKIT_URL) they work on the local lab (spherekit.cli.target). Errors are one line on
stderr with an exit code by class (2 usage, 3 not found, 4 permission, 5 conflict, 6 server,
7 network; see docs/cli.md).
"""

from spherekit.cli.main import main

__all__ = ["main"]
