"""The simulated guest of each VM: VMware Tools, addresses, customization, processes.

The power module calls :meth:`Guests.powered` after every power change (registry lock
held), the clone module :meth:`Guests.customize`, and removing a VM :meth:`Guests.removed`.

**Boot.** When a VM powers on (or resets, or its guest reboots), its guest boots. A guest
has VMware Tools (open-vm-tools 12.3) unless the VM's extraConfig says
``guestinfo.sim.tools = none``; a guest without tools reports nothing, as vCenter then
knows nothing. With tools, at once: ``guest.toolsRunningStatus`` ``guestToolsRunning``,
``toolsStatus`` ``toolsOk``, ``guestState`` ``running``, ``guestOperationsReady``,
``guestId`` / ``guestFullName`` from ``config``, ``guestHeartbeatStatus`` green; then,
:attr:`Settings.guest_ip_delay <spherekit.sim.backend.Settings.guest_ip_delay>` seconds
later (a timer that does nothing if the VM was powered off or removed meanwhile):
``guest.net`` (one GuestNicInfo per NIC: its MAC, network name, device key, connected,
the IPv4 address and the IPv6 link-local one derived from the MAC, ``ipConfig``),
``guest.ipAddress`` (the first NIC's IPv4 address), ``guest.hostName`` (by default the VM's
name), ``guest.ipStack`` (DNS and default route), mirrored in ``summary.guest``. Each
change is one registry update, so ``WaitForUpdatesEx`` sees it.

**Addresses** come from the pool :attr:`Settings.guest_network` (default 10.0.0.0/16; the
first address is the gateway): each NIC gets the lowest free address when it first needs
one and keeps it across power cycles until the VM is removed. A static address (LinuxPrep
``CustomizationFixedIp`` or a cloud-init netplan ``addresses``) replaces the pool's.

**cloud-init** (:mod:`spherekit.sim.guest_cloudinit`) and **customization**
(:mod:`spherekit.sim.guest_custom`) run at boot: a pending customization first (events
``CustomizationStartedEvent`` at boot, then ``CustomizationSucceeded`` or a
``CustomizationFailed`` kind when the network is up; ``guest.customizationInfo`` follows
the same states when the API version served is 7.0.2.0 or newer), then cloud-init. Host
name and static network settings they make persist in the guest, as on a real disk.

**Power-off** stops the guest: tools ``toolsNotRunning`` / ``guestToolsNotRunning``,
``guestState`` ``notRunning``, and ``ipAddress``, ``net``, ``ipStack`` and ``hostName``
unset. Its processes die; its files (:mod:`spherekit.sim.guest_fs`) stay.

The VMs a new inventory is built with are powered on but their guests have not reported
(no tools running, no addresses), as in vcsim's VPX model; they boot at their next power
on, reset or guest reboot. Guest state is the simulator's private state: it is not kept in
the durable state file.
"""

from __future__ import annotations

import heapq
import ipaddress
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim.guest_boot import boot_guest, network_up, publish_off
from spherekit.sim.guest_proc import GuestState

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["AddressPool", "Guests"]


class AddressPool:
    """Guest IPv4 addresses: the lowest free one for each (VM, NIC key), kept until the VM
    is removed."""

    def __init__(self, network: str) -> None:
        self.network = ipaddress.IPv4Network(network, strict=False)
        self.gateway = str(self.network.network_address + 1)
        self._next = int(self.network.network_address) + 2
        self._last = int(self.network.broadcast_address) - 1
        self._free: list[int] = []
        self._owned: dict[MoRef, dict[int, int]] = {}

    @property
    def prefix(self) -> int:
        return self.network.prefixlen

    def address(self, vm: MoRef, nic: int) -> str | None:
        """The address of ``vm``'s NIC ``nic`` (None when the pool is exhausted)."""
        mine = self._owned.setdefault(vm, {})
        if nic not in mine:
            if self._free:
                mine[nic] = heapq.heappop(self._free)
            elif self._next <= self._last:
                mine[nic] = self._next
                self._next += 1
            else:
                return None
        return str(ipaddress.IPv4Address(mine[nic]))

    def release(self, vm: MoRef) -> None:
        for n in self._owned.pop(vm, {}).values():
            heapq.heappush(self._free, n)


