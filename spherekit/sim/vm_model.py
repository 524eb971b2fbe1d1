"""Virtual machines as vCenter describes them: config, devices, runtime, guest, summary.

A :class:`VmFactory` builds the values once per placement (host, pool, folder, datastore,
network) and then makes each VM from them, copying only what differs per VM (name, UUIDs,
files, the disk's file, the NIC's MAC). Shared values are safe because the registry never
changes a stored value in place, and they keep 10,000 VMs small and quick to build.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim.registry import Registry
from spherekit.sim.values import clone, sparse

__all__ = ["MERGED_CONFIG_FIELDS", "Placement", "VmFactory", "config_changes"]

GUEST_ID = "otherGuest"
GUEST_NAME = "Other (32-bit)"
HW_VERSION = "vmx-21"
DISK_KB = 1024 * 1024  # 1 GiB, thin


#: ConfigSpec fields whose data objects are laid over the configuration's own (a spec sets
#: some of their fields)
MERGED_CONFIG_FIELDS = ("bootOptions", "tools", "flags", "cpuAllocation", "memoryAllocation")


def config_changes(config: Any, spec: Any, plain: Iterable[str]) -> dict[str, Any]:
    """What a ``VirtualMachineConfigSpec`` sets in a ``VirtualMachineConfigInfo``: each of
    the ``plain`` fields it sets, as given, and each of :data:`MERGED_CONFIG_FIELDS` it
    sets, laid over ``config``'s own value."""
    changes: dict[str, Any] = {}
    for attr in plain:
        value = getattr(spec, attr)
        if value is not None:
            changes[attr] = value
    for attr in MERGED_CONFIG_FIELDS:
        given = getattr(spec, attr)
        if given is not None:
            base = getattr(config, attr)
            fields = {k: v for k, v in given.__dict__.items() if v is not None}
            changes[attr] = clone(base, **fields) if base is not None else given
    return changes


@dataclass(frozen=True)
class Placement:
    """Where new VMs go and what they are connected to."""

    folder: MoRef
    host: MoRef
    pool: MoRef
    datastore: MoRef
    datastore_name: str
    network: MoRef
    network_name: str
    environment_browser: MoRef | None = None
    #: (switch UUID, portgroup key) when ``network`` is a distributed portgroup
    dvs_port: tuple[str, str] | None = None


def _desc(label: str, summary: str | None = None) -> d.Description:
    return d.Description(label=label, summary=summary or label)


def _fixed_devices() -> list[d.VirtualDevice]:
    """The devices every VM has that do not depend on the VM (shared between VMs)."""
    return [
        d.VirtualIDEController(key=200, deviceInfo=_desc("IDE 0"), busNumber=0, device=[3000]),
        d.VirtualIDEController(key=201, deviceInfo=_desc("IDE 1"), busNumber=1),
        d.VirtualPS2Controller(
            key=300, deviceInfo=_desc("PS2 controller 0"), busNumber=0, device=[600, 700]
        ),
        d.VirtualPCIController(
            key=100,
            deviceInfo=_desc("PCI controller 0"),
            busNumber=0,
            device=[500, 12000, 1000, 4000],
        ),
        d.VirtualSIOController(key=400, deviceInfo=_desc("SIO controller 0"), busNumber=0),
        d.VirtualKeyboard(key=600, deviceInfo=_desc("Keyboard"), controllerKey=300, unitNumber=0),
        d.VirtualPointingDevice(
            key=700,
            deviceInfo=_desc("Pointing device", "Pointing device; Device"),
            backing=d.VirtualPointingDeviceDeviceBackingInfo(
                deviceName="", useAutoDetect=False, hostPointingDevice="autodetect"
            ),
            controllerKey=300,
            unitNumber=1,
        ),
        d.VirtualMachineVideoCard(
            key=500,
            deviceInfo=_desc("Video card ", "Video card"),
            controllerKey=100,
            unitNumber=0,
            videoRamSizeInKB=4096,
            numDisplays=1,
            useAutoDetect=False,
            enable3DSupport=False,
            use3dRenderer="automatic",
            graphicsMemorySizeInKB=262144,
        ),
        d.VirtualMachineVMCIDevice(
            key=12000,
            deviceInfo=_desc(
                "VMCI device",
                "Device on the virtual machine PCI bus that "
                "provides support for the virtual machine communication interface",
            ),
            controllerKey=100,
            unitNumber=17,
            id=-1,
            allowUnrestrictedCommunication=False,
            filterEnable=True,
        ),
        d.ParaVirtualSCSIController(
            key=1000,
            deviceInfo=_desc("SCSI controller 0", "VMware paravirtual SCSI"),
            controllerKey=100,
            unitNumber=3,
            busNumber=0,
            device=[2000],
            hotAddRemove=True,
            sharedBus=e.VirtualSCSISharing.noSharing,
            scsiCtlrUnitNumber=7,
        ),
        d.VirtualCdrom(
            key=3000,
            deviceInfo=_desc("CD/DVD drive 1", "Remote device"),
            backing=d.VirtualCdromRemotePassthroughBackingInfo(
                deviceName="", useAutoDetect=False, exclusive=False
            ),
            connectable=d.VirtualDeviceConnectInfo(
                startConnected=False, allowGuestControl=True, connected=False, status="ok"
            ),
            controllerKey=200,
            unitNumber=0,
        ),
    ]


