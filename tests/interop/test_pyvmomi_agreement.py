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

Where the two differ only by a pyVmomi convention (``[]`` for an absent array, ``""``/``0``
for an absent required field, unwrapped ``LocalizedMethodFault``, classes for type names)
the comparison records a note instead; see the docstring of ``agreement.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from spherekit import property as prop
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    EventFilterSpec,
    ManagedObjectNotFound,
    MethodFault,
    ObjectSpec,
    PropertyFilterSpec,
    PropertySpec,
    RetrieveOptions,
)
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


def agree(exchange: Exchange, api_version: str, minimum: int) -> Comparison:
    """Decode ``exchange`` both ways; assert agreement and full coverage."""
    ours = decode_spherekit(exchange.method, exchange.body, exchange.status)
    theirs = decode_pyvmomi(exchange.method, exchange.body, api_version)
    result = compare(ours, theirs, exchange.method)
    assert not result.diffs, result.report()
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


# (type, property, minimum leaves compared over all objects of that type in the default
# VPX inventory: 4 VMs, 4 hosts, 1 datastore, 1 network, 1 cluster)
PROPERTIES = [
    ("VirtualMachine", "config", 500),  # > 100 per VM
    ("VirtualMachine", "summary", 200),
    ("VirtualMachine", "runtime", 40),
    ("VirtualMachine", "guest", 40),
    ("VirtualMachine", "layoutEx", 60),
    ("VirtualMachine", "storage", 20),
    ("HostSystem", "summary", 200),
    ("HostSystem", "hardware", 200),
    ("HostSystem", "config", 200),
    ("Datastore", "summary", 8),
    ("Datastore", "info", 8),
    ("Network", "summary", 3),
    ("ClusterComputeResource", "configurationEx", 5),
]


@pytest.mark.parametrize(("mtype", "path", "minimum"), PROPERTIES, ids=lambda v: str(v))
def test_properties(client: Client, mtype: str, path: str, minimum: int) -> None:
    exchange = fetch_raw(client, mtype, path)
    agree(exchange, client.session.api_version, minimum)


def test_service_content(client: Client) -> None:
    client.session.negotiate()  # RetrieveServiceContent again, recorded this time
    agree(client.recorder.last("RetrieveServiceContent"), client.session.api_version, 30)


def test_task_info_success_and_error(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0)) as c:
        s = c.session
        rows = prop.fetch(s, "VirtualMachine", ["runtime.powerState"])
        vm = next(ref for ref, values in rows if values["runtime.powerState"] == "poweredOn")
        done = s.call(vm, "PowerOffVM_Task")
        failed = s.call(vm, "PowerOffVM_Task")  # already off: the task fails
        agree(c.recorder.last("PowerOffVM_Task"), s.api_version, 1)
        spec = prop.filter_spec("Task", ["info"], [done, failed])
        infos = {ref: values["info"] for ref, values in prop.retrieve(s, spec)}
        assert (infos[done].state, infos[failed].state) == ("success", "error")
        result = agree(c.recorder.last("RetrievePropertiesEx"), s.api_version, 40)
    # the error's LocalizedMethodFault was compared with pyVmomi's unwrapped fault
    error = f"RetrievePropertiesEx.objects[{list(infos).index(failed)}].propSet[0].val.error"
    assert result.notes["localized-fault"] == [error]
    assert "InvalidPowerState" in result.types


def test_query_events(vcsim_factory: VcsimFactory) -> None:
    with connected(vcsim_factory(cluster=0)) as c:
        s = c.session
        rows = prop.fetch(s, "VirtualMachine", ["name"])
        s.call(rows[0][0], "PowerOffVM_Task")
        events = s.call(s.content.eventManager, "QueryEvents", filter=EventFilterSpec())
        assert len(events) >= 5
        result = agree(c.recorder.last("QueryEvents"), s.api_version, 100)
    assert {"VmPoweredOffEvent", "VmBeingCreatedEvent", "VirtualMachineConfigSpec"} <= result.types


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
    assert result.notes["localized-fault"] == ["RetrievePropertiesEx.objects[0].missingSet[0].fault"]
    assert "InvalidProperty" in result.types


def _invalid_login(s: Session) -> None:
    s.call(s.content.sessionManager, "Login", userName="nobody", password="wrong")


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


def test_not_found_fault_carries_the_object(client: Client) -> None:
    with pytest.raises(ManagedObjectNotFound) as raised:
        _object_not_found(client.session)
    assert raised.value.obj == MoRef("VirtualMachine", "vm-nope")
