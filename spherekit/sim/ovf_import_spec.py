"""OvfManager.CreateImportSpec: an OVF envelope -> a VirtualMachineImportSpec and file items.

The spec is what vCenter builds: ``configSpec`` with the name, hardware version
(``VirtualSystemType``), guest id (``vmw:osType``), CPUs, cores per socket and memory of
the selected deployment option, ``files.vmPathName`` = ``[datastore]``, the devices as
``deviceChange`` adds with negative temporary keys (disks with ``fileOperation`` create,
thin or thick per ``diskProvisioning``, NICs on the mapped networks), the annotation, the
``vmw:ExtraConfig`` entries and ``vAppConfig`` (products, properties with the values of
``propertyMapping``, OVF environment transports). IDE controllers are the VM's built-in
ones (keys 200 and 201), as on vCenter.

``fileItem`` lists the files to upload: ``deviceId`` ``/<entityName>/<Controller><bus>:<unit>``
(the lease's ``importKey``), the OVF file's ``href`` and size, ``cimType`` 17 and
``create`` False. Problems go to ``error`` as vCenter reports them: an OVF network with no
mapping and no network of the same name is ``OvfNetworkMappingNotSupported``, an unknown
ResourceType ``OvfUnsupportedType``, an unknown disk provisioning
``OvfUnsupportedDiskProvisioning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25 import enums as e
from spherekit.sim import ovf
from spherekit.sim.faults import with_msg
from spherekit.sim.managed_entity import ancestor
from spherekit.sim.ovf import Envelope, Item, OvfProblem

if TYPE_CHECKING:
    from spherekit.sim.registry import Registry

__all__ = ["PROVISIONING", "ImportSpecBuilder", "device_id"]

PROVISIONING = [
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
    "thin", "thick", "sparse", "flat", "seSparse", "eagerZeroedThick",
]  # fmt: skip
_THIN = {"thin", "monolithicSparse", "twoGbMaxExtentSparse", "sparse", "seSparse"}

_SCSI: dict[str, type[d.VirtualSCSIController]] = {
    "lsilogic": d.VirtualLsiLogicController,
    "buslogic": d.VirtualBusLogicController,
    "lsilogicsas": d.VirtualLsiLogicSASController,
    "virtualscsi": d.ParaVirtualSCSIController,
    "pvscsi": d.ParaVirtualSCSIController,
}
_NICS: dict[str, type[d.VirtualEthernetCard]] = {
    "e1000": d.VirtualE1000,
    "e1000e": d.VirtualE1000e,
    "vmxnet3": d.VirtualVmxnet3,
    "vmxnet2": d.VirtualVmxnet2,
    "vmxnet": d.VirtualVmxnet,
    "pcnet32": d.VirtualPCNet32,
}
#: resource types vCenter accepts and the simulator does not model (VMCI, floppy, USB,
#: video, sound, parallel/serial ports): accepted, no device added
_IGNORED = {1, 14, 21, 23, 24, 35}
_ADD = e.VirtualDeviceConfigSpecOperation.add


def device_id(entity: str, controller: d.VirtualDevice, unit: int) -> str:
    """``/<entity>/VirtualLsiLogicController0:0``: how vCenter names a file-backed device."""
    bus = getattr(controller, "busNumber", 0) or 0
    return f"/{entity}/{type(controller).__name__}{bus}:{unit}"


def _desc(label: str, summary: str) -> d.Description:
    return d.Description(label=label, summary=summary)


@dataclass
class ImportSpecBuilder:
    """Builds one CreateImportSpec result (errors and warnings collected on the way)."""

    reg: Registry
    env: Envelope
    pool: MoRef
    datastore: MoRef
    cisp: d.OvfCreateImportSpecParams
    errors: list[d.MethodFault] = field(default_factory=list)
    warnings: list[d.MethodFault] = field(default_factory=list)
    _key: int = -100

    def next_key(self) -> int:
        self._key -= 1
        return self._key

    # -- the parts --------------------------------------------------------------------------

    def network(self, name: str, line: int) -> tuple[d.VirtualDeviceBackingInfo, str] | None:
        reg = self.reg
        target: MoRef | None = None
        for m in self.cisp.networkMapping or []:
            if m.name == name:
                target = m.network
        if target is None:
            dc = ancestor(reg, self.pool, "Datacenter")
            nets = list(reg.prop(dc, "network") or []) if dc is not None else []
            target = next((n for n in nets if reg.prop(n, "name") == name), None)
        if target is None or target not in reg:
            self.errors.append(
                with_msg(
                    d.OvfNetworkMappingNotSupported(),
                    "The provided network mapping between OVF networks and the system network "
                    "is not supported by any host.",
                )
            )
            return None
        net_name = reg.prop(target, "name")
        if target.type == "DistributedVirtualPortgroup":
            switch = reg.prop(target, "config").distributedVirtualSwitch
            uuid = reg.prop(switch, "uuid")
            port = d.DistributedVirtualSwitchPortConnection(
                switchUuid=uuid, portgroupKey=reg.prop(target, "key")
            )
            return d.VirtualEthernetCardDistributedVirtualPortBackingInfo(port=port), net_name
        backing = d.VirtualEthernetCardNetworkBackingInfo(
            deviceName=net_name, network=target, useAutoDetect=False
        )
        return backing, net_name

    def unsupported(self, item: Item, kind: int) -> None:
        fault = d.OvfUnsupportedType(
            lineNumber=item.line, name=item.name, instanceId=item.instance_id, deviceType=kind
        )
        self.errors.append(
            with_msg(fault, f"Line {item.line}: Unsupported hardware type {kind} ('{item.name}').")
        )

    def provisioning(self) -> tuple[bool, bool]:
        """(thinProvisioned, eagerlyScrub) for the requested disk provisioning."""
        kind = self.cisp.diskProvisioning or "thick"
        if kind not in PROVISIONING:
            fault = d.OvfUnsupportedDiskProvisioning(
                diskProvisioning=kind, supportedDiskProvisioning=", ".join(PROVISIONING)
            )
            self.errors.append(with_msg(fault, f"Unsupported disk provisioning type '{kind}'."))
        return kind in _THIN, kind == "eagerZeroedThick"

    # -- the whole ------------------------------------------------------------------------------

    def build(self, entity: str) -> tuple[d.VirtualMachineImportSpec, list[d.OvfFileItem]]:
        env, reg = self.env, self.reg
        option = self.cisp.deploymentOption or env.default_option
        if option and env.options and option not in {o[0] for o in env.options}:
            bad = d.OvfInvalidValueConfiguration(
                lineNumber=0, elementName="Configuration", attributeName="ovf:id", value=option
            )
            raise OvfProblem(with_msg(bad, f"Invalid deployment option '{option}'."))
        thin, eager = self.provisioning()
        ds_name = reg.prop(self.datastore, "name")
        cpus, cores, memory = 1, 1, 32
        devices: list[d.VirtualDeviceConfigSpec] = []
        controllers: dict[str, d.VirtualDevice] = {}
        files: list[d.OvfFileItem] = []
        nics = 0
        for item in env.items:
            if item.configuration and option not in item.configuration:
                continue
            kind = item.integer("ResourceType") or 0
            sub = (item.get("ResourceSubType") or "").lower()
            if kind == 3:
                cpus = item.integer("VirtualQuantity") or 1
                cores = item.integer("CoresPerSocket") or 1
            elif kind == 4:
                unit = ovf.units(item.get("AllocationUnits"), 2**20) or 2**20
                memory = (item.integer("VirtualQuantity") or 0) * unit // 2**20
            elif kind == 5:
                bus = item.integer("Address") or 0
                controllers[item.instance_id] = d.VirtualIDEController(key=200 + bus, busNumber=bus)
            elif kind in (6, 20):
                if kind == 6 and (sub or "lsilogic") not in _SCSI:
                    self.unsupported(item, kind)
                    continue
                bus = item.integer("Address") or 0
                ctl: d.VirtualController
                if kind == 20:
                    ctl = d.VirtualAHCIController(key=self.next_key(), busNumber=bus)
                else:
                    ctl = _SCSI[sub or "lsilogic"](
                        key=self.next_key(), busNumber=bus, sharedBus=e.VirtualSCSISharing.noSharing
                    )
                controllers[item.instance_id] = ctl
                devices.append(d.VirtualDeviceConfigSpec(operation=_ADD, device=ctl))
            elif kind in (15, 16, 17):
                parent = controllers.get(item.get("Parent") or "")
                if parent is None:
                    continue  # its controller was not supported (already an error)
                unit = item.integer("AddressOnParent") or 0
                if kind != 17:
                    cd = d.VirtualCdrom(
                        key=self.next_key(),
                        controllerKey=parent.key,
                        unitNumber=unit,
                        backing=d.VirtualCdromRemotePassthroughBackingInfo(
                            deviceName="", useAutoDetect=False, exclusive=False
                        ),
                        connectable=d.VirtualDeviceConnectInfo(
                            startConnected=False, allowGuestControl=True, connected=False
                        ),
                    )
                    devices.append(d.VirtualDeviceConfigSpec(operation=_ADD, device=cd))
                    continue
                disk = env.disk(item.get("HostResource") or "")
                if disk is None:
                    fault = d.OvfInvalidValueReference(
                        lineNumber=item.line,
                        elementName="HostResource",
                        attributeName="",
                        value=item.get("HostResource") or "",
                    )
                    raise OvfProblem(
                        with_msg(fault, f"Line {item.line}: Invalid value for HostResource.")
                    )
                backing = d.VirtualDiskFlatVer2BackingInfo(
                    fileName="",
                    datastore=self.datastore,
                    diskMode="persistent",
                    thinProvisioned=thin,
                    eagerlyScrub=eager or None,
                )
                vdisk = d.VirtualDisk(
                    key=self.next_key(),
                    deviceInfo=_desc(item.name or "Hard disk", f"{disk.capacity // 1024:,} KB"),
                    controllerKey=parent.key,
                    unitNumber=unit,
                    capacityInKB=disk.capacity // 1024,
                    capacityInBytes=disk.capacity,
                    backing=backing,
                )
                devices.append(
                    d.VirtualDeviceConfigSpec(
                        operation=_ADD,
                        fileOperation=e.VirtualDeviceConfigSpecFileOperation.create,
                        device=vdisk,
                    )
                )
                ref = env.file(disk.file_ref) if disk.file_ref else None
                if ref is not None:
                    files.append(
                        d.OvfFileItem(
                            deviceId=device_id(entity, parent, unit),
                            path=ref.href,
                            size=ref.size,
                            cimType=17,
                            create=False,
                        )
                    )
            elif kind == 10:
                found = self.network(item.get("Connection") or "", item.line)
                if found is None:
                    continue
                nic_backing, net_name = found
                nics += 1
                nic_cls = _NICS.get(sub or "e1000", d.VirtualE1000)
                auto = (item.get("AutomaticAllocation") or "true").lower() == "true"
                nic = nic_cls(
                    key=self.next_key(),
                    deviceInfo=_desc(item.name or f"Network adapter {nics}", net_name),
                    backing=nic_backing,
                    connectable=d.VirtualDeviceConnectInfo(
                        startConnected=auto, allowGuestControl=True, connected=False
                    ),
                    addressType="generated",
                    wakeOnLanEnabled=True,
                )
                devices.append(d.VirtualDeviceConfigSpec(operation=_ADD, device=nic))
            elif kind not in _IGNORED:
                self.unsupported(item, kind)
        config = d.VirtualMachineConfigSpec(
            name=entity,
            version=env.hardware_family,
            guestId=env.os_type or "otherGuest",
            annotation=env.annotation or None,
            files=d.VirtualMachineFileInfo(vmPathName=f"[{ds_name}]"),
            numCPUs=cpus,
            numCoresPerSocket=cores,
            memoryMB=memory,
            deviceChange=devices or None,
            extraConfig=[d.OptionValue(key=k, value=v) for k, v in env.extra_config] or None,
            vAppConfig=self.vapp_config(),
        )
        spec = d.VirtualMachineImportSpec(configSpec=config, resPoolEntity=self.pool)
        return spec, files

    def vapp_config(self) -> d.VmConfigSpec | None:
        env = self.env
        if not env.products:
            return None
        values = {kv.key: kv.value for kv in self.cisp.propertyMapping or []}
        properties = [
            d.VAppPropertySpec(operation=e.ArrayUpdateOperation.add, info=info)
            for info in ovf.property_infos(env, values)
        ]
        products = [
            d.VAppProductSpec(operation=e.ArrayUpdateOperation.add, info=ovf.product_info(p, i))
            for i, p in enumerate(env.products)
        ]
        transports = sorted({t for p in env.products for t in p.transport})
        return d.VmConfigSpec(
            product=products,
            property=properties or None,
            ovfEnvironmentTransport=transports or None,
            ipAssignment=d.VAppIPAssignmentInfo(
                supportedAllocationScheme=env.ip_schemes or None,
                supportedIpProtocol=env.ip_protocols or None,
                ipAllocationPolicy=self.cisp.ipAllocationPolicy,
                ipProtocol=self.cisp.ipProtocol,
            ),
            eula=env.eula or None,
            installBootRequired=False,
        )