class Guests:
    """Guest state of every VM of one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        #: customization specs waiting for the VM's next boot
        self.pending: dict[MoRef, Any] = {}
        self.states: dict[MoRef, GuestState] = {}
        self.pool = AddressPool(backend.settings.guest_network)
        #: numbers for CustomizationPrefixName host names
        self.name_counter = 0
        #: open /guestFile tickets by token (spherekit.sim.guest_files)
        self.transfers: dict[str, Any] = {}
        self.transfer_id = 0

    def install(self) -> None:
        """Create GuestOperationsManager's children (after the ServiceContent exists)."""
        from spherekit.sim.guest_ops import install

        install(self._backend)

    def state(self, vm: MoRef) -> GuestState:
        st = self.states.get(vm)
        if st is None:
            st = self.states[vm] = GuestState()
        return st

    def customize(self, ctx: Context, vm: MoRef, spec: Any) -> None:
        """Remember ``spec`` (a CustomizationSpec); it is applied when the VM next boots.
        ``CustomizeVM_Task`` fails with NicSettingMismatch when the spec names more NICs
        than the VM has, and with CustomizationPending while an earlier spec waits for the
        next boot (vCenter's checks)."""
        from spherekit.schema.vim25 import data as d
        from spherekit.sim.faults import with_msg

        reg = ctx.registry
        config = reg.props(vm)["config"]
        nics = [x for x in config.hardware.device or [] if isinstance(x, d.VirtualEthernetCard)]
        wanted = len(spec.nicSettingMap or [])
        if ctx.method == "CustomizeVM_Task" and wanted > len(nics):
            raise with_msg(
                d.NicSettingMismatch(numberOfNicsInSpec=wanted, numberOfNicsInVM=len(nics)),
                f"The number of network adapter settings in the customization specification: "
                f"{wanted} does not match the number of network adapters present in the "
                f"virtual machine: {len(nics)}.",
            )
        if ctx.method == "CustomizeVM_Task" and vm in self.pending:
            raise with_msg(
                d.CustomizationPending(),
                "Customization of the guest operating system is already pending for this "
                "virtual machine.",
            )
        self.pending[vm] = spec
        if config.tools is not None:
            package = f"{config.files.logDirectory or ''}imcf-{reg.uuid()[:8]}"
            reg.update(vm, {"config.tools.pendingCustomization": package})

    def powered(self, ctx: Context, vm: MoRef, on: bool) -> None:
        """Called (with the registry lock held) after ``vm`` was powered on or off."""
        st = self.state(vm)
        st.boot += 1
        st.stop()
        if vm not in ctx.registry:
            return
        if not on:
            publish_off(ctx, vm, st)
            return
        spec = self.pending.pop(vm, None)
        if spec is not None:
            self.name_counter += 1
        boot = st.boot
        if boot_guest(ctx, vm, st, spec, self.name_counter):
            self.later(self._backend.settings.guest_ip_delay, vm, boot, lambda c: network_up(c, st))

    def later(self, delay: float, vm: MoRef, boot: int, act: Callable[[Context], None]) -> None:
        """Run ``act`` under the registry lock after ``delay`` seconds, unless the VM was
        removed or power-cycled meanwhile (its guest's ``boot`` changed)."""
        backend = self._backend

        def fire() -> None:
            from spherekit.sim.backend import Context

            with backend.registry.lock:
                st = self.states.get(vm)
                if backend.closing or vm not in backend.registry:
                    return
                if st is None or st.boot != boot or backend.guests is not self:
                    return
                act(Context(backend, None, vm, ""))

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        timer.start()

    def removed(self, ctx: Context, vm: MoRef) -> None:
        """Called when ``vm`` leaves the inventory."""
        self.pending.pop(vm, None)
        st = self.states.pop(vm, None)
        if st is not None:
            st.boot += 1
            st.stop()
        self.pool.release(vm)
