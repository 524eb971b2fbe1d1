"""The simulated guest: tools and addresses after power-on, cloud-init, LinuxPrep."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim.guest_cloudinit import parse_yaml
from tests.sim.conftest import SimFactory, Target

VM0 = "DC0/vm/DC0_H0_VM0"
VM1 = "DC0/vm/DC0_H0_VM1"


@pytest.fixture
def sim(sim_factory: SimFactory) -> Target:
    return sim_factory(seed=1, guest_ip_delay=0.05)


def run(s: spherekit.Session, vm: MoRef, method: str, **kw: Any) -> Any:
    return spherekit.wait_for_task(s, s.call(vm, method, **kw))


def get(s: spherekit.Session, vm: MoRef, *paths: str) -> dict[str, Any]:
    rows = spherekit.fetch(s, "VirtualMachine", list(paths))
    return next(values for ref, values in rows if ref == vm)


def boot(s: spherekit.Session, vm: MoRef) -> str:
    """Power-cycle ``vm`` and wait (push-based) for its guest's IP address."""
    if get(s, vm, "runtime.powerState")["runtime.powerState"] == "poweredOn":
        run(s, vm, "PowerOffVM_Task")
    run(s, vm, "PowerOnVM_Task")
    return str(spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10))


def reconfig(s: spherekit.Session, vm: MoRef, extra: dict[str, str]) -> None:
    opts = [d.OptionValue(key=k, value=v) for k, v in extra.items()]
    run(s, vm, "ReconfigVM_Task", spec=d.VirtualMachineConfigSpec(extraConfig=opts))


def events(sim: Target, since: int = 0) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.fullFormattedMessage or "")
        for e in list(sim.backend.events.events)[since:]
    ]


def test_tools_then_addresses_after_power_on(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    run(s, vm, "PowerOnVM_Task")
    row = get(s, vm, "guest.toolsRunningStatus", "guest.toolsStatus", "guest.guestState")
    assert row == {
        "guest.toolsRunningStatus": "guestToolsRunning",
        "guest.toolsStatus": "toolsOk",
        "guest.guestState": "running",
    }
    ip = spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10)
    assert ip == "10.0.0.2"  # the pool's first address after the gateway
    row = get(s, vm, "guest", "summary.guest", "config.hardware.device", "guestHeartbeatStatus")
    guest, summary = row["guest"], row["summary.guest"]
    nic = next(x for x in row["config.hardware.device"] if isinstance(x, d.VirtualEthernetCard))
    assert guest.hostName == "DC0_H0_VM0" and guest.guestId == "otherGuest"
    (info,) = guest.net
    assert info.macAddress == nic.macAddress and info.deviceConfigId == nic.key
    assert info.network == "DC0_DVPG0" and info.connected is True
    assert info.ipAddress[0] == ip and info.ipAddress[1].startswith("fe80::250:56ff:fe")
    assert info.ipConfig.ipAddress[0].prefixLength == 16
    assert summary.ipAddress == ip and summary.hostName == "DC0_H0_VM0"
    assert summary.toolsRunningStatus == "guestToolsRunning"
    assert row["guestHeartbeatStatus"] == "green"
    assert guest.ipStack[0].ipRouteConfig.ipRoute[0].gateway.ipAddress == "10.0.0.1"


def test_power_off_clears_and_the_address_is_stable(session: spherekit.Session) -> None:
    s = session
    vm0, vm1 = find.by_path(s, VM0), find.by_path(s, VM1)
    first = boot(s, vm0)
    second = boot(s, vm1)
    assert (first, second) == ("10.0.0.2", "10.0.0.3")
    run(s, vm0, "PowerOffVM_Task")
    row = get(s, vm0, "guest", "summary.guest")
    assert row["guest"].toolsRunningStatus == "guestToolsNotRunning"
    assert row["guest"].toolsStatus == "toolsNotRunning"
    assert row["guest"].ipAddress is None and row["guest"].net is None
    assert row["summary.guest"].ipAddress is None
    assert boot(s, vm0) == first  # kept across power cycles
    run(s, vm0, "ResetVM_Task")
    assert spherekit.wait_for(s, vm0, "guest.ipAddress", timeout=10) == first
    # removing a VM gives its address back; the next VM to need one gets it
    run(s, vm0, "PowerOffVM_Task")
    run(s, vm0, "Destroy_Task")
    vm2 = find.by_path(s, "DC0/vm/DC0_C0_RP0_VM0")
    assert boot(s, vm2) == first


def test_the_ip_timer_does_nothing_after_power_off(sim_factory: SimFactory) -> None:
    sim = sim_factory(seed=1, guest_ip_delay=0.3)
    s = sim.connect()
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    run(s, vm, "PowerOnVM_Task")
    run(s, vm, "PowerOffVM_Task")
    with pytest.raises(spherekit.errors.WaitTimeout):
        spherekit.wait_for(s, vm, "guest.ipAddress", timeout=0.6)


