"""A handle has no property attributes: reading one would be a hidden remote call (rule 1)."""

from spherekit.schema.base import Caller
from spherekit.schema.vim25.managed import VirtualMachine


def name(session: Caller) -> object:
    vm = VirtualMachine(session, "vm-1")
    # expect[attr-defined]: "VirtualMachine" has no attribute "name"
    return vm.name