class VmFactory:
    """Makes VM property dicts for one placement."""

    def __init__(self, reg: Registry, where: Placement, *, powered_on: bool = True) -> None:
        self.reg = reg
        self.where = where
        now = datetime.now(UTC)
        self.now = now
        power = e.VirtualMachinePowerState
        on = power.poweredOn if powered_on else power.poweredOff
        self.devices = [sparse(x) for x in _fixed_devices()]
        if where.dvs_port is not None:
            switch_uuid, key = where.dvs_port
            backing: d.VirtualDeviceBackingInfo = (
                d.VirtualEthernetCardDistributedVirtualPortBackingInfo(
                    port=d.DistributedVirtualSwitchPortConnection(
                        switchUuid=switch_uuid, portgroupKey=key
                    )
                )
            )
            nic_summary = f"DVSwitch: {switch_uuid}"
        else:
            backing = d.VirtualEthernetCardNetworkBackingInfo(
                deviceName=where.network_name, network=where.network, useAutoDetect=False
            )
            nic_summary = where.network_name
        self.nic = sparse(
            d.VirtualVmxnet3(
                key=4000,
                deviceInfo=_desc("Network adapter 1", nic_summary),
                backing=backing,
                connectable=d.VirtualDeviceConnectInfo(
                    startConnected=True,
                    allowGuestControl=True,
                    connected=on == "poweredOn",
                    status="ok",
                ),
                slotInfo=d.VirtualDevicePciBusSlotInfo(pciSlotNumber=192),
                controllerKey=100,
                unitNumber=7,
                addressType="assigned",
                macAddress="",
                wakeOnLanEnabled=True,
            )
        )
        self.disk_backing = sparse(
            d.VirtualDiskFlatVer2BackingInfo(
                fileName="",
                datastore=where.datastore,
                diskMode="persistent",
                split=False,
                writeThrough=False,
                thinProvisioned=True,
                eagerlyScrub=False,
                uuid="",
                digestEnabled=False,
                sharing="sharingNone",
            )
        )
        self.disk = sparse(
            d.VirtualDisk(
                key=2000,
                deviceInfo=_desc("Hard disk 1", f"{DISK_KB:,} KB"),
                backing=None,
                controllerKey=1000,
                unitNumber=0,
                capacityInKB=DISK_KB,
                capacityInBytes=DISK_KB * 1024,
            )
        )
        alloc = d.ResourceAllocationInfo(
            reservation=0,
            expandableReservation=False,
            limit=-1,
            shares=d.SharesInfo(shares=1000, level=e.SharesLevel.normal),
        )
        self.config = sparse(
            d.VirtualMachineConfigInfo(
                changeVersion=now.isoformat(),
                modified=now,
                name="",
                guestFullName=GUEST_NAME,
                version=HW_VERSION,
                uuid="",
                instanceUuid="",
                template=False,
                guestId=GUEST_ID,
                alternateGuestName="",
                createDate=now,
                files=d.VirtualMachineFileInfo(),
                flags=d.VirtualMachineFlagInfo(
                    disableAcceleration=False,
                    enableLogging=True,
                    useToe=False,
                    runWithDebugInfo=False,
                    monitorType="release",
                    htSharing="any",
                    snapshotDisabled=False,
                    snapshotLocked=False,
                    diskUuidEnabled=False,
                    virtualMmuUsage="automatic",
                    virtualExecUsage="hvAuto",
                    snapshotPowerOffBehavior="powerOff",
                ),
                defaultPowerOps=d.VirtualMachineDefaultPowerOpInfo(
                    powerOffType="soft",
                    suspendType="hard",
                    resetType="soft",
                    defaultPowerOffType="soft",
                    defaultSuspendType="hard",
                    defaultResetType="soft",
                    standbyAction="checkpoint",
                ),
                tools=d.ToolsConfigInfo(
                    toolsVersion=0,
                    afterPowerOn=True,
                    afterResume=True,
                    beforeGuestStandby=True,
                    beforeGuestShutdown=True,
                    beforeGuestReboot=True,
                    toolsUpgradePolicy="manual",
                    syncTimeWithHost=False,
                ),
                hardware=d.VirtualHardware(numCPU=1, numCoresPerSocket=1, memoryMB=32),
                cpuAllocation=alloc,
                memoryAllocation=alloc,
                latencySensitivity=d.LatencySensitivity(
                    level=e.LatencySensitivitySensitivityLevel.normal
                ),
                bootOptions=d.VirtualMachineBootOptions(
                    bootDelay=0,
                    enterBIOSSetup=False,
                    efiSecureBootEnabled=False,
                    bootRetryEnabled=False,
                    bootRetryDelay=10000,
                    networkBootProtocol="ipv4",
                ),
                firmware="bios",
                cpuHotAddEnabled=False,
                cpuHotRemoveEnabled=False,
                memoryHotAddEnabled=False,
                changeTrackingEnabled=False,
                swapPlacement="inherit",
                extraConfig=[d.OptionValue(key="nvram", value="")],
            )
        )
        self.runtime = sparse(
            d.VirtualMachineRuntimeInfo(
                host=where.host,
                connectionState=e.VirtualMachineConnectionState.connected,
                powerState=on,
                faultToleranceState=e.VirtualMachineFaultToleranceState.notConfigured,
                toolsInstallerMounted=False,
                bootTime=now if on == "poweredOn" else None,
                numMksConnections=0,
                recordReplayState=e.VirtualMachineRecordReplayState.inactive,
                onlineStandby=False,
                consolidationNeeded=False,
                maxCpuUsage=2394,
                maxMemoryUsage=32,
            )
        )
        self.guest = sparse(
            d.GuestInfo(
                toolsStatus=e.VirtualMachineToolsStatus.toolsNotInstalled,
                toolsVersionStatus="guestToolsNotInstalled",
                toolsVersionStatus2="guestToolsNotInstalled",
                toolsRunningStatus="guestToolsNotRunning",
                toolsVersion="0",
                guestState="notRunning",
                guestFullName=GUEST_NAME,
                guestId=GUEST_ID,
            )
        )
        self.guest_summary = sparse(
            d.VirtualMachineGuestSummary(
                guestId=GUEST_ID,
                guestFullName=GUEST_NAME,
                toolsStatus=e.VirtualMachineToolsStatus.toolsNotInstalled,
                toolsVersionStatus2="guestToolsNotInstalled",
                toolsRunningStatus="guestToolsNotRunning",
            )
        )
        self.storage_summary = d.VirtualMachineStorageSummary(
            committed=0, uncommitted=DISK_KB * 1024, unshared=0, timestamp=now
        )
        self.quick_stats = sparse(
            d.VirtualMachineQuickStats(
                guestHeartbeatStatus=e.ManagedEntityStatus.gray,
                overallCpuUsage=0,
                guestMemoryUsage=0,
                hostMemoryUsage=0,
                uptimeSeconds=0,
            )
        )
        self.storage = d.VirtualMachineStorageInfo(
            perDatastoreUsage=[
                d.VirtualMachineUsageOnDatastore(
                    datastore=where.datastore, committed=0, uncommitted=DISK_KB * 1024, unshared=0
                )
            ],
            timestamp=now,
        )
        self.summary = sparse(
            d.VirtualMachineSummary(
                runtime=self.runtime,
                guest=self.guest_summary,
                config=d.VirtualMachineConfigSummary(name="", template=False, vmPathName=""),
                storage=self.storage_summary,
                quickStats=self.quick_stats,
                overallStatus=e.ManagedEntityStatus.green,
            )
        )
        self.role = [-1]

    def make(self, name: str) -> tuple[MoRef, dict[str, Any]]:
        """A new VM's reference and properties (not yet added to the registry)."""
        reg, w = self.reg, self.where
        ref = reg.new_ref("VirtualMachine")
        bios, instance = reg.uuid(), reg.uuid()
        ds = f"[{w.datastore_name}]"
        vmx = f"{ds} {name}/{name}.vmx"
        disk = clone(
            self.disk,
            backing=clone(self.disk_backing, fileName=f"{ds} {name}/{name}.vmdk", uuid=reg.uuid()),
        )
        nic = clone(self.nic, macAddress=reg.mac())
        hardware = clone(self.config.hardware, device=[*self.devices, disk, nic])
        directory = f"{ds} {name}/"
        files = d.VirtualMachineFileInfo(
            vmPathName=vmx,
            snapshotDirectory=directory,
            suspendDirectory=directory,
            logDirectory=directory,
        )
        config = clone(
            self.config,
            name=name,
            uuid=bios,
            instanceUuid=instance,
            files=sparse(files),
            hardware=hardware,
        )
        config_summary = sparse(
            d.VirtualMachineConfigSummary(
                name=name,
                template=False,
                vmPathName=vmx,
                memorySizeMB=32,
                numCpu=1,
                numEthernetCards=1,
                numVirtualDisks=1,
                uuid=bios,
                instanceUuid=instance,
                guestId=GUEST_ID,
                guestFullName=GUEST_NAME,
                hwVersion=HW_VERSION,
            )
        )
        summary = clone(self.summary, vm=ref, config=config_summary)
        props: dict[str, Any] = {
            "name": name,
            "parent": w.folder,
            "overallStatus": "green",
            "configStatus": "green",
            "effectiveRole": self.role,
            "alarmActionsEnabled": True,
            "config": config,
            "runtime": self.runtime,
            "guest": self.guest,
            "summary": summary,
            "storage": self.storage,
            "datastore": [w.datastore],
            "network": [w.network],
            "resourcePool": w.pool,
            "guestHeartbeatStatus": "gray",
        }
        if w.environment_browser is not None:
            props["environmentBrowser"] = w.environment_browser
        return ref, props
