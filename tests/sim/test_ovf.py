"""OvfManager against the simulator through the spherekit client: ParseDescriptor,
CreateImportSpec, ValidateHost and CreateDescriptor on a real OVF (tests/sim/data)."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import pytest

import spherekit
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import ovf

from .conftest import Target

DATA = Path(__file__).parent / "data"
TINY = (DATA / "tiny.ovf").read_text()


def pdp(**kw: Any) -> d.OvfParseDescriptorParams:
    return d.OvfParseDescriptorParams(locale="", deploymentOption=kw.pop("deploymentOption", ""))


def cisp(name: str = "imp", **kw: Any) -> d.OvfCreateImportSpecParams:
    kw.setdefault("deploymentOption", "")
    return d.OvfCreateImportSpecParams(locale="", entityName=name, **kw)


def ovfm(s: spherekit.Session) -> MoRef:
    ref = s.content.ovfManager
    assert ref is not None
    return ref


def placement(sim: Target) -> tuple[MoRef, MoRef, MoRef]:
    """(standalone host's root pool, LocalDS_0, that host)."""
    reg = sim.backend.registry
    host = next(h for h in reg.of_type("HostSystem") if reg.prop(h, "name") == "DC0_H0")
    pool = reg.prop(reg.prop(host, "parent"), "resourcePool")
    return pool, reg.of_type("Datastore")[0], host


def create_import_spec(
    sim: Target, s: spherekit.Session, descriptor: str = TINY, name: str = "imp", **kw: Any
) -> Any:
    """CreateImportSpec of ``descriptor`` into DC0_H0's pool on LocalDS_0 (``kw``: the
    other :class:`~spherekit.vim.OvfCreateImportSpecParams` fields)."""
    pool, ds, _host = placement(sim)
    return s.call(
        ovfm(s),
        "CreateImportSpec",
        ovfDescriptor=descriptor,
        resourcePool=pool,
        datastore=ds,
        cisp=cisp(name, **kw),
    )


def test_parse_descriptor_reads_the_package(session: spherekit.Session) -> None:
    om = session.content.ovfManager
    assert om is not None
    r = session.call(om, "ParseDescriptor", ovfDescriptor=TINY, pdp=pdp())
    assert r.error is None
    assert r.eula == ["Use it for testing only."]
    assert [(n.name, n.description) for n in r.network] == [
        ("VM Network", "The VM Network network")
    ]
    assert r.annotation == "A tiny appliance for tests"
    assert r.approximateDownloadSize == 4096
    assert r.approximateFlatDeploymentSize == 2 * 1024**3
    assert r.approximateSparseDeploymentSize == 65536
    assert r.defaultEntityName == "tiny"
    assert r.virtualApp is False
    assert [o.key for o in r.deploymentOption] == ["small", "large"]
    assert r.defaultDeploymentOption == "small"
    assert r.productInfo.name == "Tiny Appliance"
    props = {p.id: p for p in r.property}
    assert props["hostname"].type == "string(..64)"
    assert props["hostname"].defaultValue == "tiny"
    assert props["hostname"].category == "Networking"
    assert props["mode"].type == 'string["dhcp", "static"]'
    assert props["password"].type == "password"
    assert props["debug"].type == "boolean"
    assert props["debug"].userConfigurable is False


@pytest.mark.parametrize(
    ("text", "fault", "line"),
    [
        ("<Envelope><unclosed></Envelope>", d.OvfXmlFormat, 1),
        ('<Envelope xmlns="urn:other"/>', d.OvfWrongNamespace, 1),
        ('<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>', d.OvfMissingElement, 1),
        (TINY.replace('ovf:capacity="2"', 'ovf:capacity="two"'), d.OvfInvalidValueReference, 9),
        (TINY.replace('ovf:fileRef="file1"', 'ovf:fileRef="nope"'), d.OvfInvalidValueReference, 9),
        (
            TINY.replace("<rasd:VirtualQuantity>256<", "<rasd:VirtualQuantity>lots<"),
            None,
            0,
        ),
    ],
)
def test_malformed_packages_are_errors_in_the_result(
    session: spherekit.Session, text: str, fault: type[Any] | None, line: int
) -> None:
    om = session.content.ovfManager
    assert om is not None
    r = session.call(om, "ParseDescriptor", ovfDescriptor=text, pdp=pdp())
    if fault is None:  # a bad quantity only matters when the spec is built
        assert r.error is None
        return
    assert r.error is not None and len(r.error) == 1
    assert isinstance(r.error[0].fault, fault)
    assert r.error[0].fault.lineNumber == line
    assert r.error[0].localizedMessage.startswith(f"Line {line}:")


def test_entity_expansion_is_refused(session: spherekit.Session) -> None:
    om = session.content.ovfManager
    assert om is not None
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Envelope>&b;</Envelope>'
    )
    r = session.call(om, "ParseDescriptor", ovfDescriptor=bomb, pdp=pdp())
    assert isinstance(r.error[0].fault, d.OvfXmlFormat)


