"""The vim25 codec: what goes on the wire, what comes back, and what is refused.

No sockets: requests are encoded with :func:`codec.encode_call` and inspected as XML;
responses are built with the codec's own Encoder (see tests/unit/soap.py) or written by
hand where a real server's exact bytes matter.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from lxml import etree

import spherekit.errors
from spherekit import faults, vim
from spherekit.errors import ProtocolError, UsageError, VersionError
from spherekit.schema import registry
from spherekit.schema.base import ManagedObject, MoRef
from spherekit.wire import codec
from spherekit.wire import xml as wire_xml
from tests.unit import soap

Q = "{urn:vim25}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}type"
VM = MoRef("VirtualMachine", "vm-42")
V6_5 = registry.VERSIONS.index("6.5")


class _NoCalls:
    """A Caller for handles; handles must never call it."""

    def call(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        raise AssertionError(f"a handle called {method}")


def request(method: str, this: MoRef = VM, version: int | None = None, **params: Any) -> Any:
    """The method element of the encoded request (its children are the parameters)."""
    body = codec.encode_call(method, this, params, version)
    root = etree.fromstring(body)
    return root[0][0]


def child(el: Any, *path: str) -> Any:
    for name in path:
        found = el.find(Q + name)
        assert found is not None, f"no <{name}> in <{etree.QName(el).localname}>"
        el = found
    return el


def names(el: Any) -> list[str]:
    return [etree.QName(c).localname for c in el]


def decode_xml(inner: str, tname: str) -> Any:
    """Decode hand-written server XML: ``inner`` is one element in the vim25 namespace."""
    body = soap.envelope(f'<R xmlns="urn:vim25">{inner}</R>')
    return codec.decode(codec.response_payload("test", body)[0], tname)


def reconfigure(spec: vim.VirtualMachineConfigSpec, version: int | None = None) -> Any:
    return child(request("ReconfigVM_Task", spec=spec, version=version), "spec")


# ---------------------------------------------------------------------------------------
# unset is not zero


def test_zero_false_and_empty_string_are_sent() -> None:
    spec = reconfigure(vim.VirtualMachineConfigSpec(numCPUs=0, name="", memoryHotAddEnabled=False))
    assert names(spec) == ["name", "numCPUs", "memoryHotAddEnabled"]
    assert child(spec, "numCPUs").text == "0"
    assert child(spec, "name").text is None  # <name></name>: an empty string, sent
    assert child(spec, "memoryHotAddEnabled").text == "false"


def test_unset_optional_fields_and_parameters_are_omitted() -> None:
    spec = reconfigure(vim.VirtualMachineConfigSpec(memoryMB=4096))
    assert names(spec) == ["memoryMB"]
    assert names(request("PowerOnVM_Task", host=None)) == ["_this"]
    empty = reconfigure(vim.VirtualMachineConfigSpec())
    assert names(empty) == []


def test_required_field_left_none_raises_naming_the_path() -> None:
    disk = vim.VirtualDisk(key=-1, capacityInKB=1024)
    disk.capacityInKB = None  # type: ignore[assignment]
    change = vim.VirtualDeviceConfigSpec(
        device=disk, operation=vim.VirtualDeviceConfigSpecOperation.add
    )
    spec = vim.VirtualMachineConfigSpec(deviceChange=[change])
    with pytest.raises(
        UsageError, match=r"ReconfigVM_Task\.spec\.deviceChange\[0\]\.device\.capacityInKB"
    ):
        codec.encode_call("ReconfigVM_Task", VM, {"spec": spec})


def test_none_inside_an_array_is_refused() -> None:
    with pytest.raises(UsageError, match=r"CreateContainerView\.type\[1\]: None"):
        codec.encode_call(
            "CreateContainerView",
            MoRef("ViewManager", "ViewManager"),
            {"container": MoRef("Folder", "group-d1"), "type": ["a", None], "recursive": True},
        )


def test_missing_required_parameter_is_refused() -> None:
    with pytest.raises(UsageError, match=r"ReconfigVM_Task requires parameter 'spec'"):
        codec.encode_call("ReconfigVM_Task", VM, {})


# ---------------------------------------------------------------------------------------
# xsi:type and anyType


def _disk() -> vim.VirtualDisk:
    return vim.VirtualDisk(
        key=-101,
        capacityInKB=8 * 1024 * 1024,
        controllerKey=1000,
        unitNumber=0,
        backing=vim.VirtualDiskFlatVer2BackingInfo(
            fileName="", diskMode="persistent", thinProvisioned=True
        ),
    )


def test_subtype_in_a_field_carries_xsi_type_and_declared_type_does_not() -> None:
    change = vim.VirtualDeviceConfigSpec(
        device=_disk(), operation=vim.VirtualDeviceConfigSpecOperation.add
    )
    spec = reconfigure(vim.VirtualMachineConfigSpec(deviceChange=[change]))
    dc = child(spec, "deviceChange")
    assert dc.get(XSI) is None  # declared VirtualDeviceConfigSpec, sent as one
    device = child(dc, "device")
    assert device.get(XSI) == "VirtualDisk"
    assert child(device, "backing").get(XSI) == "VirtualDiskFlatVer2BackingInfo"
    assert child(device, "capacityInKB").text == str(8 * 1024 * 1024)


@pytest.mark.parametrize(
    ("value", "xsi"),
    [
        ("text", "xsd:string"),
        (7, "xsd:int"),
        (-(2**31), "xsd:int"),
        (2**31, "xsd:long"),
        (True, "xsd:boolean"),
        (False, "xsd:boolean"),
        (1.5, "xsd:double"),
        (b"\x00\xff", "xsd:base64Binary"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "xsd:dateTime"),
    ],
)
def test_any_type_values_carry_xsi_type_and_round_trip(value: Any, xsi: str) -> None:
    opt = vim.OptionValue(key="k", value=value)
    el = soap.wrap_value("option", "OptionValue", opt)
    assert child(el, "value").get(XSI) == xsi
    back = codec.decode(el, "OptionValue")
    assert back == opt
    assert type(back.value) is type(value)  # a bool stays a bool, not an int


@pytest.mark.parametrize(
    ("value", "xsi", "item"),
    [
        (["a", "b"], "ArrayOfString", "string"),
        ([1, 2, 3], "ArrayOfInt", "int"),
        ([1, 2**40], "ArrayOfLong", "long"),  # one wide value widens the whole array
        ([VM, MoRef("HostSystem", "host-1")], "ArrayOfManagedObjectReference",
         "ManagedObjectReference"),
        ([], "ArrayOfString", None),
    ],
)  # fmt: skip
def test_arrays_inside_any_type_are_typed(value: list[Any], xsi: str, item: str | None) -> None:
    el = soap.wrap_value("val", "anyType", value)
    assert el.get(XSI) == xsi
    if item is not None:
        assert {etree.QName(c).localname for c in el} == {item}
    assert codec.decode(el, "anyType") == value


def test_arrays_inside_any_type_from_a_server_decode() -> None:
    refs = decode_xml(
        '<val xsi:type="ArrayOfManagedObjectReference">'
        '<ManagedObjectReference type="VirtualMachine">vm-1</ManagedObjectReference>'
        '<ManagedObjectReference type="Datastore">datastore-2</ManagedObjectReference></val>',
        "anyType",
    )
    assert refs == [MoRef("VirtualMachine", "vm-1"), MoRef("Datastore", "datastore-2")]
    assert decode_xml('<v xsi:type="ArrayOfString"><string>a</string><string/></v>', "anyType") == [
        "a",
        "",
    ]
    assert decode_xml('<v xsi:type="ArrayOfInt"><int>1</int><int>-2</int></v>', "anyType") == [
        1,
        -2,
    ]
    assert decode_xml('<v xsi:type="xsd:boolean">1</v>', "anyType") is True
    mixed = decode_xml(
        '<v xsi:type="ArrayOfAnyType"><anyType xsi:type="xsd:int">1</anyType>'
        '<anyType xsi:type="xsd:string">x</anyType></v>',
        "anyType",
    )
    assert mixed == [1, "x"]


def test_data_object_inside_any_type_round_trips() -> None:
    desc = vim.Description(label="Disk", summary="8 GB")
    el = soap.wrap_value("val", "anyType", desc)
    assert el.get(XSI) == "Description"
    assert codec.decode(el, "anyType") == desc


def test_unsupported_value_in_any_type_is_refused() -> None:
    with pytest.raises(UsageError, match=r"cannot send a set as xsd:anyType"):
        codec.encode_call(
            "ReconfigVM_Task",
            VM,
            {
                "spec": vim.VirtualMachineConfigSpec(
                    extraConfig=[vim.OptionValue(key="k", value={1})]
                )
            },
        )


# ---------------------------------------------------------------------------------------
# managed-object references


def test_moref_and_handle_are_both_accepted() -> None:
    host = MoRef("HostSystem", "host-7")
    handle = vim.HostSystem(_NoCalls(), "host-7")
    for value in (host, handle):
        el = child(request("PowerOnVM_Task", host=value), "host")
        assert (el.get("type"), el.text) == ("HostSystem", "host-7")


def test_subtype_reference_is_accepted_where_a_base_type_is_declared() -> None:
    el = request(
        "CreateContainerView",
        MoRef("ViewManager", "ViewManager"),
        container=MoRef("Datacenter", "datacenter-2"),  # declared ManagedEntity
        type=["VirtualMachine"],
        recursive=True,
    )
    assert child(el, "container").get("type") == "Datacenter"


def test_reference_of_the_wrong_managed_type_is_refused() -> None:
    with pytest.raises(
        UsageError, match=r"PowerOnVM_Task\.host: expected a reference to a HostSystem"
    ):
        codec.encode_call("PowerOnVM_Task", VM, {"host": MoRef("Datastore", "datastore-1")})
    with pytest.raises(UsageError, match=r"expected a reference to a HostSystem .*got str"):
        codec.encode_call("PowerOnVM_Task", VM, {"host": "host-7"})


def test_method_on_the_wrong_managed_type_is_refused() -> None:
    with pytest.raises(
        UsageError, match=r"PowerOnVM_Task is a method of VirtualMachine, not of HostSystem"
    ):
        codec.encode_call("PowerOnVM_Task", MoRef("HostSystem", "host-1"), {})


def test_malformed_references_are_refused() -> None:
    with pytest.raises(UsageError, match=r"PowerOnVM_Task\.host: character '\\x00'"):
        codec.encode_call("PowerOnVM_Task", VM, {"host": MoRef("HostSystem", "host\x00")})
    with pytest.raises(UsageError, match=r"PowerOnVM_Task\._this: a MoRef's type and value"):
        codec.encode_call("PowerOnVM_Task", MoRef("VirtualMachine", 42), {})  # type: ignore[arg-type]


def test_moref_value_is_escaped_in_attribute_and_text() -> None:
    el = child(request("PowerOnVM_Task", host=MoRef("HostSystem", 'h<&>"1')), "host")
    assert el.text == 'h<&>"1'


# ---------------------------------------------------------------------------------------
# dates, binary, enums, numbers


def test_aware_datetimes_are_sent_with_their_offset() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    el = soap.wrap_value("t", "dateTime", when)
    assert el.text == "2024-05-01T12:00:00.250000Z"
    plus2 = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert soap.wrap_value("t", "dateTime", plus2).text == "2024-05-01T14:00:00+02:00"
    assert soap.roundtrip("dateTime", plus2) == when.replace(microsecond=0)


def test_naive_datetime_is_refused_with_a_fix() -> None:
    sched = vim.OnceTaskScheduler(runAt=datetime(2024, 5, 1, 12, 0))
    with pytest.raises(UsageError, match=r"^s\.runAt: naive datetime.*time zone.*UTC"):
        soap.encode("s", "OnceTaskScheduler", sched)
    # inside anyType too, naming the path
    opt = vim.OptionValue(key="k", value=datetime(2024, 5, 1))
    with pytest.raises(UsageError, match=r"^o\.value: naive datetime"):
        soap.encode("o", "OptionValue", opt)

    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

        def dst(self, dt: datetime | None) -> timedelta | None:
            return None

        def tzname(self, dt: datetime | None) -> str | None:
            return None

    with pytest.raises(UsageError, match=r"^t: naive datetime"):
        soap.encode("t", "dateTime", datetime(2024, 5, 1, tzinfo=NoOffset()))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:34:56Z", datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-05-01T12:34:56.123Z", datetime(2024, 5, 1, 12, 34, 56, 123000, tzinfo=UTC)),
        ("2024-05-01T12:34:56.123456789Z", datetime(2024, 5, 1, 12, 34, 56, 123456, tzinfo=UTC)),
        ("2024-05-01T07:34:56-05:00", datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-05-01T18:04:56.5+05:30", datetime(2024, 5, 1, 12, 34, 56, 500000, tzinfo=UTC)),
        (" 2024-05-01T12:34:56Z\n", datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)),
    ],
)
def test_server_datetimes_decode(text: str, expected: datetime) -> None:
    value = decode_xml(f"<t>{text}</t>", "dateTime")
    assert value == expected
    assert value.tzinfo is not None


def test_bad_datetime_from_server_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not an xsd:dateTime"):
        decode_xml("<t>yesterday</t>", "dateTime")


def test_binary_round_trips_as_base64() -> None:
    data = bytes(range(256)) * 3
    spec = vim.GuestRegValueBinarySpec(value=data)
    el = soap.wrap_value("v", "GuestRegValueBinarySpec", spec)
    assert base64.b64decode(child(el, "value").text) == data
    assert codec.decode(el, "GuestRegValueBinarySpec") == spec
    # servers may wrap base64 text over several lines
    wrapped = base64.encodebytes(data).decode()
    assert decode_xml(f"<v>{wrapped}</v>", "base64Binary") == data
    with pytest.raises(UsageError, match="expected bytes"):
        soap.encode("v", "base64Binary", "not bytes")


def test_enum_member_and_valid_plain_string_are_accepted() -> None:
    op = vim.VirtualDeviceConfigSpecOperation
    for value in (op.remove, "remove"):
        change = vim.VirtualDeviceConfigSpec(device=_disk(), operation=value)  # type: ignore[arg-type]
        spec = reconfigure(vim.VirtualMachineConfigSpec(deviceChange=[change]))
        assert child(spec, "deviceChange", "operation").text == "remove"


def test_invalid_enum_value_is_refused_listing_the_valid_ones() -> None:
    change = vim.VirtualDeviceConfigSpec(device=_disk(), operation="delete")  # type: ignore[arg-type]
    with pytest.raises(UsageError) as info:
        codec.encode_call(
            "ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(deviceChange=[change])}
        )
    msg = str(info.value)
    assert "'delete' is not a VirtualDeviceConfigSpecOperation" in msg
    assert "add, remove, edit" in msg
    assert "deviceChange[0].operation" in msg


def test_enum_values_from_the_server_decode() -> None:
    state = decode_xml("<s>poweredOn</s>", "VirtualMachinePowerState")
    assert state is vim.VirtualMachinePowerState.poweredOn
    newer = decode_xml("<s>hibernating</s>", "VirtualMachinePowerState")  # a newer server
    assert newer == "hibernating"
    assert type(newer) is str


@pytest.mark.parametrize(
    ("tname", "good", "bad"),
    [
        ("byte", [-128, 127], [128, -129]),
        ("short", [-(2**15), 2**15 - 1], [2**15]),
        ("int", [-(2**31), 2**31 - 1], [2**31, -(2**31) - 1]),
        ("long", [-(2**63), 2**63 - 1], [2**63]),
    ],
)
def test_integer_ranges_are_checked(tname: str, good: list[int], bad: list[int]) -> None:
    for value in good:
        assert soap.roundtrip(tname, value) == value
    for value in bad:
        with pytest.raises(UsageError, match=f"does not fit in an xsd:{tname}"):
            soap.encode("n", tname, value)


def test_wrong_python_types_are_refused() -> None:
    with pytest.raises(UsageError, match=r"spec\.numCPUs: expected int, got bool"):
        codec.encode_call(
            "ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(numCPUs=True)}
        )
    with pytest.raises(UsageError, match=r"spec\.numCPUs: expected int, got str"):
        bad: Any = "2"
        codec.encode_call(
            "ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(numCPUs=bad)}
        )
    with pytest.raises(UsageError, match=r"spec\.name: expected str, got int"):
        bad = 5
        codec.encode_call("ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(name=bad)})
    with pytest.raises(UsageError, match=r"expected a list"):
        codec.encode_call(
            "CreateContainerView",
            MoRef("ViewManager", "ViewManager"),
            {"container": MoRef("Folder", "f"), "type": "VirtualMachine", "recursive": True},
        )


def test_floats_use_xml_schema_spellings() -> None:
    assert soap.wrap_value("f", "double", 1.5).text == "1.5"
    assert soap.wrap_value("f", "double", 3).text == "3.0"
    assert soap.wrap_value("f", "double", float("inf")).text == "INF"
    assert soap.wrap_value("f", "double", float("-inf")).text == "-INF"
    assert soap.wrap_value("f", "double", float("nan")).text == "NaN"
    assert soap.roundtrip("double", float("-inf")) == float("-inf")


def test_bad_numbers_from_the_server_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match=r"bad int value in <n>"):
        decode_xml("<n>twelve</n>", "int")
    with pytest.raises(ProtocolError, match="not an xsd:boolean"):
        decode_xml("<b>yes</b>", "boolean")


# ---------------------------------------------------------------------------------------
# text: escaping and characters XML cannot carry


def test_markup_characters_are_escaped_and_round_trip() -> None:
    text = """a<b & c>d "quoted" 'single' ]]> </name>"""
    spec = reconfigure(vim.VirtualMachineConfigSpec(name=text, annotation="x\ty\nz\r\nw\r"))
    assert child(spec, "name").text == text
    # a CR survives the parser's line-end normalisation (it is sent as &#13;)
    assert child(spec, "annotation").text == "x\ty\nz\r\nw\r"
    raw = codec.encode_call(
        "ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(name=text)}
    )
    assert b"a&lt;b &amp; c&gt;d &quot;quoted&quot;" in raw


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[0m", "\ufffe", "\ud800"])
def test_characters_xml_cannot_carry_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match=r"spec\.annotation: character .* cannot be sent in XML"):
        codec.encode_call(
            "ReconfigVM_Task", VM, {"spec": vim.VirtualMachineConfigSpec(annotation=f"ok{bad}")}
        )


def test_secret_values_never_appear_in_errors() -> None:
    mgr = MoRef("SessionManager", "SessionManager")
    secret = "hunter2-very-secret"
    for bad in (secret.encode(), f"{secret}\x00", 12345678):
        with pytest.raises(UsageError) as info:
            codec.encode_call("Login", mgr, {"userName": "root", "password": bad})
        msg = str(info.value)
        assert "Login.password" in msg
        assert "secret" in msg  # says why it is not shown
        assert "hunter2" not in msg and "12345678" not in msg


# ---------------------------------------------------------------------------------------
# a full object, both ways


def _complex_spec() -> vim.VirtualMachineConfigSpec:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return vim.VirtualMachineConfigSpec(
        name="web-01",
        numCPUs=0,
        memoryMB=4096,
        memoryHotAddEnabled=False,
        annotation='line 1\r\nline <2> & "3"',
        guestId="ubuntu64Guest",
        deviceChange=[
            vim.VirtualDeviceConfigSpec(
                operation=vim.VirtualDeviceConfigSpecOperation.add,
                fileOperation=vim.VirtualDeviceConfigSpecFileOperation.create,
                device=_disk(),
            ),
            vim.VirtualDeviceConfigSpec(
                operation=vim.VirtualDeviceConfigSpecOperation.edit,
                device=vim.VirtualVmxnet3(
                    key=4000,
                    deviceInfo=vim.Description(label="Network adapter 1", summary="VM Network"),
                    backing=vim.VirtualEthernetCardNetworkBackingInfo(
                        deviceName="VM Network", network=MoRef("Network", "network-1")
                    ),
                    connectable=vim.VirtualDeviceConnectInfo(
                        startConnected=True, allowGuestControl=False, connected=False
                    ),
                    addressType="generated",
                    wakeOnLanEnabled=False,
                ),
            ),
        ],
        extraConfig=[
            vim.OptionValue(key="guestinfo.s", value="text"),
            vim.OptionValue(key="guestinfo.i", value=0),
            vim.OptionValue(key="guestinfo.b", value=False),
            vim.OptionValue(key="guestinfo.l", value=2**40),
            vim.OptionValue(key="guestinfo.f", value=0.25),
            vim.OptionValue(key="guestinfo.t", value=when),
            vim.OptionValue(key="guestinfo.bin", value=b"\x00\x01"),
            vim.OptionValue(key="guestinfo.strs", value=["a", ""]),
            vim.OptionValue(key="guestinfo.refs", value=[VM]),
            vim.OptionValue(key="guestinfo.ints", value=[1, 2]),
            vim.OptionValue(key="guestinfo.empty", value=""),
        ],
        bootOptions=vim.VirtualMachineBootOptions(
            bootDelay=0,
            enterBIOSSetup=False,
            bootOrder=[
                vim.VirtualMachineBootOptionsBootableDiskDevice(deviceKey=-101),
                vim.VirtualMachineBootOptionsBootableCdromDevice(),
                vim.VirtualMachineBootOptionsBootableEthernetDevice(deviceKey=4000),
            ],
        ),
    )


def test_complex_object_round_trips_through_the_wire() -> None:
    spec = _complex_spec()
    back = soap.roundtrip("VirtualMachineConfigSpec", spec)
    assert back == spec
    assert back is not spec
    assert type(back.deviceChange[1].device) is vim.VirtualVmxnet3
    assert back.extraConfig[2].value is False
    assert back.deviceChange[0].operation is vim.VirtualDeviceConfigSpecOperation.add


def test_complex_object_round_trips_as_a_method_response() -> None:
    spec = _complex_spec()
    body = soap.result_body("RetrieveServiceContent", None)  # a real method's wrapping
    assert codec.decode_response("RetrieveServiceContent", body) is None
    inner = soap.encode("returnval", "VirtualMachineConfigSpec", spec)
    body = soap.envelope(
        f'<ReconfigVM_TaskResponse xmlns="urn:vim25">{inner}</ReconfigVM_TaskResponse>'
    )
    payload = codec.response_payload("ReconfigVM_Task", body)
    assert codec.decode(payload[0], "VirtualMachineConfigSpec") == spec


def test_array_return_values_decode_as_lists() -> None:
    refs = [MoRef("Datastore", f"datastore-{i}") for i in range(3)]
    body = soap.result_body("GetSystemVMsRestrictedDatastores", refs)
    assert codec.decode_response("GetSystemVMsRestrictedDatastores", body) == refs
    assert codec.decode_response("GetSystemVMsRestrictedDatastores", soap.result_body(
        "GetSystemVMsRestrictedDatastores")) == []  # fmt: skip


def test_unknown_elements_from_a_newer_server_are_skipped() -> None:
    info = decode_xml(
        "<d><label>Disk</label><futureField><nested>1</nested></futureField>"
        "<summary>8 GB</summary><anotherNewOne>x</anotherNewOne></d>",
        "Description",
    )
    assert info == vim.Description(label="Disk", summary="8 GB")


def test_unknown_subtype_from_a_newer_server_decodes_as_the_declared_type() -> None:
    change = decode_xml(
        '<c><operation>add</operation><device xsi:type="VirtualQuantumEntangler">'
        "<key>31000</key><controllerKey>100</controllerKey><entanglement>max</entanglement>"
        "</device></c>",
        "VirtualDeviceConfigSpec",
    )
    assert type(change.device) is vim.VirtualDevice
    assert (change.device.key, change.device.controllerKey) == (31000, 100)


def test_unknown_type_inside_any_type_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="unknown type 'QuantumInfo' in <val>"):
        decode_xml('<val xsi:type="QuantumInfo"><q>1</q></val>', "anyType")


def test_any_type_without_xsi_type_decodes_as_text() -> None:
    assert decode_xml("<val>plain</val>", "anyType") == "plain"


# ---------------------------------------------------------------------------------------
# faults


def _invalid_power_state_body() -> bytes:
    fault = vim.InvalidPowerState(
        requestedState=vim.VirtualMachinePowerState.poweredOn,
        existingState=vim.VirtualMachinePowerState.poweredOn,
    )
    return soap.fault_body(
        "The attempted operation cannot be performed in the current state (Powered on).", fault
    )


def test_fault_decodes_into_its_typed_exception() -> None:
    with pytest.raises(faults.InvalidPowerState) as info:
        codec.decode_response("PowerOnVM_Task", _invalid_power_state_body(), 500)
    e = info.value
    assert e.requestedState is vim.VirtualMachinePowerState.poweredOn
    assert e.existingState == "poweredOn"
    assert e.msg == "The attempted operation cannot be performed in the current state (Powered on)."
    assert e.method_name == "PowerOnVM_Task"
    text = str(e)
    assert "\n" not in text
    assert text == (
        "PowerOnVM_Task: The attempted operation cannot be performed in the current state "
        "(Powered on). (InvalidPowerState)"
    )


@pytest.mark.parametrize(
    "base",
    [faults.InvalidPowerState, faults.InvalidState, faults.VimFault, faults.MethodFault,
     spherekit.errors.SpherekitError, Exception],
)  # fmt: skip
def test_fault_is_caught_by_its_wsdl_ancestors(base: type[BaseException]) -> None:
    with pytest.raises(base):
        codec.decode_response("PowerOnVM_Task", _invalid_power_state_body(), 500)


def test_real_server_fault_bytes_decode() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope '
        b'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
        b'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n<soapenv:Body>\n'
        b"<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>"
        b"The object &apos;vim.VirtualMachine:vm-9&apos; has already been deleted or has not "
        b"been completely created</faultstring><detail><ManagedObjectNotFoundFault "
        b'xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"><obj type="VirtualMachine">vm-9'
        b"</obj></ManagedObjectNotFoundFault></detail></soapenv:Fault>\n"
        b"</soapenv:Body>\n</soapenv:Envelope>"
    )
    with pytest.raises(faults.ManagedObjectNotFound) as info:
        codec.decode_response("PowerOffVM_Task", body, 500)
    assert info.value.obj == MoRef("VirtualMachine", "vm-9")
    assert info.value.msg is not None and "'vim.VirtualMachine:vm-9'" in info.value.msg


def test_unknown_fault_type_is_a_method_fault_naming_it() -> None:
    body = soap.envelope(
        "<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Quantum flux"
        '</faultstring><detail><QuantumFluxFault xmlns="urn:vim25" xsi:type="QuantumFlux">'
        "<flux>9</flux></QuantumFluxFault></detail></soapenv:Fault>"
    )
    with pytest.raises(faults.MethodFault) as info:
        codec.decode_response("PowerOnVM_Task", body, 500)
    assert type(info.value) is faults.MethodFault
    assert "QuantumFlux" in str(info.value)
    assert "Quantum flux" in str(info.value)
    assert info.value.method_name == "PowerOnVM_Task"


def test_fault_without_detail_is_a_method_fault_with_the_message() -> None:
    body = soap.fault_body("Something broke on the server")
    with pytest.raises(faults.MethodFault) as info:
        codec.decode_response("CurrentTime", body, 500)
    assert type(info.value) is faults.MethodFault
    assert info.value.msg == "Something broke on the server"
    assert str(info.value) == "CurrentTime: Something broke on the server (MethodFault)"


def test_fault_without_faultstring_still_reads() -> None:
    body = soap.envelope(
        "<soapenv:Fault><faultcode>ServerFaultCode</faultcode><detail>"
        '<NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"/></detail>'
        "</soapenv:Fault>"
    )
    with pytest.raises(faults.NotAuthenticated) as info:
        codec.decode_response("CurrentTime", body, 500)
    assert str(info.value) == "CurrentTime: NotAuthenticated (NotAuthenticated)"


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>503 Service Unavailable</title></head><body>busy</body></html>",
        b"<!DOCTYPE html><html><body><p>Service Unavailable<br></body></html>",
        b"Service Unavailable",
        b"",
    ],
)
def test_http_error_page_is_a_protocol_error_naming_the_status(body: bytes) -> None:
    with pytest.raises(
        ProtocolError, match=r"PowerOnVM_Task: the server answered HTTP 503"
    ) as info:
        codec.decode_response("PowerOnVM_Task", body, 503)
    # an answer came back, so the request reached the server
    assert info.value.maybe_sent is True
    assert info.value.method == "PowerOnVM_Task"


def test_not_a_soap_envelope_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="expected a SOAP envelope"):
        codec.decode_response("CurrentTime", b"<html><body>hi</body></html>")
    with pytest.raises(ProtocolError, match="empty body"):
        codec.decode_response("CurrentTime", soap.envelope(""))


# ---------------------------------------------------------------------------------------
# the hardened parser

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<CurrentTimeResponse xmlns="urn:vim25"><returnval>&lol9;</returnval></CurrentTimeResponse>
</soapenv:Body></soapenv:Envelope>"""