def test_a_guest_without_tools_reports_nothing(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    reconfig(s, vm, {"guestinfo.sim.tools": "none"})
    run(s, vm, "PowerOnVM_Task")
    row = get(s, vm, "guest.toolsRunningStatus", "guest.toolsStatus")
    assert row["guest.toolsRunningStatus"] == "guestToolsNotRunning"
    assert row["guest.toolsStatus"] == "toolsNotInstalled"
    with pytest.raises(faults.ToolsUnavailable):
        s.call(vm, "ShutdownGuest")


def _b64gz(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode())).decode()


def test_cloud_init_sets_hostname_addresses_and_files(
    sim: Target, session: spherekit.Session
) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    metadata = """
instance-id: i-0001
local-hostname: web-1
network:
  version: 2
  ethernets:
    nic0:
      addresses: [192.168.50.10/24]
      gateway4: 192.168.50.1
      nameservers:
        addresses: [192.168.50.2]
        search: [lab.example]
"""
    userdata = """#cloud-config
write_files:
  - path: /etc/app/config.json
    content: |
      {"ok": true}
    permissions: '0600'
runcmd:
  - echo started > /var/tmp/marker
  - [sh, -c, "echo from runcmd"]
"""
    reconfig(
        s,
        vm,
        {
            "guestinfo.metadata": base64.b64encode(metadata.encode()).decode(),
            "guestinfo.metadata.encoding": "base64",
            "guestinfo.userdata": _b64gz(userdata),
            "guestinfo.userdata.encoding": "gzip+base64",
        },
    )
    start = len(sim.backend.events.events)
    run(s, vm, "PowerOnVM_Task")
    assert spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10) == "192.168.50.10"
    guest = get(s, vm, "guest")["guest"]
    assert guest.hostName == "web-1"
    assert guest.net[0].ipConfig.ipAddress[0].origin == "manual"
    assert guest.ipStack[0].dnsConfig.ipAddress == ["192.168.50.2"]
    assert guest.ipStack[0].dnsConfig.searchDomain == ["lab.example"]
    fs = sim.backend.guests.states[vm].fs
    assert fs.read("/etc/app/config.json") == b'{"ok": true}\n'
    assert fs.get("/etc/app/config.json").mode == 0o600
    assert fs.read("/var/tmp/marker") == b"started\n"
    assert fs.read("/var/log/cloud-init-output.log") == b"from runcmd\n"
    assert fs.read("/etc/hostname") == b"web-1\n"
    # cloud-init is invisible to vCenter: only the power events
    assert {kind for kind, _ in events(sim, start)} <= {
        "TaskEvent", "VmStartingEvent", "VmPoweredOnEvent",
    }  # fmt: skip
    # per-instance modules run once: a second boot does not run runcmd again
    fs.remove("/var/tmp/marker")
    boot(s, vm)
    assert not fs.exists("/var/tmp/marker")


