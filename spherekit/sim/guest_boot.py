"""A guest's boot and what its tools report: GuestInfo, summary.guest, guest.net.

See :mod:`spherekit.sim.guest` for the model; this module builds the values and makes
the registry updates (registry lock held throughout).

``guest.customizationInfo`` is reported only by a simulator serving API 7.0.2.0 or newer
(:attr:`Settings.api_version <spherekit.sim.backend.Settings.api_version>`), as vSphere
7.0 U2 introduced it; older servers tell a customization's outcome only through the
``CustomizationStartedEvent`` / ``CustomizationSucceeded`` / ``CustomizationFailed``
events, which are posted at every version.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.registry import version_index
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim.events import emit
from spherekit.sim.guest_cloudinit import CloudInit, NicConfig, read_cloud_init
from spherekit.sim.guest_custom import LOG, failure_message, read_prep
from spherekit.sim.guest_fs import GuestFs, GuestFsError
from spherekit.sim.guest_proc import GuestState, environment, hostname
from spherekit.sim.guest_shell import Shell, run_script
from spherekit.sim.values import sparse

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["INFO_SINCE", "TOOLS_VERSION", "boot_guest", "extra_config", "network_up", "publish_off"]

#: open-vm-tools 12.3.0, as ``guest.toolsVersion`` encodes it
TOOLS_VERSION = "12352"
_NO_TOOLS = ("none", "false", "no", "0", "notinstalled")
_OUTPUT_LOG = "/var/log/cloud-init-output.log"
#: the first API version whose GuestInfo has ``customizationInfo`` (vSphere 7.0 U2)
INFO_SINCE = "7.0.2.0"


def _custom_info(ctx: Context, st: GuestState) -> Any:
    """The guest's customization state as the served API version reports it (or None)."""
    if version_index(ctx.backend.settings.api_version) < version_index(INFO_SINCE):
        return None
    return st.custom_info


def extra_config(config: Any) -> dict[str, str]:
    return {o.key: "" if o.value is None else str(o.value) for o in config.extraConfig or []}


def _nics(config: Any) -> list[Any]:
    return [x for x in config.hardware.device or [] if isinstance(x, d.VirtualEthernetCard)]


def _match(nics: list[Any], configs: list[NicConfig]) -> dict[int, NicConfig]:
    """NIC settings by device key: by MAC where given, else in device order."""
    out: dict[int, NicConfig] = {}
    for i, cfg in enumerate(configs):
        dev = next((n for n in nics if cfg.mac and (n.macAddress or "").lower() == cfg.mac), None)
        if dev is None and not cfg.mac and i < len(nics):
            dev = nics[i]
        if dev is not None:
            out[dev.key] = cfg
    return out


def _log(fs: GuestFs, path: str, text: str) -> None:
    try:
        fs.mkdir(posixpath.dirname(path), parents=True)
        fs.write(path, text.encode(), append=True)
    except GuestFsError:
        pass


def _customize(
    ctx: Context, vm: MoRef, st: GuestState, spec: Any, counter: int
) -> CloudInit | None:
    reg = ctx.registry
    props = reg.props(vm)
    config = props["config"]
    assert st.fs is not None
    name = props["name"]
    prep = read_prep(spec, name, config.guestId or "", counter)
    text = (
        f"Started customization of VM {name}. Customization log located at {LOG} in the guest OS."
    )
    emit(ctx, "CustomizationStartedEvent", entity=vm, message=text, logLocation=LOG, template=False)
    now = datetime.now(UTC)
    st.custom_info = d.GuestInfoCustomizationInfo(
        customizationStatus=e.GuestInfoCustomizationStatus.TOOLSDEPLOYPKG_RUNNING, startTime=now
    )
    _log(st.fs, LOG, f"{now.isoformat()} deployPkg: {'; '.join(prep.log) or 'start'}\n")
    if config.tools is not None and config.tools.pendingCustomization:
        reg.update(vm, {"config.tools.pendingCustomization": None})
    if prep.failure is not None:
        st.custom_result = prep.failure
        _log(st.fs, LOG, f"customization failed: {prep.failure[1]}\n")
        return None
    st.custom_result = ("CustomizationSucceeded", "")
    st.hostname = prep.hostname or st.hostname
    st.domain = prep.domain or st.domain
    st.static.update(_match(_nics(config), prep.nics))
    return prep.cloud_init


