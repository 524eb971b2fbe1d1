"""spherekit: a typed, explicit, fast toolkit for VMware vSphere.

    import spherekit
    with spherekit.connect("https://vc.example.com/sdk", user="...", password="...") as s:
        rows = spherekit.fetch(s, "VirtualMachine", ["name", "runtime.powerState"])

Every remote call goes through :meth:`Session.call`; nothing else talks to the server.
The typed API lives in :mod:`spherekit.vim`, the exceptions in :mod:`spherekit.faults`.
"""

from spherekit.errors import SpherekitError, UsageError
from spherekit.property import Watch, fetch, wait_for
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.session import Session, connect
from spherekit.task import wait_for_task, wait_for_tasks

__version__ = "0.1.0.dev0"

__all__ = [
    "ManagedObject",
    "MoRef",
    "Session",
    "SpherekitError",
    "UsageError",
    "Watch",
    "__version__",
    "connect",
    "fetch",
    "wait_for",
    "wait_for_task",
    "wait_for_tasks",
]