def test_cloud_config_hostname_and_plain_metadata(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    reconfig(
        s,
        vm,
        {
            "guestinfo.metadata": '{"instance-id": "x", "local-hostname": "meta"}',
            "guestinfo.userdata": "#cloud-config\nfqdn: app.example.com\n",
        },
    )
    assert boot(s, vm) == "10.0.0.2"  # no network section: DHCP from the pool
    assert get(s, vm, "guest.hostName")["guest.hostName"] == "app"


def test_yaml_subset() -> None:
    doc = parse_yaml(
        "a: 1\nb: [x, 'y z', {k: v}]\nc:\n- d: e\n  f: no\n- plain # comment\n"
        'g: >-\n  folded\n  text\nh: "q\\tx"\n'
    )
    assert doc == {
        "a": 1,
        "b": ["x", "y z", {"k": "v"}],
        "c": [{"d": "e", "f": False}, "plain"],
        "g": "folded text",
        "h": "q\tx",
    }


def _linux_prep(name: Any, ip: Any, **adapter: Any) -> d.CustomizationSpec:
    return d.CustomizationSpec(
        identity=d.CustomizationLinuxPrep(hostName=name, domain="corp.example"),
        globalIPSettings=d.CustomizationGlobalIPSettings(dnsServerList=["10.9.9.9"]),
        nicSettingMap=[
            d.CustomizationAdapterMapping(adapter=d.CustomizationIPSettings(ip=ip, **adapter))
        ],
    )


def test_linux_prep_applies_at_next_boot(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    spec = _linux_prep(
        d.CustomizationFixedName(name="db-01"),
        d.CustomizationFixedIp(ipAddress="172.16.5.20"),
        subnetMask="255.255.255.0",
        gateway=["172.16.5.1"],
    )
    run(s, vm, "CustomizeVM_Task", spec=spec)
    pending = get(s, vm, "config.tools.pendingCustomization")
    assert pending.get("config.tools.pendingCustomization")
    start = len(sim.backend.events.events)
    run(s, vm, "PowerOnVM_Task")
    assert spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10) == "172.16.5.20"
    guest = get(s, vm, "guest")["guest"]
    assert guest.hostName == "db-01"
    assert guest.ipStack[0].dnsConfig.domainName == "corp.example"
    assert guest.ipStack[0].dnsConfig.ipAddress == ["10.9.9.9"]
    assert guest.net[0].ipConfig.ipAddress[0].prefixLength == 24
    assert guest.customizationInfo.customizationStatus == "TOOLSDEPLOYPKG_SUCCEEDED"
    assert "config.tools.pendingCustomization" not in get(
        s, vm, "config.tools.pendingCustomization"
    )
    log = "/var/log/vmware-imc/toolsDeployPkg.log"
    custom = [e for e in events(sim, start) if e[0].startswith("Customization")]
    assert custom == [
        (
            "CustomizationStartedEvent",
            f"Started customization of VM DC0_H0_VM0. Customization log located at {log} in "
            "the guest OS.",
        ),
        (
            "CustomizationSucceeded",
            f"Customization of VM DC0_H0_VM0 succeeded. Customization log located at {log} in "
            "the guest OS.",
        ),
    ]
    # applied once; the name and address persist in the guest
    start = len(sim.backend.events.events)
    assert boot(s, vm) == "172.16.5.20"
    assert not [e for e in events(sim, start) if e[0].startswith("Customization")]


def test_clone_with_vm_name_generator_and_dhcp(sim: Target, session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    folder = find.by_path(s, "DC0/vm")
    spec = d.VirtualMachineCloneSpec(
        location=d.VirtualMachineRelocateSpec(),
        powerOn=True,
        template=False,
        customization=_linux_prep(
            d.CustomizationVirtualMachineName(), d.CustomizationDhcpIpGenerator()
        ),
    )
    clone = run(s, vm, "CloneVM_Task", folder=folder, name="web_7", spec=spec)
    ip = spherekit.wait_for(s, clone, "guest.ipAddress", timeout=10)
    assert ip.startswith("10.0.")
    assert get(s, clone, "guest.hostName")["guest.hostName"] == "web-7"
    kinds = [e[0] for e in events(sim) if e[0].startswith("Customization")]
    assert kinds == ["CustomizationStartedEvent", "CustomizationSucceeded"]


@pytest.mark.parametrize(
    ("identity", "ip", "failure"),
    [
        (
            d.CustomizationSysprep(
                guiUnattended=d.CustomizationGuiUnattended(
                    timeZone=0, autoLogon=False, autoLogonCount=0
                ),
                identification=d.CustomizationIdentification(),
                userData=d.CustomizationUserData(
                    fullName="a",
                    orgName="b",
                    computerName=d.CustomizationFixedName(name="w"),
                    productId="",
                ),
            ),
            d.CustomizationDhcpIpGenerator(),
            "CustomizationFailed",
        ),
        (None, d.CustomizationFixedIp(ipAddress="300.1.2.3"), "CustomizationNetworkSetupFailed"),
        (None, d.CustomizationDhcpIpGenerator(), "CustomizationLinuxIdentityFailed"),
    ],
)
def test_invalid_customization_fails_at_boot(
    sim: Target, session: spherekit.Session, identity: Any, ip: Any, failure: str
) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    spec = _linux_prep(
        d.CustomizationFixedName(name="bad name" if failure.endswith("IdentityFailed") else "ok"),
        ip,
    )
    if identity is not None:
        spec.identity = identity
    run(s, vm, "CustomizeVM_Task", spec=spec)
    start = len(sim.backend.events.events)
    assert boot(s, vm) == "10.0.0.2"  # the guest keeps its old settings
    custom = [e for e in events(sim, start) if e[0].startswith("Customization")]
    assert [e[0] for e in custom] == ["CustomizationStartedEvent", failure]
    guest = get(s, vm, "guest")["guest"]
    assert guest.hostName == "DC0_H0_VM0"
    assert guest.customizationInfo.customizationStatus == "TOOLSDEPLOYPKG_FAILED"


def test_customize_checks_the_nic_count(session: spherekit.Session) -> None:
    s = session
    vm = find.by_path(s, VM0)
    run(s, vm, "PowerOffVM_Task")
    spec = _linux_prep(d.CustomizationFixedName(name="x"), d.CustomizationDhcpIpGenerator())
    spec.nicSettingMap = list(spec.nicSettingMap or []) * 2
    with pytest.raises(faults.NicSettingMismatch) as info:
        run(s, vm, "CustomizeVM_Task", spec=spec)
    assert info.value.numberOfNicsInSpec == 2 and info.value.numberOfNicsInVM == 1