EXTERNAL = {
    "external entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]><r>&x;</r>',
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>',
    "parameter entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % x SYSTEM '
    b'"file:///etc/passwd"> %x;]><r/>',
    "network DTD": b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>',
}


class _Recorder(etree.Resolver):
    """Records every external resource a parser tries to load (and feeds it a marker)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def resolve(self, system_url: str, public_id: str, context: object = None) -> Any:
        self.urls.append(system_url)
        return self.resolve_string('<!ENTITY x "LEAKED">', context, base_url=None)


def test_billion_laughs_is_refused_quickly() -> None:
    start = time.perf_counter()
    with pytest.raises(ProtocolError) as info:
        codec.decode_response("CurrentTime", BILLION_LAUGHS)
    assert time.perf_counter() - start < 1.0
    assert "lollollol" not in str(info.value)


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_external_resources_are_never_loaded(name: str) -> None:
    doc = EXTERNAL[name]
    # control: a permissive parser does try to load the resource, so the recorder works
    permissive = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=False)
    control = _Recorder()
    permissive.resolvers.add(control)
    try:
        etree.fromstring(doc, permissive)
    except etree.XMLSyntaxError:
        pass
    assert control.urls, "the control parser should have asked for the resource"

    recorder = _Recorder()
    parser = wire_xml._parser()
    parser.resolvers.add(recorder)
    try:
        with pytest.raises(ProtocolError, match="DOCTYPE") as info:
            wire_xml.parse(doc)
    finally:
        parser.resolvers.remove(recorder)
    assert recorder.urls == []
    assert "root:" not in str(info.value) and "LEAKED" not in str(info.value)


def test_any_doctype_is_refused() -> None:
    doc = b'<!DOCTYPE Envelope><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>'
    with pytest.raises(ProtocolError, match="declares a DOCTYPE"):
        codec.decode_response("CurrentTime", doc)


@pytest.mark.parametrize(
    "body",
    [
        b"<soapenv:Envelope",
        b"<a><b></a>",
        b"<a>&undefined;</a>",
        b'<?xml version="1.0"?><a/><b/>',
        b"<a>\x00</a>",
    ],
)
def test_malformed_xml_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(ProtocolError, match="not well-formed XML"):
        codec.decode_response("CurrentTime", body)


def test_huge_text_node_is_refused() -> None:
    body = soap.envelope(
        '<CurrentTimeResponse xmlns="urn:vim25"><returnval>'
        + "x" * 10_000_001
        + "</returnval></CurrentTimeResponse>"
    )
    with pytest.raises(ProtocolError, match="not well-formed XML"):
        codec.decode_response("CurrentTime", body)


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = soap.envelope(
        '<CurrentTimeResponse xmlns="urn:vim25"><!-- c --><?pi x?>'
        "<returnval>2024-05-01T00:00:00Z</returnval></CurrentTimeResponse>"
    )
    assert codec.decode_response("CurrentTime", body) == datetime(2024, 5, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------
# API versions and schema checks


def test_method_newer_than_the_server_is_refused_before_sending() -> None:
    diag = MoRef("DiagnosticManager", "DiagMgr")
    with pytest.raises(VersionError) as info:
        codec.encode_call("EmitSyslogMark", diag, {"message": "hi"}, V6_5)
    msg = str(info.value)
    assert "EmitSyslogMark" in msg and "8.0.0.2" in msg and "6.5" in msg
    assert isinstance(info.value, UsageError)
    # the same call is fine for a server that speaks 8.0.0.2
    codec.encode_call("EmitSyslogMark", diag, {"message": "hi"}, registry.version_index("8.0.0.2"))


def test_field_newer_than_the_server_is_refused_naming_it() -> None:
    spec = vim.VirtualMachineConfigSpec(numCPUs=2, simultaneousThreads=2)  # since 8.0.0.1
    with pytest.raises(VersionError) as info:
        reconfigure(spec, V6_5)
    msg = str(info.value)
    assert "VirtualMachineConfigSpec.simultaneousThreads" in msg
    assert "8.0.0.1" in msg and "6.5" in msg
    assert "ReconfigVM_Task.spec.simultaneousThreads" in msg


def test_unset_newer_fields_are_fine_for_an_older_server() -> None:
    spec = reconfigure(vim.VirtualMachineConfigSpec(numCPUs=2), V6_5)
    assert names(spec) == ["numCPUs"]


def test_type_newer_than_the_server_is_refused() -> None:
    newer = [c for c in vim.VirtualDevice.__subclasses__() if c._version > V6_5]
    assert newer, "expected a VirtualDevice subtype newer than 6.5"
    cls = newer[0]
    device = cls.__new__(cls)
    for attr, *_rest in cls._fields:
        setattr(device, attr, None)
    device.key = 1
    change = vim.VirtualDeviceConfigSpec(device=device)
    with pytest.raises(VersionError, match=f"type {cls._wsdl_name}"):
        reconfigure(vim.VirtualMachineConfigSpec(deviceChange=[change]), V6_5)


def test_unknown_method_suggests_the_right_one() -> None:
    with pytest.raises(
        UsageError, match=r"unknown vim25 method 'PowerOnVm_Task'; did you mean PowerOnVM_Task"
    ):
        codec.encode_call("PowerOnVm_Task", VM, {})


def test_unknown_parameter_lists_the_parameters() -> None:
    with pytest.raises(UsageError) as info:
        codec.encode_call("CreateContainerView", MoRef("ViewManager", "v"), {"recurse": True})
    assert str(info.value) == (
        "CreateContainerView has no parameter 'recurse' "
        "(its parameters: container, type, recursive)"
    )
    with pytest.raises(UsageError, match=r"its parameters: none"):
        codec.encode_call("PowerOffVM_Task", VM, {"force": True})


def test_subtype_of_the_wrong_data_type_is_refused() -> None:
    change: Any = vim.Description(label="l", summary="s")
    with pytest.raises(UsageError, match=r"deviceChange\[0\]: expected VirtualDeviceConfigSpec"):
        reconfigure(vim.VirtualMachineConfigSpec(deviceChange=[change]))


# ---------------------------------------------------------------------------------------
# the server's direction (what the simulator reads and writes)


def test_request_round_trips_through_the_servers_decoder() -> None:
    spec = _complex_spec()
    body = codec.encode_call("ReconfigVM_Task", VM, {"spec": spec})
    assert codec.decode_request(body) == ("ReconfigVM_Task", VM, {"spec": spec})
    body = codec.encode_call(
        "CreateContainerView",
        MoRef("ViewManager", "ViewManager"),
        {"container": MoRef("Folder", "group-d1"), "type": ["VirtualMachine"], "recursive": False},
    )
    method, this, params = codec.decode_request(body)
    assert (method, this) == ("CreateContainerView", MoRef("ViewManager", "ViewManager"))
    assert params == {
        "container": MoRef("Folder", "group-d1"),
        "type": ["VirtualMachine"],
        "recursive": False,
    }


def test_server_response_and_fault_encoders_round_trip() -> None:
    refs = [MoRef("Datastore", "datastore-1")]
    body = codec.encode_response("GetSystemVMsRestrictedDatastores", refs)
    assert codec.decode_response("GetSystemVMsRestrictedDatastores", body) == refs
    assert codec.decode_response("PowerOffVM_Task", codec.encode_response("PowerOffVM_Task",
        MoRef("Task", "task-1"))) == MoRef("Task", "task-1")  # fmt: skip
    fault = vim.TaskInProgress(task=MoRef("Task", "task-3"))
    with pytest.raises(faults.TaskInProgress) as info:
        codec.decode_response("PowerOffVM_Task", codec.encode_fault(fault, "busy <now>"), 500)
    assert info.value.task == MoRef("Task", "task-3")
    assert info.value.msg == "busy <now>"


def test_bad_requests_are_refused_by_the_server_decoder() -> None:
    def req(inner: str) -> bytes:
        return soap.envelope(inner)

    with pytest.raises(ProtocolError, match="has no parameter 'force'"):
        codec.decode_request(
            req(
                '<PowerOffVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">vm-1</_this>'
                "<force>true</force></PowerOffVM_Task>"
            )
        )
    with pytest.raises(ProtocolError, match="no _this"):
        codec.decode_request(req('<PowerOffVM_Task xmlns="urn:vim25"/>'))
    with pytest.raises(UsageError, match="unknown vim25 method 'Frobnicate'"):
        codec.decode_request(req('<Frobnicate xmlns="urn:vim25"/>'))
    with pytest.raises(ProtocolError, match="DOCTYPE"):
        codec.decode_request(EXTERNAL["external entity"])
