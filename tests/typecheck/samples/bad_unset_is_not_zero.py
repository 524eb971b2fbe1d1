"""An optional field may be unset: reading it as a plain int is a type error (house rule 3)."""

from spherekit.schema.vim25.data import VirtualMachineConfigSpec


def cpus(spec: VirtualMachineConfigSpec) -> int:
    # expect[assignment]: expression has type "int | None", variable has type "int"
    n: int = spec.numCPUs
    return n
