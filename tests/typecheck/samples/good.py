"""The generated vim25 API used as intended: must pass ``mypy --strict`` with no error.

tests/typecheck/test_mypy_samples.py type-checks this file and also runs it against a
recording session, so what type-checks here is also what works.
"""

from __future__ import annotations

from typing import assert_type

from spherekit.schema.base import Caller, MoRef
from spherekit.schema.vim25.data import (
    InvalidPowerState,
    ObjectSpec,
    PropertyFilterSpec,
    PropertySpec,
    RetrieveOptions,
    RetrieveResult,
    VirtualMachineCloneSpec,
    VirtualMachineConfigSpec,
    VirtualMachineRelocateSpec,
)
from spherekit.schema.vim25.enums import VirtualMachinePowerState
from spherekit.schema.vim25.managed import (
    Folder,
    HostSystem,
    PropertyCollector,
    Task,
    VirtualMachine,
)


def config_spec() -> VirtualMachineConfigSpec:
    spec = VirtualMachineConfigSpec(numCPUs=2, memoryMB=2048)
    # unset is not zero: an optional field reads as "int | None" and must be checked
    assert_type(spec.numCPUs, int | None)
    cpus = spec.numCPUs if spec.numCPUs is not None else 1
    assert_type(cpus, int)
    return spec


def power_on(session: Caller) -> Task:
    vm = VirtualMachine(session, "vm-1")
    task = vm.PowerOnVM_Task()
    assert_type(task, Task)
    # an optional managed-object parameter takes a handle or a bare reference
    vm.PowerOnVM_Task(host=HostSystem(session, "host-1"))
    vm.PowerOnVM_Task(host=MoRef("HostSystem", "host-2"))
    return task


def clone(session: Caller) -> Task:
    vm = VirtualMachine(session, "vm-1")
    spec = VirtualMachineCloneSpec(
        location=VirtualMachineRelocateSpec(), template=False, powerOn=True
    )
    # required parameters are keyword-only and must all be given
    return vm.CloneVM_Task(folder=Folder(session, "group-v3"), name="copy", spec=spec)


def retrieve(session: Caller) -> RetrieveResult | None:
    pc = PropertyCollector(session, "propertyCollector")
    spec = PropertyFilterSpec(
        propSet=[PropertySpec(type="VirtualMachine", pathSet=["name"])],
        # a data object holds a reference, not a handle
        objectSet=[ObjectSpec(obj=VirtualMachine(session, "vm-1").ref)],
    )
    result = pc.RetrievePropertiesEx(specSet=[spec], options=RetrieveOptions(maxObjects=100))
    assert_type(result, RetrieveResult | None)
    return result


def fault_state(fault: Exception) -> VirtualMachinePowerState | None:
    try:
        raise fault
    except InvalidPowerState as e:
        assert_type(e.existingState, VirtualMachinePowerState)
        return e.existingState
    except Exception:
        return None