def _cloud_init(ctx: Context, vm: MoRef, st: GuestState, ci: CloudInit) -> None:
    props = ctx.registry.props(vm)
    fs = st.fs
    assert fs is not None
    for why in ci.errors:
        _log(fs, "/var/log/cloud-init.log", f"WARNING: {why}\n")
    if ci.hostname:
        st.hostname = ci.hostname
        st.domain = ci.domain or st.domain
    if ci.nics is not None:
        st.boot_nics = _match(_nics(props["config"]), ci.nics)
    instance = ci.instance_id or props["config"].instanceUuid or vm.value
    if st.instance == instance:
        return
    st.instance = instance
    for path, data, mode, append in ci.files:
        try:
            fs.mkdir(posixpath.dirname(fs.norm(path)), parents=True)
            fs.write(path, data, append=append, mode=mode)
        except GuestFsError as e:
            _log(fs, "/var/log/cloud-init.log", f"WARNING: write_files {path}: {e.kind}\n")
    for command in ci.commands:
        out = bytearray()
        shell = Shell(fs, environment("root"), "/", hostname(ctx, vm, st))
        steps = run_script(shell, command, b"", out, out)
        try:
            while True:
                next(steps)  # at boot, sleeps take no simulated time
        except StopIteration:
            pass
        _log(fs, _OUTPUT_LOG, out.decode(errors="replace"))


def boot_guest(ctx: Context, vm: MoRef, st: GuestState, spec: Any, counter: int) -> bool:
    """Boot ``vm``'s guest; True if its tools run (the network comes up later)."""
    props = ctx.registry.props(vm)
    config = props["config"]
    extra = extra_config(config)
    if extra.get("guestinfo.sim.tools", "").lower() in _NO_TOOLS:
        return False
    if st.fs is None:
        st.fs = GuestFs(props["name"])
    st.running = True
    st.booted_at = datetime.now(UTC)
    ci = _customize(ctx, vm, st, spec, counter) if spec is not None else None
    ci = ci or read_cloud_init(extra)
    if ci is not None:
        _cloud_init(ctx, vm, st, ci)
    st.fs.write("/etc/hostname", (hostname(ctx, vm, st) + "\n").encode())
    _publish(ctx, vm, st, network=False)
    return True


def network_up(ctx: Context, st: GuestState) -> None:
    """The guest's network is configured: addresses and host name are reported, and the
    customization's outcome is posted."""
    vm = ctx.this
    _publish(ctx, vm, st, network=True)
    if st.custom_result is None:
        return
    kind, why = st.custom_result
    st.custom_result = None
    name = ctx.registry.prop(vm, "name")
    status = e.GuestInfoCustomizationStatus
    done = kind == "CustomizationSucceeded"
    st.custom_info = d.GuestInfoCustomizationInfo(
        customizationStatus=status.TOOLSDEPLOYPKG_SUCCEEDED
        if done
        else status.TOOLSDEPLOYPKG_FAILED,
        startTime=getattr(st.custom_info, "startTime", None),
        endTime=datetime.now(UTC),
        errorMsg=None if done else why,
    )
    if _custom_info(ctx, st) is not None:
        ctx.registry.update(vm, {"guest.customizationInfo": st.custom_info})
    text = (
        f"Customization of VM {name} succeeded. Customization log located at {LOG} in the guest OS."
        if done
        else failure_message(kind, name)
    )
    emit(ctx, kind, entity=vm, message=text, logLocation=LOG, template=False)


def _network_name(ctx: Context, nic: Any) -> str:
    backing = nic.backing
    if isinstance(backing, d.VirtualEthernetCardNetworkBackingInfo):
        return str(backing.deviceName or "")
    port = getattr(backing, "port", None)
    key = getattr(port, "portgroupKey", None)
    for pg in ctx.registry.of_type("DistributedVirtualPortgroup"):
        if ctx.registry.prop(pg, "key") == key:
            return str(ctx.registry.prop(pg, "name"))
    return ""


