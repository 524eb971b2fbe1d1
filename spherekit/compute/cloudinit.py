"""First-boot configuration of a node: cloud-init through ``guestinfo``, or LinuxPrep.

**cloud-init** (its VMware datasource) reads ``guestinfo.metadata`` and
``guestinfo.userdata`` from the VM's extraConfig, each with a ``.encoding`` key; we always
send ``gzip+base64``. The metadata of each node gets ``instance-id`` and
``local-hostname`` (the node's name) unless the caller's metadata sets them.

Size limit: a guestinfo value is read by the guest over the VMware Tools RPC channel, whose
guest-to-VMX messages are limited to 64 KiB (``GUESTMSG_MAX_IN_SIZE``); VMware documents
64 KiB as the largest supported cloud-init payload through guestinfo (vmware-tanzu/
vm-operator issue 138, "Guidance on the maximum, supported size of Cloud-Init userdata";
VMware Guest SDK guide, "In-Guest Communication Limits"). We therefore refuse an *encoded*
value over :data:`GUESTINFO_MAX_BYTES` before anything is written.

**LinuxPrep** (:class:`Customization`): host name, domain, static IPv4 per node (or DHCP),
DNS servers and search domains, built into a ``CustomizationSpec`` for each node.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spherekit import vim
from spherekit.errors import UsageError

__all__ = ["GUESTINFO_MAX_BYTES", "Customization", "UserDataTooLarge", "encode", "guestinfo"]

#: the largest encoded guestinfo value we send (64 KiB, see the module documentation)
GUESTINFO_MAX_BYTES = 64 * 1024


class UserDataTooLarge(UsageError):
    """cloud-init user-data or metadata over what vSphere's guestinfo accepts."""


def encode(data: str | bytes) -> str:
    """gzip, then base64 (``.encoding = gzip+base64``)."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")


def _metadata(meta: str | bytes | Mapping[str, Any] | None, node: str) -> str | bytes:
    if meta is None or isinstance(meta, Mapping):
        doc = {"instance-id": node, "local-hostname": node, **(meta or {})}
        return json.dumps(doc, sort_keys=True)
    return meta


def guestinfo(
    node: str,
    user_data: str | bytes | None,
    meta_data: str | bytes | Mapping[str, Any] | None,
) -> list[vim.OptionValue]:
    """The extraConfig entries that hand cloud-init its data for ``node`` (empty if none)."""
    if user_data is None and meta_data is None:
        return []
    out: list[vim.OptionValue] = []
    for key, value in (("metadata", _metadata(meta_data, node)), ("userdata", user_data)):
        if value is None:
            continue
        if not isinstance(value, str | bytes):
            raise UsageError(f"cloud-init {key} is text or bytes, not {type(value).__name__}")
        encoded = encode(value)
        if len(encoded) > GUESTINFO_MAX_BYTES:
            raise UserDataTooLarge(
                f"cloud-init {key} is {len(encoded)} bytes after gzip+base64; vSphere's "
                f"guestinfo accepts at most {GUESTINFO_MAX_BYTES} bytes per value. Fetch "
                "large files from the guest instead (e.g. #include a URL)"
            )
        out += [
            vim.OptionValue(key=f"guestinfo.{key}", value=encoded),
            vim.OptionValue(key=f"guestinfo.{key}.encoding", value="gzip+base64"),
        ]
    return out


@dataclass(frozen=True)
class Customization:
    """LinuxPrep guest customization, one spec per node.

    ``hostname`` None names each guest after its node; with several nodes a fixed
    ``hostname`` gets ``-<n>`` appended. ``ips`` gives one static IPv4 address per node (in
    node order); None means DHCP.
    """

    hostname: str | None = None
    domain: str = "local"
    ips: Sequence[str] | None = None
    netmask: str = "255.255.255.0"
    gateway: str | None = None
    dns_servers: Sequence[str] = field(default_factory=tuple)
    dns_suffixes: Sequence[str] = field(default_factory=tuple)
    time_zone: str | None = None

    def check(self, count: int) -> None:
        """Refuse what cannot work, before anything is written."""
        if self.ips is not None and len(self.ips) != count:
            raise UsageError(f"customization has {len(self.ips)} IPs for {count} nodes")
        for a in [*(self.ips or ()), *([self.gateway] if self.gateway else []),
                  *self.dns_servers]:  # fmt: skip
            try:
                ipaddress.ip_address(a)
            except ValueError:
                raise UsageError(f"customization: {a!r} is not an IP address") from None
        try:
            ipaddress.IPv4Network(f"0.0.0.0/{self.netmask}")
        except ValueError:
            raise UsageError(f"customization: bad netmask {self.netmask!r}") from None

    def spec(self, index: int, node: str, count: int) -> vim.CustomizationSpec:
        """The CustomizationSpec of the ``index``-th (0-based) of ``count`` nodes."""
        if self.hostname is None:
            name: Any = vim.CustomizationVirtualMachineName()
        else:
            host = self.hostname if count == 1 else f"{self.hostname}-{index + 1}"
            name = vim.CustomizationFixedName(name=host)
        ip: Any = vim.CustomizationDhcpIpGenerator()
        settings = vim.CustomizationIPSettings(ip=ip)
        if self.ips is not None:
            settings = vim.CustomizationIPSettings(
                ip=vim.CustomizationFixedIp(ipAddress=self.ips[index]),
                subnetMask=self.netmask,
                gateway=[self.gateway] if self.gateway else None,
                dnsServerList=list(self.dns_servers) or None,
            )
        return vim.CustomizationSpec(
            identity=vim.CustomizationLinuxPrep(
                hostName=name, domain=self.domain, timeZone=self.time_zone, hwClockUTC=True
            ),
            globalIPSettings=vim.CustomizationGlobalIPSettings(
                dnsServerList=list(self.dns_servers) or None,
                dnsSuffixList=list(self.dns_suffixes) or None,
            ),
            nicSettingMap=[vim.CustomizationAdapterMapping(adapter=settings)],
        )
