"""A misspelled method is a type error (house rule 2)."""

from spherekit.schema.base import Caller
from spherekit.schema.vim25.managed import VirtualMachine


def power_on(session: Caller) -> None:
    vm = VirtualMachine(session, "vm-1")
    # expect[attr-defined]: "VirtualMachine" has no attribute "PowerOnVm_Task"
    # expect[attr-defined]: maybe "PowerOnVM_Task"
    vm.PowerOnVm_Task()
