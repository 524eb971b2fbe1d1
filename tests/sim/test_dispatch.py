"""The SOAP and HTTP surface: faults instead of tracebacks, MethodNotFound, endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

import spherekit
from spherekit import faults, find
from spherekit.schema.base import MoRef
from spherekit.session import SERVICE_INSTANCE
from spherekit.sim import methods
from spherekit.wire import codec
from spherekit.wire.transport import Request
from tests.sim.conftest import Target

ENV = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}'
    "</soapenv:Body></soapenv:Envelope>"
)


def fault_of(status: int, body: bytes, method: str = "X") -> Exception:
    assert status == 500, body
    assert b"Traceback" not in body
    try:
        codec.response_payload(method, body, status)
    except Exception as e:
        return e
    raise AssertionError("no fault")


def test_unimplemented_and_unknown_methods(sim: Target, session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    # a real vim25 method the simulator does not implement (yet)
    with pytest.raises(faults.MethodNotFound) as info:
        session.call(vm, "QueryFaultToleranceCompatibility")
    assert info.value.receiver == vm and info.value.method == "QueryFaultToleranceCompatibility"
    # not a vim25 method at all
    body = ENV.format(
        '<NoSuchMethod xmlns="urn:vim25"><_this type="Folder">group-d1</_this></NoSuchMethod>'
    ).encode()
    r = sim.post(body, session._cookie)
    err = fault_of(r.status, r.body)
    assert isinstance(err, faults.MethodNotFound) and err.method == "NoSuchMethod"
    # a method of another type
    body = codec.encode_call("PowerOnVM_Task", MoRef("VirtualMachine", vm.value), {})
    body = body.replace(b'type="VirtualMachine"', b'type="Folder"').replace(
        vm.value.encode(), b"group-d1"
    )
    r = sim.post(body, session._cookie)
    assert isinstance(fault_of(r.status, r.body), faults.MethodNotFound)


def test_bad_requests_get_faults(sim: Target, session: spherekit.Session) -> None:
    cookie = session._cookie
    for body in (
        b"this is not xml",
        b"<a><b></a>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
        ENV.format("").encode(),
        ENV.format('<CurrentTime xmlns="urn:vim25"></CurrentTime>').encode(),  # no _this
        ENV.format(
            '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
            "propertyCollector</_this><options><maxObjects>many</maxObjects></options>"
            "</RetrievePropertiesEx>"
        ).encode(),
    ):
        r = sim.post(body, cookie)
        assert isinstance(fault_of(r.status, r.body), faults.InvalidRequest), body


def test_missing_required_values_are_invalid_requests(
    sim: Target, session: spherekit.Session
) -> None:
    # a required parameter
    body = ENV.format(
        '<CreateContainerView xmlns="urn:vim25"><_this type="ViewManager">'
        "ViewManager</_this><recursive>true</recursive></CreateContainerView>"
    )
    r = sim.post(body.encode(), session._cookie)
    err = fault_of(r.status, r.body)
    assert isinstance(err, faults.InvalidRequest) and "container" in str(err)
    # a required field of a data object (TraversalSpec.path)
    body = ENV.format(
        '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
        "propertyCollector</_this><specSet><propSet><type>Folder</type><pathSet>name</pathSet>"
        '</propSet><objectSet><obj type="Folder">group-d1</obj><selectSet xsi:type='
        '"TraversalSpec"><type>Folder</type></selectSet></objectSet></specSet><options/>'
        "</RetrievePropertiesEx>"
    )
    r = sim.post(body.encode(), session._cookie)
    err = fault_of(r.status, r.body)
    assert isinstance(err, faults.InvalidRequest) and "path" in str(err)


def test_handler_crashes_become_system_errors(
    session: spherekit.Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(ctx: Any, this: MoRef) -> None:
        raise KeyError("secret internals")

    monkeypatch.setitem(methods._HANDLERS, ("ServiceInstance", "CurrentTime"), (boom, None))
    with pytest.raises(faults.SystemError) as info:
        session.call(SERVICE_INSTANCE, "CurrentTime")
    assert "KeyError" in (info.value.reason or "")
    assert any("CurrentTime" in r.getMessage() for r in caplog.records)


def test_unsupported_parameters_are_refused(
    session: spherekit.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def partial(ctx: Any, this: MoRef) -> None:
        return None

    monkeypatch.setitem(
        methods._HANDLERS, ("VirtualMachine", "PowerOnVM_Task"), (partial, frozenset())
    )
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")
    host = find.by_path(session, "DC0/host/DC0_H0/DC0_H0")
    with pytest.raises(faults.NotSupported) as info:
        session.call(vm, "PowerOnVM_Task", host=host)
    assert "host" in str(info.value)


def test_fetch(sim: Target, session: spherekit.Session) -> None:
    vm = find.by_path(session, "DC0/vm/DC0_H0_VM0")

    def fetch(prop: str) -> tuple[int, etree._Element]:
        body = ENV.format(
            f'<Fetch xmlns="urn:vim25"><_this type="VirtualMachine">{vm.value}'
            f"</_this><prop>{prop}</prop></Fetch>"
        )
        r = sim.post(body.encode(), session._cookie)
        return r.status, etree.fromstring(r.body)

    status, doc = fetch("runtime.powerState")
    vals = doc.findall(".//{urn:vim25}returnval")
    assert status == 200 and [v.text for v in vals] == ["poweredOn"]
    assert vals[0].get("{http://www.w3.org/2001/XMLSchema-instance}type") == (
        "VirtualMachinePowerState"
    )
    status, doc = fetch("snapshot")  # unset: an empty answer, not a crash
    assert status == 200 and doc.findall(".//{urn:vim25}returnval") == []
    status, doc = fetch("datastore")
    (val,) = doc.findall(".//{urn:vim25}returnval")
    assert val.get("{http://www.w3.org/2001/XMLSchema-instance}type") == (
        "ArrayOfManagedObjectReference"
    )
    status, doc = fetch("nosuch")
    assert status == 500 and doc.find(".//{urn:vim25}InvalidPropertyFault") is not None


def test_http_endpoints(sim: Target) -> None:
    t = sim.transport()
    r = t.send(Request("GET", "/sdk/vimServiceVersions.xml", {}))
    assert r.status == 200
    doc = etree.fromstring(r.body)
    assert doc.findtext("namespace/name") == "urn:vim25"
    assert doc.findtext("namespace/version") == "8.0.2.0"
    prior = [v.text for v in doc.findall("namespace/priorVersions/version")]
    assert "8.0.1.0" in prior and "6.5" in prior and "8.0.2.0" not in prior
    assert t.send(Request("GET", "/sdk", {})).status == 405
    assert t.send(Request("GET", "/nowhere", {})).status == 404
    from spherekit.sim import http

    big = b"x" * (http.MAX_BODY + 1)
    assert t.send(Request("POST", "/sdk", {}, big)).status == 413
