"""A wrong argument type is a type error (house rule 2)."""

from spherekit.schema.vim25.data import VirtualMachineConfigSpec

# expect[arg-type]: Argument "numCPUs" to "VirtualMachineConfigSpec" has incompatible type "str"
# expect[arg-type]: expected "int | None"
spec = VirtualMachineConfigSpec(numCPUs="two", memoryMB=2048)
