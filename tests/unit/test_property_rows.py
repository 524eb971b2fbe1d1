"""property._rows: its fast path gives exactly what the general path gives, for any shape."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from spherekit.errors import ProtocolError
from spherekit.property import _rows
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.enums import VirtualMachinePowerState
from spherekit.wire import codec

_Q = "{urn:vim25}"
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
XSD = 'xmlns:xsd="http://www.w3.org/2001/XMLSchema"'


def _reference_rows(payload: etree._Element, rows: list[Any], missing: list[Any]) -> str | None:
    """``_rows`` as it was before its fast path (the behaviour to keep)."""
    token = None
    decode = codec.decode
    for result in payload:
        for el in result:
            tag = el.tag
            if tag == _Q + "objects":
                obj = None
                values: dict[str, Any] = {}
                for c in el:
                    ctag = c.tag
                    if ctag == _Q + "propSet":
                        name = val = None
                        for pc in c:
                            if pc.tag == _Q + "name":
                                name = pc.text
                            else:
                                val = pc
                        if name is not None:
                            values[name] = decode(val, "anyType") if val is not None else None
                    elif ctag == _Q + "obj":
                        obj = MoRef(c.get("type") or "", c.text or "")
                    elif ctag == _Q + "missingSet":
                        m = codec.decode(c, "MissingProperty")
                        missing.append((obj, m.path, m.fault.fault if m.fault else None))
                if obj is not None:
                    rows.append((obj, values))
            elif tag == _Q + "token":
                token = el.text
    return token


def payload(objects: str, token: str = "") -> etree._Element:
    body = (
        f'<soapenv:Envelope xmlns:soapenv="{codec.NS_SOAP}" {XSI} {XSD}><soapenv:Body>'
        f'<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>{objects}{token}'
        "</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"
    )
    return codec.response_payload("RetrievePropertiesEx", body.encode())


def prop(name: str, val: str) -> str:
    return f"<propSet><name>{name}</name>{val}</propSet>"


def typed(xsi_type: str, text: str) -> str:
    return f'<val xsi:type="{xsi_type}">{text}</val>'


def both(objects: str, token: str = "") -> tuple[list[Any], list[Any], str | None]:
    """Run the fast and the reference implementation; they must agree value for value."""
    p = payload(objects, token)
    rows: list[Any] = []
    missing: list[Any] = []
    got = _rows(p, rows, missing)
    ref_rows: list[Any] = []
    ref_missing: list[Any] = []
    want = _reference_rows(p, ref_rows, ref_missing)
    assert got == want
    assert repr(rows) == repr(ref_rows)  # repr: NaN equals NaN, and enums show their type
    assert [[type(v) for v in d.values()] for _, d in rows] == [
        [type(v) for v in d.values()] for _, d in ref_rows
    ]
    assert repr(missing) == repr(ref_missing)
    return rows, missing, got


VM = '<obj type="VirtualMachine">vm-1</obj>'

SIMPLE = [
    typed("xsd:string", "a &amp; b"),
    typed("xsd:string", ""),
    "<val xsi:type='xsd:string'/>",
    typed("xsd:int", "-42"),
    typed("xsd:long", "9007199254740993"),
    typed("xsd:short", "7"),
    typed("xsd:byte", "1"),
    typed("xsd:boolean", "true"),
    typed("xsd:boolean", "0"),
    typed("xsd:double", "1.5"),
    typed("xsd:float", "NaN"),
    typed("xsd:dateTime", "2024-05-01T10:00:00Z"),
    typed("xsd:base64Binary", "aGVsbG8="),
    typed("xsd:anyURI", "https://x/"),
    typed("VirtualMachinePowerState", "poweredOn"),
    typed("VirtualMachinePowerState", "someNewState"),
    typed("ManagedObjectReference", "host-1").replace("<val ", '<val type="HostSystem" '),
    typed("ArrayOfString", "<string>a</string><string>b</string>"),
    typed("ArrayOfInt", "<int>1</int><int>2</int>"),
    typed("GuestNicInfo", "<macAddress>00:0c</macAddress><connected>true</connected>"),
    "<val>no type</val>",
    "<val/>",
    typed("NoSuchEnumOrType", "x").replace("NoSuchEnumOrType", "xsd:string"),
]


@pytest.mark.parametrize("val", SIMPLE)
def test_each_kind_of_value(val: str) -> None:
    rows, _, _ = both(f"<objects>{VM}{prop('p', val)}</objects>")
    assert len(rows) == 1


def test_a_typical_page() -> None:
    objects = "".join(
        f'<objects><obj type="VirtualMachine">vm-{i}</obj>'
        + "".join(prop(f"p{j}", v) for j, v in enumerate(SIMPLE))
        + "</objects>"
        for i in range(3)
    )
    rows, missing, token = both(objects, "<token>t-1</token>")
    assert token == "t-1" and missing == []
    ref, values = rows[0]
    assert ref == MoRef("VirtualMachine", "vm-0")
    assert values["p0"] == "a & b"
    assert values["p3"] == -42 and type(values["p3"]) is int
    assert values["p14"] is VirtualMachinePowerState.poweredOn
    assert values["p15"] == "someNewState"
    assert values["p16"] == MoRef("HostSystem", "host-1")


MISSING = (
    "<missingSet><path>guest.ipAddress</path><fault>"
    '<fault xsi:type="NoPermission"><privilegeId>System.Read</privilegeId></fault>'
    "</fault></missingSet>"
)

ODD = [
    f"{prop('a', typed('xsd:int', '1'))}{VM}",  # obj not first
    f"{VM}{prop('a', typed('xsd:int', '1'))}{MISSING}",
    f"{VM}{MISSING}{prop('a', typed('xsd:int', '1'))}",
    f"{MISSING}{VM}",  # missing before obj: reported with obj None
    f"{VM}<propSet>{typed('xsd:int', '1')}<name>a</name></propSet>",  # val before name
    f"{VM}<propSet><name>a</name><name>b</name></propSet>",
    f"{VM}<propSet><name>a</name></propSet>",
    f"{VM}<propSet><name>a</name>{typed('xsd:int', '1')}<extra>x</extra></propSet>",
    f"{VM}<propSet><name/>{typed('xsd:int', '1')}</propSet>",
    f"{VM}<propSet/>",
    f"{VM}<unknownChild/>{prop('a', typed('xsd:int', '1'))}",
    f"{VM}{prop('a', typed('xsd:int', '1'))}<obj type='VirtualMachine'>vm-2</obj>",
    f"{prop('a', typed('xsd:int', '1'))}",  # no obj: no row
    "",
    f"{VM}{prop('a', typed('xsd:int', '1'))}{prop('a', typed('xsd:int', '2'))}",
    f"{VM}<propSet xmlns='urn:other'><name>a</name><val>1</val></propSet>",
    f"{VM}<o:propSet xmlns:o='urn:other'><name>a</name>{typed('xsd:int', '1')}</o:propSet>",
    f"{VM}<futureThing><name>a</name>{typed('xsd:int', '1')}</futureThing>",
]


@pytest.mark.parametrize("objects", ODD)
def test_odd_shapes(objects: str) -> None:
    both(f"<objects>{objects}</objects><objects>{VM}{prop('z', typed('xsd:int', '9'))}</objects>")


@pytest.mark.parametrize(
    ("xsi_type", "text"),
    [
        ("xsd:int", "abc"),
        ("xsd:long", ""),
        ("xsd:boolean", "yes"),
        ("xsd:dateTime", "yesterday"),
        ("xsd:base64Binary", "a"),
        ("xsd:double", "one"),
    ],
)
def test_bad_values_raise_what_decode_raises(xsi_type: str, text: str) -> None:
    p = payload(f"<objects>{VM}{prop('p', typed(xsi_type, text))}</objects>")
    with pytest.raises(ProtocolError) as fast:
        _rows(p, [], [])
    with pytest.raises(ProtocolError) as ref:
        _reference_rows(p, [], [])
    assert str(fast.value) == str(ref.value)


def test_text_decoders_agree_with_decode() -> None:
    for val in SIMPLE:
        el = payload(f"<objects>{VM}{prop('p', val)}</objects>")[0][0][1][1]
        f = codec.TEXT_DECODERS[el.get(codec.XSI_TYPE)]
        if f is not None:
            assert len(el) == 0
            got, want = f(el.text or ""), codec.decode(el, "anyType")
            assert got == want or (got != got and want != want)  # NaN
            assert type(got) is type(want)
    assert codec.TEXT_DECODERS[None] is None
    assert codec.TEXT_DECODERS["ManagedObjectReference"] is None
    assert codec.TEXT_DECODERS["ArrayOfString"] is None
    assert codec.TEXT_DECODERS["VirtualMachineConfigSpec"] is None
