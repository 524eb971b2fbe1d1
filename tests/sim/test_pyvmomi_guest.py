"""pyVmomi drives the simulated guest of the served simulator, unmodified: addresses after
power-on, LinuxPrep customization, cloud-init, and "run a command and capture its output".
"""

from __future__ import annotations

import base64
import ssl
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connected, vim, wait


@pytest.fixture
def served() -> Iterator[tuple[Simulator, Any]]:
    with Simulator(seed=1, guest_ip_delay=0.05) as sim, connected(sim) as si:
        yield sim, si


def wait_ip(si: Any, vm: Any, timeout: float = 10.0) -> str:
    """A push-based wait on guest.ipAddress with pyVmomi's PropertyCollector."""
    pc = si.content.propertyCollector
    spec = vim.PropertyFilterSpec(
        objectSet=[vim.ObjectSpec(obj=vm)],
        propSet=[vim.PropertySpec(type=vim.VirtualMachine, pathSet=["guest.ipAddress"])],
    )
    collector = pc.CreatePropertyCollector()
    collector.CreateFilter(spec, partialUpdates=False)
    version = ""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            options = vim.WaitOptions(maxWaitSeconds=1)
            update = collector.WaitForUpdatesEx(version, options)
            if update is None:
                continue
            version = update.version
            for fs in update.filterSet:
                for obj in fs.objectSet:
                    for change in obj.changeSet:
                        if change.name == "guest.ipAddress" and change.val:
                            return str(change.val)
        raise AssertionError("no guest IP address")
    finally:
        collector.Destroy()


def fetch_url(sim: Simulator, url: str, data: bytes | None = None) -> bytes:
    """GET or PUT a /guestFile URL, with the simulator's host in place of '*'."""
    u = urlsplit(sim.sdk_url)
    real = url.replace("*", f"{u.hostname}:{u.port}", 1)
    context = ssl.create_default_context(cafile=sim.ca_file)
    context.check_hostname = False
    req = urllib.request.Request(real, data=data, method="PUT" if data is not None else "GET")
    with urllib.request.urlopen(req, context=context, timeout=10) as resp:
        body: bytes = resp.read()
        return body


def test_run_and_capture_output(served: tuple[Simulator, Any]) -> None:
    sim, si = served
    vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    wait(vm.PowerOff())
    wait(vm.PowerOn())
    ip = wait_ip(si, vm)
    assert ip == "10.0.0.2" and vm.guest.toolsRunningStatus == "guestToolsRunning"
    assert vm.guest.net[0].macAddress == vm.config.hardware.device[-1].macAddress
    gom = si.content.guestOperationsManager
    auth = vim.vm.guest.NamePasswordAuthentication(username="root", password="vmware")
    spec = vim.vm.guest.ProcessManager.ProgramSpec(
        programPath="/bin/sh", arguments="-c 'echo hi > /tmp/out 2>&1; exit 3'"
    )
    pid = gom.processManager.StartProgramInGuest(vm, auth, spec)
    deadline = time.monotonic() + 5
    while True:
        (info,) = gom.processManager.ListProcessesInGuest(vm, auth, [pid])
        if info.exitCode is not None:
            break
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert info.exitCode == 3 and info.endTime is not None
    transfer = gom.fileManager.InitiateFileTransferFromGuest(vm, auth, "/tmp/out")
    assert transfer.size == 3
    assert fetch_url(sim, transfer.url) == b"hi\n"
    gom.fileManager.DeleteFileInGuest(vm, auth, "/tmp/out")
    with pytest.raises(vim.fault.FileNotFound):
        gom.fileManager.InitiateFileTransferFromGuest(vm, auth, "/tmp/out")
    # and the other way: upload a script, run it
    url = gom.fileManager.InitiateFileTransferToGuest(
        vm, auth, "/root/s.sh", vim.vm.guest.FileManager.PosixFileAttributes(), 20, False
    )
    fetch_url(sim, url, b"#!/bin/sh\nexit 9\n")
    spec = vim.vm.guest.ProcessManager.ProgramSpec(programPath="/root/s.sh", arguments="")
    pid = gom.processManager.StartProgramInGuest(vm, auth, spec)
    time.sleep(0.1)
    assert gom.processManager.ListProcessesInGuest(vm, auth, [pid])[0].exitCode == 9
    bad = vim.vm.guest.NamePasswordAuthentication(username="root", password="x")
    with pytest.raises(vim.fault.InvalidGuestLogin):
        gom.processManager.ListProcessesInGuest(vm, bad, [pid])


def test_linux_prep_and_cloud_init(served: tuple[Simulator, Any]) -> None:
    _sim, si = served
    vm = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM0")
    folder = si.content.searchIndex.FindByInventoryPath("DC0/vm")
    custom = vim.vm.customization.Specification(
        identity=vim.vm.customization.LinuxPrep(
            hostName=vim.vm.customization.FixedName(name="app-01"), domain="lab.example"
        ),
        globalIPSettings=vim.vm.customization.GlobalIPSettings(dnsServerList=["10.1.1.1"]),
        nicSettingMap=[
            vim.vm.customization.AdapterMapping(
                adapter=vim.vm.customization.IPSettings(
                    ip=vim.vm.customization.FixedIp(ipAddress="192.168.7.7"),
                    subnetMask="255.255.255.0",
                    gateway=["192.168.7.1"],
                )
            )
        ],
    )
    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(), powerOn=True, template=False, customization=custom
    )
    clone = wait(vm.Clone(folder=folder, name="app-01", spec=spec))
    assert wait_ip(si, clone) == "192.168.7.7"
    assert clone.guest.hostName == "app-01"
    assert clone.summary.guest.ipAddress == "192.168.7.7"
    events = si.content.eventManager.QueryEvents(
        vim.event.EventFilterSpec(
            entity=vim.event.EventFilterSpec.ByEntity(entity=clone, recursion="self")
        )
    )
    kinds = [type(e).__name__ for e in events]
    assert "vim.event.CustomizationStartedEvent" in kinds
    assert "vim.event.CustomizationSucceeded" in kinds
    # cloud-init through guestinfo on another VM
    other = si.content.searchIndex.FindByInventoryPath("DC0/vm/DC0_H0_VM1")
    wait(other.PowerOff())
    metadata = base64.b64encode(b"instance-id: a\nlocal-hostname: ci-host\n").decode()
    extra = [
        vim.option.OptionValue(key="guestinfo.metadata", value=metadata),
        vim.option.OptionValue(key="guestinfo.metadata.encoding", value="base64"),
    ]
    wait(other.Reconfigure(vim.vm.ConfigSpec(extraConfig=extra)))
    wait(other.PowerOn())
    wait_ip(si, other)
    assert other.guest.hostName == "ci-host"
