"""The whole vim25 API as typed Python: data objects, enums, faults and managed-object handles.

    from spherekit import vim
    spec = vim.VirtualMachineConfigSpec(numCPUs=2, memoryMB=4096)
    task = vim.VirtualMachine(session, "vm-42").ReconfigVM_Task(spec=spec)

Generated from the vim25 model in :mod:`spherekit.schema`; see docs/architecture.md.
"""

from spherekit.schema.base import DataObject, ManagedObject, MoRef
from spherekit.schema.vim25.data import *  # noqa: F403
from spherekit.schema.vim25.data import __all__ as _data
from spherekit.schema.vim25.enums import *  # noqa: F403
from spherekit.schema.vim25.enums import __all__ as _enums
from spherekit.schema.vim25.managed import *  # noqa: F403
from spherekit.schema.vim25.managed import __all__ as _managed

__all__ = ["DataObject", "ManagedObject", "MoRef", *_data, *_enums, *_managed]
