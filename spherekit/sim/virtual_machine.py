"""VirtualMachine: its operations live in one module per concern.

Power (and guest power, questions) in :mod:`spherekit.sim.vm_power`, reconfiguration in
:mod:`spherekit.sim.vm_reconfig`, devices in :mod:`spherekit.sim.vm_devices`, cloning and
templates in :mod:`spherekit.sim.vm_clone`, relocation and migration in
:mod:`spherekit.sim.vm_migrate`. ``set_power_state`` stays importable from here.
"""

from __future__ import annotations

from spherekit.sim.vm_power import set_power_state

__all__ = ["set_power_state"]

# importing the handler modules registers their methods
import spherekit.sim.vm_checks
import spherekit.sim.vm_clone
import spherekit.sim.vm_migrate
import spherekit.sim.vm_reconfig  # noqa: F401
