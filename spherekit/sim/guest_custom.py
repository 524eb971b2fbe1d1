"""Guest customization (a CustomizationSpec) as the simulated guest applies it at boot.

``CloneVM_Task`` / ``CustomizeVM_Task`` hand the spec to the guest model
(:meth:`spherekit.sim.guest.Guests.customize`); the guest applies it the next time it
boots, as VMware Tools' deployPkg does:

- identity ``CustomizationLinuxPrep``: ``hostName`` is a ``CustomizationFixedName``
  (its ``name``), a ``CustomizationVirtualMachineName`` (the VM's name, with
  characters a host name may not hold replaced by ``-``) or a ``CustomizationPrefixName``
  (``base`` followed by a number); ``domain`` becomes the guest's DNS domain.
  ``CustomizationCloudinitPrep`` hands its ``metadata`` / ``userdata`` to cloud-init
  (:mod:`spherekit.sim.guest_cloudinit`). A ``CustomizationSysprep`` identity needs a
  Windows guest (``config.guestId`` ``win...``) and LinuxPrep a non-Windows one.
- ``nicSettingMap``: entry *i* configures the VM's *i*-th NIC (or the NIC whose MAC is
  ``macAddress``): ``CustomizationFixedIp`` with ``subnetMask`` and ``gateway``, or
  ``CustomizationDhcpIpGenerator`` (the simulator's address pool); ``dnsServerList`` of
  the adapter and of ``globalIPSettings``, ``dnsSuffixList`` as search domains.

What fails (a name generator that needs input at deployment time, an invalid host name, a
fixed address that is not an IPv4 address, a bad subnet mask, the wrong identity for the
guest) makes the guest post the failure event vCenter posts instead of
``CustomizationSucceeded``: ``CustomizationLinuxIdentityFailed``,
``CustomizationNetworkSetupFailed`` or ``CustomizationFailed``; the guest then keeps its
old name and addresses. The deployPkg log is written to :data:`LOG` in the guest.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from spherekit.schema.vim25 import data as d
from spherekit.sim.guest_cloudinit import CloudInit, NicConfig, read_cloud_init

__all__ = ["LOG", "Prep", "failure_message", "read_prep", "valid_hostname"]

#: where the guest's customization log is (vCenter's events point to it)
LOG = "/var/log/vmware-imc/toolsDeployPkg.log"

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


@dataclass
class Prep:
    """What a customization spec does to the guest (or why it fails)."""

    hostname: str | None = None
    domain: str | None = None
    nics: list[NicConfig] = field(default_factory=list)
    cloud_init: CloudInit | None = None
    #: (failure event type, reason for the log); None when the spec applies
    failure: tuple[str, str] | None = None
    log: list[str] = field(default_factory=list)


def valid_hostname(name: str) -> bool:
    return _HOSTNAME.fullmatch(name) is not None


def failure_message(event_type: str, vm_name: str) -> str:
    """vCenter's message for a customization failure event."""
    if event_type == "CustomizationLinuxIdentityFailed":
        return (
            "An error occurred while setting up Linux identity. "
            f"See log file '{LOG}' on guest OS for details."
        )
    if event_type == "CustomizationNetworkSetupFailed":
        return (
            "An error occurred while setting up network properties of the guest OS. "
            f"See the log file {LOG} in the guest OS for details."
        )
    return (
        f"An error occurred while customizing VM {vm_name}. "
        f"For details reference the log file {LOG} in the guest OS."
    )


def _name(gen: Any, vm_name: str, counter: int) -> str | None:
    if isinstance(gen, d.CustomizationFixedName):
        return str(gen.name)
    if isinstance(gen, d.CustomizationVirtualMachineName):
        return re.sub(r"[^A-Za-z0-9-]", "-", vm_name).strip("-")[:63] or None
    if isinstance(gen, d.CustomizationPrefixName):
        return f"{gen.base}{counter}"
    return None  # CustomizationUnknownName / CustomizationCustomName: input we do not have


def _nic(mapping: Any, global_dns: list[str], search: list[str], prep: Prep) -> NicConfig:
    adapter = mapping.adapter
    nic = NicConfig(mac=(mapping.macAddress or "").lower() or None)
    nic.dns = [*(adapter.dnsServerList or []), *global_dns]
    nic.search = list(search)
    ip = adapter.ip
    if isinstance(ip, d.CustomizationFixedIp):
        try:
            addr = ipaddress.IPv4Address(ip.ipAddress)
            mask = adapter.subnetMask or "255.255.255.0"
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
        except ValueError as e:
            prep.failure = ("CustomizationNetworkSetupFailed", f"invalid address: {e}")
            return nic
        nic.addresses = [(str(addr), prefix)]
        gateways = list(adapter.gateway or [])
        nic.gateway = gateways[0] if gateways else None
    elif not isinstance(ip, d.CustomizationDhcpIpGenerator):
        kind = type(ip).__name__ if ip is not None else "no ip"
        prep.failure = ("CustomizationNetworkSetupFailed", f"{kind} needs input at deployment")
    return nic


def read_prep(spec: Any, vm_name: str, guest_id: str, counter: int) -> Prep:
    """What ``spec`` (a CustomizationSpec) does to a guest of ``guest_id`` named ``vm_name``."""
    prep = Prep()
    windows = guest_id.lower().startswith("win")
    identity = spec.identity
    if isinstance(identity, d.CustomizationLinuxPrep):
        if windows:
            prep.failure = ("CustomizationFailed", "LinuxPrep identity on a Windows guest")
            return prep
        prep.hostname = _name(identity.hostName, vm_name, counter)
        prep.domain = identity.domain or None
        if prep.hostname is None or not valid_hostname(prep.hostname):
            why = f"invalid host name {prep.hostname!r}" if prep.hostname else "no host name"
            prep.failure = ("CustomizationLinuxIdentityFailed", why)
            return prep
    elif isinstance(identity, d.CustomizationCloudinitPrep):
        extra = {
            "guestinfo.metadata": identity.metadata or "",
            "guestinfo.userdata": identity.userdata or "",
        }
        prep.cloud_init = read_cloud_init({k: v for k, v in extra.items() if v})
    elif isinstance(identity, d.CustomizationSysprep | d.CustomizationSysprepText):
        if not windows:
            prep.failure = ("CustomizationFailed", "Sysprep identity on a Linux guest")
            return prep
        if isinstance(identity, d.CustomizationSysprep):
            prep.hostname = _name(identity.userData.computerName, vm_name, counter)
    else:
        prep.failure = ("CustomizationFailed", f"unsupported identity {type(identity).__name__}")
        return prep
    glob = spec.globalIPSettings
    global_dns = list(getattr(glob, "dnsServerList", None) or [])
    search = list(getattr(glob, "dnsSuffixList", None) or [])
    for mapping in spec.nicSettingMap or []:
        prep.nics.append(_nic(mapping, global_dns, search, prep))
    prep.log.append(f"hostname={prep.hostname} domain={prep.domain} nics={len(prep.nics)}")
    return prep