def _link_local(mac: str) -> str:
    b = [int(x, 16) for x in mac.split(":")]
    eui = [b[0] ^ 2, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def _network(ctx: Context, vm: MoRef, st: GuestState) -> tuple[list[Any], str | None, list[Any]]:
    pool = ctx.backend.guests.pool
    config = ctx.registry.props(vm)["config"]
    net: list[Any] = []
    first: str | None = None
    dns: list[str] = []
    search: list[str] = []
    gateway: str | None = None
    dhcp = False
    for nic in _nics(config):
        conn = nic.connectable
        connected = conn is None or bool(conn.connected or conn.startConnected)
        cfg = st.boot_nics.get(nic.key) or st.static.get(nic.key) or NicConfig()
        addrs: list[tuple[str, int, str]] = []
        if connected and cfg.addresses:
            addrs = [(ip, prefix, "manual") for ip, prefix in cfg.addresses]
        elif connected:
            ip = pool.address(vm, nic.key)
            addrs = [(ip, pool.prefix, "dhcp")] if ip is not None else []
            dhcp = dhcp or bool(addrs)
            cfg = NicConfig(gateway=cfg.gateway or pool.gateway, dns=cfg.dns, search=cfg.search)
        v6 = _link_local(nic.macAddress) if nic.macAddress else None
        infos = [
            d.NetIpConfigInfoIpAddress(ipAddress=ip, prefixLength=p, origin=o, state="preferred")
            for ip, p, o in addrs
        ]
        if v6 is not None and connected:
            infos.append(
                d.NetIpConfigInfoIpAddress(
                    ipAddress=v6, prefixLength=64, origin="linklayer", state="unknown"
                )
            )
        if first is None and addrs:
            first = addrs[0][0]
            gateway = cfg.gateway
        dns += [x for x in cfg.dns if x not in dns]
        search += [x for x in cfg.search if x not in search]
        net.append(
            d.GuestNicInfo(
                network=_network_name(ctx, nic) or None,
                ipAddress=[i.ipAddress for i in infos] or None,
                macAddress=nic.macAddress,
                connected=connected,
                deviceConfigId=nic.key,
                ipConfig=d.NetIpConfigInfo(ipAddress=infos or None) if infos else None,
            )
        )
    routes = None
    if gateway:
        route = d.NetIpRouteConfigInfoIpRoute(
            network="0.0.0.0",
            prefixLength=0,
            gateway=d.NetIpRouteConfigInfoGateway(ipAddress=gateway, device="0"),
        )
        routes = d.NetIpRouteConfigInfo(ipRoute=[route])
    dns_config = d.NetDnsConfigInfo(
        dhcp=dhcp,
        hostName=hostname(ctx, vm, st),
        domainName=st.domain or "",
        ipAddress=dns or None,
        searchDomain=search or None,
    )
    return net, first, [d.GuestStackInfo(dnsConfig=dns_config, ipRouteConfig=routes)]


def _update(ctx: Context, vm: MoRef, guest: Any, heartbeat: str) -> None:
    props = ctx.registry.props(vm)
    summary = d.VirtualMachineGuestSummary(
        guestId=guest.guestId,
        guestFullName=guest.guestFullName,
        toolsStatus=guest.toolsStatus,
        toolsVersionStatus=guest.toolsVersionStatus,
        toolsVersionStatus2=guest.toolsVersionStatus2,
        toolsRunningStatus=guest.toolsRunningStatus,
        hostName=guest.hostName,
        ipAddress=guest.ipAddress,
        hwVersion=guest.hwVersion,
    )
    changes: dict[str, Any] = {"guest": sparse(guest), "guestHeartbeatStatus": heartbeat}
    summary_now = props.get("summary")
    if summary_now is not None:
        changes["summary.guest"] = sparse(summary)
        if summary_now.quickStats is not None:
            changes["summary.quickStats.guestHeartbeatStatus"] = heartbeat
    ctx.registry.update(vm, changes)


def _family(guest_id: str) -> str:
    g = guest_id.lower()
    if g.startswith("win"):
        return "windowsGuest"
    if g.startswith(("darwin", "solaris", "freebsd", "netware", "os2", "dos", "other")):
        return "linuxGuest" if "linux" in g else "otherGuestFamily"
    return "linuxGuest"


def _publish(ctx: Context, vm: MoRef, st: GuestState, *, network: bool) -> None:
    config = ctx.registry.props(vm)["config"]
    net, ip, stack = _network(ctx, vm, st) if network else (None, None, None)
    guest = d.GuestInfo(
        toolsStatus=e.VirtualMachineToolsStatus.toolsOk,
        toolsVersionStatus="guestToolsUnmanaged",
        toolsVersionStatus2="guestToolsUnmanaged",
        toolsRunningStatus="guestToolsRunning",
        toolsVersion=TOOLS_VERSION,
        toolsInstallType="guestToolsTypeOpenVMTools",
        guestId=config.guestId,
        guestFamily=_family(config.guestId or ""),
        guestFullName=config.guestFullName,
        hostName=hostname(ctx, vm, st) if network else None,
        ipAddress=ip,
        net=net or None,
        ipStack=stack,
        guestState="running",
        appHeartbeatStatus="appStatusGray",
        guestKernelCrashed=False,
        guestOperationsReady=True,
        interactiveGuestOperationsReady=False,
        guestStateChangeSupported=True,
        hwVersion=config.version,
        customizationInfo=_custom_info(ctx, st),
    )
    _update(ctx, vm, guest, "green")


def publish_off(ctx: Context, vm: MoRef, st: GuestState) -> None:
    """The guest stopped: tools not running, no addresses (a guest that never reported
    anything stays as it is)."""
    props = ctx.registry.props(vm)
    old = props.get("guest")
    if old is None or (st.fs is None and old.toolsRunningStatus != "guestToolsRunning"):
        return
    config = props["config"]
    guest = d.GuestInfo(
        toolsStatus=e.VirtualMachineToolsStatus.toolsNotRunning,
        toolsVersionStatus="guestToolsUnmanaged",
        toolsVersionStatus2="guestToolsUnmanaged",
        toolsRunningStatus="guestToolsNotRunning",
        toolsVersion=TOOLS_VERSION,
        toolsInstallType="guestToolsTypeOpenVMTools",
        guestId=config.guestId,
        guestFamily=_family(config.guestId or ""),
        guestFullName=config.guestFullName,
        guestState="notRunning",
        appHeartbeatStatus="appStatusGray",
        guestOperationsReady=False,
        interactiveGuestOperationsReady=False,
        guestStateChangeSupported=False,
        hwVersion=config.version,
        customizationInfo=_custom_info(ctx, st),
    )
    _update(ctx, vm, guest, "gray")
