"""Leaving out a required parameter is a type error."""

from spherekit.schema.base import Caller
from spherekit.schema.vim25.data import VirtualMachineCloneSpec, VirtualMachineRelocateSpec
from spherekit.schema.vim25.managed import VirtualMachine


def clone(session: Caller) -> None:
    vm = VirtualMachine(session, "vm-1")
    spec = VirtualMachineCloneSpec(
        location=VirtualMachineRelocateSpec(), template=False, powerOn=True
    )
    # expect[call-arg]: Missing named argument "folder" for "CloneVM_Task" of "VirtualMachine"
    vm.CloneVM_Task(name="x", spec=spec)
