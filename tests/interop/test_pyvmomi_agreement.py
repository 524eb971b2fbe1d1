"""spherekit and pyVmomi decode the same vcsim responses to the same values, field by field.

Each case makes one call through spherekit with a recording transport, then decodes the
recorded response bytes twice: with :func:`spherekit.wire.codec.decode_response` and with
pyVmomi's ``SoapResponseDeserializer`` (what ``SoapStubAdapter.InvokeMethod`` runs, at the
version the server speaks). :func:`tests.interop.agreement.compare` walks both results over
the union of both sides' fields, so a value decoded by one side only is a disagreement too.

Three checks per case:

- no disagreement (the message names the first differing path);
- every leaf element of the response was compared (``leaves == xml_leaf_count``), so a value
  dropped by *both* decoders, or a comparison that silently skipped a subtree, fails;
- at least a minimum number of leaves was compared, so an empty response cannot pass.

Cases: RetrievePropertiesEx of VM, host, datastore, network and cluster properties over the
default inventory and of a VM created with a full config (ten kinds of device, extraConfig
values of every anyType kind); TaskInfo of a successful and a failed task; QueryEvents
(including a posted EventEx with KeyAnyValue arguments and a fault); a missingSet fault; and
SOAP faults with and without fields.

Disagreements found so far, and fixed: links (pyVmomi's ``F_LINK`` fields, such as
``HostMultipathInfoPath.adapter``) are the linked object's key, an xsd:string, on the wire;
the extractor had typed them as the linked data type, so spherekit decoded empty objects.

Where the two differ only by a pyVmomi convention (``[]`` for an absent array, ``""``/``0``
for an absent required field, unwrapped ``LocalizedMethodFault``, classes for type names)
the comparison records a note instead; see the docstring of ``agreement.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from spherekit import property as prop
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    EventEx,
    EventFilterSpec,
    InvalidPowerState,
    KeyAnyValue,
    LocalizedMethodFault,
    MethodFault,
    ObjectSpec,
    OptionValue,
    ParaVirtualSCSIController,
    PropertyFilterSpec,
    PropertySpec,
    ResourceAllocationInfo,
    RetrieveOptions,
    SharesInfo,
    ToolsConfigInfo,
    VirtualCdrom,
    VirtualCdromIsoBackingInfo,
    VirtualDevice,
    VirtualDeviceConfigSpec,
    VirtualDeviceConnectInfo,
    VirtualDisk,
    VirtualDiskFlatVer2BackingInfo,
    VirtualE1000e,
    VirtualEthernetCardNetworkBackingInfo,
    VirtualFloppy,
    VirtualFloppyImageBackingInfo,
    VirtualLsiLogicSASController,
    VirtualMachineBootOptions,
    VirtualMachineConfigSpec,
    VirtualMachineFileInfo,
    VirtualSerialPort,
    VirtualSerialPortFileBackingInfo,
    VirtualUSBController,
    VirtualVmxnet3,
)
from spherekit.schema.vim25.enums import SharesLevel, VirtualMachinePowerState, VirtualSCSISharing
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecFileOperation as FileOperation
from spherekit.schema.vim25.enums import VirtualDeviceConfigSpecOperation as Operation
from spherekit.session import Session, connect
from spherekit.wire.transport import HttpTransport
from tests.interop.agreement import (
    Comparison,
    Exchange,
    Recorder,
    compare,
    decode_pyvmomi,
    decode_spherekit,
    xml_leaf_count,
)
from tests.interop.conftest import VcsimFactory
from tests.interop.vcsim import Vcsim


@dataclass
class Client:
    session: Session
    recorder: Recorder


def _connect(sim: Vcsim) -> Client:
    recorder = Recorder(
        HttpTransport(f"https://{sim.host}:{sim.port}", thumbprint=sim.thumbprint_sha256())
    )
    session = connect(sim.sdk_url, user=sim.user, password=sim.password, transport=recorder)
    return Client(session, recorder)


@contextmanager
def connected(sim: Vcsim) -> Iterator[Client]:
    c = _connect(sim)
    try:
        yield c
    finally:
        c.session.close()


@pytest.fixture(scope="module")
def client(vcsim: Vcsim) -> Iterator[Client]:
    """A session on the shared vcsim; only reads."""
    with connected(vcsim) as c:
        yield c


#: Required fields vcsim 0.24.2 leaves out (VirtualMachineRuntimeInfo's booleans): spherekit
#: decodes them as None (not sent), pyVmomi as False (its default for a required boolean).
VCSIM_OMITS = {"onlineStandby", "consolidationNeeded"}


def agree(exchange: Exchange, api_version: str, minimum: int) -> Comparison:
    """Decode ``exchange`` both ways; assert agreement and full coverage."""
    ours = decode_spherekit(exchange.method, exchange.body, exchange.status)
    theirs = decode_pyvmomi(exchange.method, exchange.body, api_version)
    result = compare(ours, theirs, exchange.method)
    assert not result.diffs, result.report()
    omitted = {path.rpartition(".")[2] for path in result.notes.get("required-default", [])}
    assert omitted <= VCSIM_OMITS, f"more required fields absent: {omitted - VCSIM_OMITS}"
    sent = xml_leaf_count(exchange.body)
    assert result.leaves == sent, (
        f"{exchange.method}: compared {result.leaves} leaf values, the response has {sent}"
    )
    assert result.leaves >= minimum, f"{exchange.method}: only {result.leaves} leaves compared"
    return result


def fetch_raw(c: Client, mtype: str, path: str) -> Exchange:
    """RetrievePropertiesEx of ``path`` on every ``mtype`` in the inventory."""
    rows = prop.fetch(c.session, mtype, [path])
    assert rows and all(path in values for _ref, values in rows), rows
    return c.recorder.last("RetrievePropertiesEx")


# (type, property, minimum number of leaves compared over every object of that type in the
# default VPX inventory: 4 VMs, 4 hosts, 1 datastore, 1 network, 1 cluster). The minimums
# sit a little under what vcsim 0.24.2 sends, so an emptier response fails loudly.
PROPERTIES = [
    ("VirtualMachine", "config", 500),  # 552: devices, files, tools, flags... of 4 VMs
    ("VirtualMachine", "summary", 100),
    ("VirtualMachine", "runtime", 24),
    ("VirtualMachine", "guest", 36),
    ("VirtualMachine", "layoutEx", 150),
    ("VirtualMachine", "storage", 24),
    ("HostSystem", "summary", 2500),
    ("HostSystem", "hardware", 2000),
    ("HostSystem", "config", 4000),  # with storageDevice's links (keys, xsd:string)
    ("Datastore", "summary", 8),
    ("Datastore", "info", 8),
    ("Network", "summary", 15),
    ("ClusterComputeResource", "configurationEx", 5),
]


@pytest.mark.parametrize(("mtype", "path", "minimum"), PROPERTIES, ids=lambda v: str(v))
def test_properties(client: Client, mtype: str, path: str, minimum: int) -> None:
    exchange = fetch_raw(client, mtype, path)
    agree(exchange, client.session.api_version, minimum)


def test_service_content(client: Client) -> None:
    client.session.negotiate()  # RetrieveServiceContent again, recorded this time
    agree(client.recorder.last("RetrieveServiceContent"), client.session.api_version, 30)


def _finished(session: Session, task: MoRef) -> None:
    prop.wait_for(session, task, "info.state", lambda v: v in ("success", "error"), timeout=10)


def test_task_info_success_and_error(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0)) as c:
        s = c.session
        rows = prop.fetch(s, "VirtualMachine", ["runtime.powerState"])
        vm = next(ref for ref, values in rows if values["runtime.powerState"] == "poweredOn")
        done = s.call(vm, "PowerOffVM_Task")
        agree(c.recorder.last("PowerOffVM_Task"), s.api_version, 1)  # the Task moref
        _finished(s, done)
        failed = s.call(vm, "PowerOffVM_Task")  # already off: the task fails
        _finished(s, failed)
        rows = prop.retrieve(s, prop.filter_spec("Task", ["info"], [done, failed]))
        result = agree(c.recorder.last("RetrievePropertiesEx"), s.api_version, 35)
    infos = {ref: values["info"] for ref, values in rows}
    assert (infos[done].state, infos[failed].state) == ("success", "error")
    # the error's LocalizedMethodFault was compared with pyVmomi's unwrapped fault, and
    # TaskInfo.name ("PowerOff" from vcsim) with pyVmomi's UnknownManagedMethod
    error = f"RetrievePropertiesEx.objects[{list(infos).index(failed)}].propSet[0].val.error"
    assert result.notes["localized-fault"] == [error]
    assert len(result.notes["method-name"]) == 2
    assert "InvalidPowerState" in result.types


def _full_config(network: MoRef) -> VirtualMachineConfigSpec:
    """A VM spec that sets much of what a VM's config reports, devices of many kinds, and
    extraConfig values of every anyType kind vcsim echoes (int, long, boolean, double,
    base64Binary, dateTime, arrays, a moref)."""
    extra: dict[str, Any] = {
        "guestinfo.text": "a <b> & c",
        "int": 42,
        "long": 2**40,
        "bool": True,
        "double": 1.5,
        "binary": b"\x00\xffbin",
        "time": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "strings": ["a", "b"],
        "ints": [1, 2],
        "moref": network,
    }

    def add(device: VirtualDevice, create: bool = False) -> VirtualDeviceConfigSpec:
        return VirtualDeviceConfigSpec(
            operation=Operation.add,
            device=device,
            fileOperation=FileOperation.create if create else None,
        )

    shared = VirtualSCSISharing.noSharing
    return VirtualMachineConfigSpec(
        name="full",
        guestId="otherGuest64",
        annotation="made by test_pyvmomi_agreement",
        numCPUs=4,
        numCoresPerSocket=2,
        memoryMB=2048,
        cpuHotAddEnabled=True,
        memoryHotAddEnabled=False,
        files=VirtualMachineFileInfo(vmPathName="[LocalDS_0] full/full.vmx"),
        extraConfig=[OptionValue(key=k, value=v) for k, v in extra.items()],
        cpuAllocation=ResourceAllocationInfo(
            reservation=100, limit=-1, shares=SharesInfo(level=SharesLevel.custom, shares=2000)
        ),
        bootOptions=VirtualMachineBootOptions(bootDelay=500, enterBIOSSetup=False),
        tools=ToolsConfigInfo(syncTimeWithHost=True),
        deviceChange=[
            add(ParaVirtualSCSIController(key=-100, busNumber=0, sharedBus=shared)),
            add(VirtualLsiLogicSASController(key=-101, busNumber=1, sharedBus=shared)),
            add(
                VirtualDisk(
                    key=-102,
                    controllerKey=-100,
                    unitNumber=0,
                    capacityInKB=1024**2,
                    backing=VirtualDiskFlatVer2BackingInfo(
                        fileName="", diskMode="persistent", thinProvisioned=True
                    ),
                ),
                create=True,
            ),
            add(
                VirtualDisk(
                    key=-103,
                    controllerKey=-101,
                    unitNumber=0,
                    capacityInKB=2 * 1024**2,
                    backing=VirtualDiskFlatVer2BackingInfo(
                        fileName="", diskMode="independent_persistent", eagerlyScrub=True
                    ),
                ),
                create=True,
            ),
            add(
                VirtualVmxnet3(
                    key=-104,
                    addressType="generated",
                    backing=VirtualEthernetCardNetworkBackingInfo(
                        deviceName="VM Network", network=network
                    ),
                    connectable=VirtualDeviceConnectInfo(
                        startConnected=True, allowGuestControl=True, connected=False
                    ),
                )
            ),
            add(
                VirtualE1000e(
                    key=-105,
                    addressType="manual",
                    macAddress="00:50:56:00:00:01",
                    backing=VirtualEthernetCardNetworkBackingInfo(deviceName="VM Network"),
                )
            ),
            add(
                VirtualCdrom(
                    key=-106,
                    controllerKey=200,
                    unitNumber=0,
                    backing=VirtualCdromIsoBackingInfo(fileName="[LocalDS_0] iso/x.iso"),
                )
            ),
            add(
                VirtualSerialPort(
                    key=-107,
                    yieldOnPoll=True,
                    backing=VirtualSerialPortFileBackingInfo(fileName="[LocalDS_0] full/s.log"),
                )
            ),
            add(VirtualUSBController(key=-108, busNumber=0, autoConnectDevices=True)),
            add(
                VirtualFloppy(
                    key=-109,
                    backing=VirtualFloppyImageBackingInfo(fileName="[LocalDS_0] full/f.flp"),
                )
            ),
        ],
    )


def test_vm_with_full_config(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0, vm=0)) as c:
        s = c.session
        folder = prop.fetch(s, "Datacenter", ["vmFolder"])[0][1]["vmFolder"]
        pool = prop.fetch(s, "ComputeResource", ["resourcePool"])[0][1]["resourcePool"]
        network = prop.fetch(s, "Network", ["name"])[0][0]
        task = s.call(folder, "CreateVM_Task", config=_full_config(network), pool=pool)
        _finished(s, task)
        info = prop.retrieve(s, prop.filter_spec("Task", ["info"], [task]))[0][1]["info"]
        assert info.state == "success", info.error
        vm = info.result
        prop.retrieve(s, prop.filter_spec("VirtualMachine", ["config"], [vm]))
        config = agree(c.recorder.last("RetrievePropertiesEx"), s.api_version, 200)
        paths = ["config", "summary", "runtime", "guest", "layoutEx", "storage"]
        prop.retrieve(s, prop.filter_spec("VirtualMachine", paths, [vm]))
        agree(c.recorder.last("RetrievePropertiesEx"), s.api_version, 300)
    devices = {
        "VirtualDisk", "VirtualVmxnet3", "VirtualE1000e", "VirtualCdrom", "VirtualFloppy",
        "VirtualSerialPort", "VirtualUSBController", "VirtualLsiLogicSASController",
    }  # fmt: skip
    assert devices <= config.types


def test_query_events(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0)) as c:
        s = c.session
        vm = prop.fetch(s, "VirtualMachine", ["name"])[0][0]
        _finished(s, s.call(vm, "PowerOffVM_Task"))
        manager = s.content.eventManager
        assert manager is not None
        # an EventEx carries KeyAnyValue arguments (anyType values) and a LocalizedMethodFault
        arguments = {"int": 5, "string": "text", "boolean": False, "long": 2**40}
        posted = EventEx(
            key=0,
            chainId=0,
            createdTime=datetime.now(UTC),
            userName="",
            eventTypeId="com.example.agreement",
            severity="warning",
            message="posted by test_pyvmomi_agreement",
            objectId=vm.value,
            objectType="VirtualMachine",
            arguments=[KeyAnyValue(key=k, value=v) for k, v in arguments.items()],
            fault=LocalizedMethodFault(
                fault=InvalidPowerState(
                    existingState=VirtualMachinePowerState.poweredOn,
                    requestedState=VirtualMachinePowerState.poweredOff,
                ),
                localizedMessage="not really",
            ),
        )
        s.call(manager, "PostEvent", eventToPost=posted)
        events = s.call(manager, "QueryEvents", filter=EventFilterSpec(maxCount=100))
        assert len(events) >= 5
        result = agree(c.recorder.last("QueryEvents"), s.api_version, 200)
    assert {"VmPoweredOffEvent", "VmBeingCreatedEvent", "VirtualMachineConfigSpec"} <= result.types
    assert {"EventEx", "KeyAnyValue", "InvalidPowerState"} <= result.types
    index = next(i for i, e in enumerate(events) if isinstance(e, EventEx))
    assert result.notes["localized-fault"] == [f"QueryEvents[{index}].fault"]
    # objectType is a vmodl.TypeName: pyVmomi decodes it to its class vim.VirtualMachine
    assert result.notes["type-name"] == [f"QueryEvents[{index}].objectType"]


def test_missing_property_carries_a_localized_fault(client: Client) -> None:
    # spherekit checks paths before sending (filter_spec), so build the spec by hand;
    # vcsim answers with a missingSet entry whose fault is an InvalidProperty
    s = client.session
    vm = prop.fetch(s, "VirtualMachine", ["name"])[0][0]
    spec = PropertyFilterSpec(
        propSet=[PropertySpec(type="VirtualMachine", pathSet=["noSuchProperty"])],
        objectSet=[ObjectSpec(obj=vm)],
    )
    s.call(s.content.propertyCollector, "RetrievePropertiesEx", specSet=[spec],
           options=RetrieveOptions())  # fmt: skip
    result = agree(client.recorder.last("RetrievePropertiesEx"), s.api_version, 3)
    assert result.notes["localized-fault"] == [
        "RetrievePropertiesEx.objects[0].missingSet[0].fault"
    ]
    assert "InvalidProperty" in result.types


def _invalid_login(s: Session) -> None:
    manager = s.content.sessionManager
    assert manager is not None
    s.call(manager, "Login", userName="nobody", password="wrong")


def _object_not_found(s: Session) -> None:
    spec = prop.filter_spec("VirtualMachine", ["name"], [MoRef("VirtualMachine", "vm-nope")])
    prop.retrieve(s, spec)


FAULTS = [
    ("Login", _invalid_login, "InvalidLogin"),
    ("RetrievePropertiesEx", _object_not_found, "ManagedObjectNotFound"),
]


@pytest.mark.parametrize(("method", "call", "fault"), FAULTS, ids=[f[2] for f in FAULTS])
def test_soap_faults(client: Client, method: str, call: Any, fault: str) -> None:
    with pytest.raises(MethodFault) as raised:
        call(client.session)
    assert raised.value._wsdl_name == fault
    exchange = client.recorder.last(method)
    assert exchange.status == 500
    agree(exchange, client.session.api_version, 2)


def test_soap_fault_with_fields(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0, vm=0)) as c:
        s = c.session
        with pytest.raises(MethodFault) as raised:
            s.call(s.content.rootFolder, "CreateFolder", name="DC0")  # the datacenter's name
        assert raised.value._wsdl_name == "DuplicateName"
        result = agree(c.recorder.last("CreateFolder"), s.api_version, 3)
    assert result.leaves == 3  # name, object, and the faultstring (empty from vcsim)
    assert result.notes["empty-fault-string"] == ["CreateFolder.msg"]


def test_comparison_reports_the_first_differing_path(client: Client) -> None:
    # The comparison must fail, naming the path, when the decoders disagree; here one side's
    # decoded value is altered after decoding to simulate a decoder bug.
    exchange = fetch_raw(client, "VirtualMachine", "config")
    version = client.session.api_version

    def decoded() -> tuple[Any, Any, int, str]:
        ours = decode_spherekit(exchange.method, exchange.body)
        theirs = decode_pyvmomi(exchange.method, exchange.body, version)
        devices = ours.objects[0].propSet[0].val.hardware.device
        disk = next(i for i, d in enumerate(devices) if d._wsdl_name == "VirtualDisk")
        return ours, theirs, disk, "RetrievePropertiesEx.objects[0].propSet[0].val.hardware"

    ours, theirs, i, hw = decoded()
    backing = ours.objects[0].propSet[0].val.hardware.device[i].backing
    original = backing.fileName
    backing.fileName = "[elsewhere] x.vmdk"
    assert compare(ours, theirs, exchange.method).diffs == [
        f"{hw}.device[{i}].backing.fileName: spherekit '[elsewhere] x.vmdk' vs pyVmomi {original!r}"
    ]

    ours, theirs, i, hw = decoded()
    ours.objects[0].propSet[0].val.hardware.device[i].capacityInKB = None  # dropped by us
    theirs.objects[0].propSet[0].val.hardware.device[i].backing.datastore = None  # by pyVmomi
    ours.objects[0].propSet[0].val.hardware.memoryMB += 1
    ours.objects[0].propSet[0].val.hardware.device.pop()
    diffs = compare(ours, theirs, exchange.method).diffs
    assert diffs[0].startswith(f"{hw}.memoryMB: spherekit ")
    assert diffs[1].startswith(f"{hw}.device: spherekit has ")
    assert diffs[2].startswith(f"{hw}.device[{i}].backing.datastore: spherekit Datastore:")
    assert diffs[3].startswith(f"{hw}.device[{i}].capacityInKB: spherekit None vs pyVmomi ")
    assert len(diffs) == 4