def test_create_import_spec_builds_the_vm_of_the_ovf(sim: Target) -> None:
    s = sim.connect()
    mapping = [d.KeyValue(key="org.example.tiny.hostname.1", value="box1")]
    r = create_import_spec(sim, s, name="box1", diskProvisioning="thin", propertyMapping=mapping)
    assert r.error is None
    spec = r.importSpec
    assert isinstance(spec, d.VirtualMachineImportSpec)
    config: Any = spec.configSpec
    assert (config.name, config.numCPUs, config.memoryMB) == ("box1", 1, 256)
    assert config.guestId == "otherLinux64Guest"
    assert config.version == "vmx-13"
    assert config.files.vmPathName == "[LocalDS_0]"
    kinds = [type(c.device).__name__ for c in config.deviceChange]
    assert kinds == ["VirtualLsiLogicController", "VirtualCdrom", "VirtualDisk", "VirtualVmxnet3"]
    disk = config.deviceChange[2]
    assert disk.fileOperation == "create"
    assert disk.device.capacityInKB == 2 * 1024 * 1024
    assert disk.device.backing.thinProvisioned is True
    assert disk.device.controllerKey == config.deviceChange[0].device.key < 0
    nic = config.deviceChange[3].device
    assert nic.backing.deviceName == "VM Network"
    assert [(o.key, o.value) for o in config.extraConfig] == [("tiny.flavor", "test")]
    values = {p.info.id: p.info.value for p in config.vAppConfig.property}
    assert values["hostname"] == "box1" and values["mode"] == ""
    [item] = r.fileItem
    assert (item.deviceId, item.path, item.size, item.cimType, item.create) == (
        "/box1/VirtualLsiLogicController0:0",
        "tiny-disk1.vmdk",
        4096,
        17,
        False,
    )


def test_deployment_option_selects_items(sim: Target) -> None:
    r = create_import_spec(sim, sim.connect(), deploymentOption="large")
    config: Any = r.importSpec.configSpec
    assert (config.numCPUs, config.numCoresPerSocket, config.memoryMB) == (4, 2, 1024)


def test_unmapped_network_is_an_error(sim: Target) -> None:
    s = sim.connect()
    text = TINY.replace("VM Network", "Backend LAN")
    r = create_import_spec(sim, s, text)
    assert r.importSpec is None
    assert isinstance(r.error[0].fault, d.OvfNetworkMappingNotSupported)
    # mapped to an existing network, it imports
    net = sim.backend.registry.of_type("Network")[0]
    mapping = [d.OvfNetworkMapping(name="Backend LAN", network=net)]
    r = create_import_spec(sim, s, text, networkMapping=mapping)
    assert r.error is None
    assert r.importSpec.configSpec.deviceChange[3].device.backing.network == net


def test_unknown_provisioning_and_hardware_are_errors(sim: Target) -> None:
    text = TINY.replace("<rasd:ResourceType>24<", "<rasd:ResourceType>99<")
    r = create_import_spec(sim, sim.connect(), text, diskProvisioning="papyrus")
    kinds = {type(e.fault) for e in r.error}
    assert kinds == {d.OvfUnsupportedDiskProvisioning, d.OvfUnsupportedType}


def test_validate_host(sim: Target) -> None:
    s = sim.connect()
    _pool, _ds, host = placement(sim)
    r = s.call(
        ovfm(s),
        "ValidateHost",
        ovfDescriptor=TINY,
        host=host,
        vhp=d.OvfValidateHostParams(locale="", deploymentOption=""),
    )
    assert r.error is None
    assert (r.downloadSize, r.flatDeploymentSize) == (4096, 2 * 1024**3)
    assert "thin" in r.supportedDiskProvisioning


def test_create_descriptor_round_trips(sim: Target) -> None:
    s = sim.connect()
    reg = sim.backend.registry
    vm = next(v for v in reg.of_type("VirtualMachine") if reg.prop(v, "name") == "DC0_H0_VM0")
    r = s.call(
        ovfm(s),
        "CreateDescriptor",
        obj=vm,
        cdp=d.OvfCreateDescriptorParams(
            ovfFiles=[
                d.OvfFile(
                    deviceId=f"/{vm.value}/ParaVirtualSCSIController0:0",
                    path="vm0-disk1.vmdk",
                    size=1234,
                )
            ]
        ),
    )
    env = ovf.parse(r.ovfDescriptor)
    assert env.system_name == "DC0_H0_VM0"
    assert [(f.href, f.size) for f in env.files] == [("vm0-disk1.vmdk", 1234)]
    assert env.disks[0].capacity == 1024**3
    parsed = s.call(ovfm(s), "ParseDescriptor", ovfDescriptor=r.ovfDescriptor, pdp=pdp())
    assert parsed.error is None
    assert [n.name for n in parsed.network] == ["DC0_DVPG0"]


def test_the_ova_holds_the_package() -> None:
    with tarfile.open(DATA / "tiny.ova") as tar:
        names = tar.getnames()
        assert names == ["tiny.ovf", "tiny.mf", "tiny-disk1.vmdk"]
        member = tar.extractfile("tiny.ovf")
        assert member is not None
        assert member.read().decode() == TINY
