"""The simulated guest of each VM: VMware Tools, addresses, customization, files, processes.

This module holds the hooks the rest of the simulator calls; the guest model behind them
(tools start after power-on, then ``guest.ipAddress`` / ``guest.net`` / ``hostName`` after
a configurable delay from a deterministic pool; cloud-init ``guestinfo.*`` and LinuxPrep
customization applied on first boot; a small guest filesystem and command model for guest
operations) is documented in docs/simulator.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["Guests"]


class Guests:
    """Guest state of every VM of one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        #: customization specs waiting for the VM's next boot
        self.pending: dict[MoRef, Any] = {}

    def customize(self, ctx: Context, vm: MoRef, spec: Any) -> None:
        """Remember ``spec`` (a CustomizationSpec); it is applied when the VM next boots."""
        self.pending[vm] = spec

    def powered(self, ctx: Context, vm: MoRef, on: bool) -> None:
        """Called (with the registry lock held) after ``vm`` was powered on or off."""

    def removed(self, ctx: Context, vm: MoRef) -> None:
        """Called when ``vm`` leaves the inventory."""
        self.pending.pop(vm, None)
