"""DiagnosticManager, CustomizationSpecManager and CustomFieldsManager."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import (
    CustomizationAdapterMapping,
    CustomizationDhcpIpGenerator,
    CustomizationFixedName,
    CustomizationGlobalIPSettings,
    CustomizationIPSettings,
    CustomizationLinuxPrep,
    CustomizationSpec,
    CustomizationSpecInfo,
    CustomizationSpecItem,
)
from tests.sim.conftest import Target

VM = "DC0/vm/DC0_H0_VM0"


def props(s: spherekit.Session, ref: MoRef, names: list[str]) -> dict[str, Any]:
    ((_r, row),) = retrieve(s, filter_spec(ref.type, names, [ref]))
    return row


def manager(s: spherekit.Session, field: str) -> MoRef:
    ref = getattr(s.content, field)
    assert isinstance(ref, MoRef)
    return ref


# -- diagnostics ----------------------------------------------------------------------------


def test_browse_the_simulator_log(sim: Target, session: spherekit.Session) -> None:
    s = session
    dm = manager(s, "diagnosticManager")
    (desc,) = s.call(dm, "QueryDescriptions")
    assert (desc.key, desc.creator, desc.format, desc.mimeType) == (
        "vpxd:vpxd.log",
        "vpxd",
        "plain",
        "text/plain",
    )
    host = find.by_path(s, "DC0/host/DC0_H0/DC0_H0")
    assert [d.key for d in s.call(dm, "QueryDescriptions", host=host)] == [
        "hostd",
        "vpxa",
        "vmkernel",
    ]
    logging.getLogger("spherekit.sim.test").warning("a warning from the simulator")
    with pytest.raises(faults.NotFound):
        s.call(manager(s, "customizationSpecManager"), "GetCustomizationSpec", name="none")
    head = s.call(dm, "BrowseDiagnosticLog", key="vpxd:vpxd.log", start=999_999, lines=0)
    total = head.lineEnd
    assert total > 5 and head.lineText is None
    text: list[str] = []
    start = 1
    while start <= total:  # how govc reads a log, a page at a time
        page = s.call(dm, "BrowseDiagnosticLog", key="vpxd:vpxd.log", start=start, lines=3)
        assert page.lineStart == start
        text += page.lineText or []
        start += len(page.lineText or [])
    assert len(text) >= total
    joined = "\n".join(text)
    assert "vim.SessionManager.Login -- user user -- ok" in joined
    assert "vim.CustomizationSpecManager.GetCustomizationSpec" in joined
    assert "fault NotFound" in joined
    assert "a warning from the simulator" in joined
    assert "pass" not in joined.replace("bypass", "")  # never a password
    tail = s.call(dm, "BrowseDiagnosticLog", key="vpxd:vpxd.log")
    assert tail.lineStart == 1 and len(tail.lineText) <= 500
    with pytest.raises(faults.CannotAccessFile):
        s.call(dm, "BrowseDiagnosticLog", key="nope")
    with pytest.raises(faults.CannotAccessFile):
        s.call(dm, "BrowseDiagnosticLog", key="vpxd:vpxd.log", host=host)
    empty = s.call(dm, "BrowseDiagnosticLog", key="hostd", host=host)
    assert empty.lineEnd == 0 and empty.lineText is None
    with pytest.raises(faults.InvalidArgument):
        s.call(dm, "BrowseDiagnosticLog", key="vpxd:vpxd.log", lines=-1)


# -- customization specs ----------------------------------------------------------------------


def spec_item(name: str, description: str = "linux") -> CustomizationSpecItem:
    return CustomizationSpecItem(
        info=CustomizationSpecInfo(name=name, description=description, type="Linux"),
        spec=CustomizationSpec(
            identity=CustomizationLinuxPrep(
                hostName=CustomizationFixedName(name="web"), domain="example.com"
            ),
            globalIPSettings=CustomizationGlobalIPSettings(dnsServerList=["10.0.0.1"]),
            nicSettingMap=[
                CustomizationAdapterMapping(
                    adapter=CustomizationIPSettings(ip=CustomizationDhcpIpGenerator())
                )
            ],
        ),
    )


def test_customization_specs(session: spherekit.Session) -> None:
    s = session
    csm = manager(s, "customizationSpecManager")
    assert s.call(csm, "DoesCustomizationSpecExist", name="web") is False
    s.call(csm, "CreateCustomizationSpec", item=spec_item("web"))
    assert s.call(csm, "DoesCustomizationSpecExist", name="web") is True
    got = s.call(csm, "GetCustomizationSpec", name="web")
    assert got.spec.identity.hostName.name == "web"
    assert got.info.changeVersion and got.info.lastUpdateTime is not None
    (info,) = props(s, csm, ["info"])["info"]
    assert (info.name, info.type) == ("web", "Linux")
    with pytest.raises(faults.AlreadyExists):
        s.call(csm, "CreateCustomizationSpec", item=spec_item("web"))
    stale = got.info.changeVersion
    got.info.description = "changed"
    s.call(csm, "OverwriteCustomizationSpec", item=got)
    now = s.call(csm, "GetCustomizationSpec", name="web")
    assert now.info.description == "changed" and now.info.changeVersion != stale
    got.info.changeVersion = stale
    with pytest.raises(faults.ConcurrentAccess):
        s.call(csm, "OverwriteCustomizationSpec", item=got)
    with pytest.raises(faults.NotFound):
        s.call(csm, "OverwriteCustomizationSpec", item=spec_item("missing"))
    s.call(csm, "DuplicateCustomizationSpec", name="web", newName="web2")
    s.call(csm, "RenameCustomizationSpec", name="web2", newName="db")
    with pytest.raises(faults.AlreadyExists):
        s.call(csm, "RenameCustomizationSpec", name="db", newName="web")
    assert [i.name for i in props(s, csm, ["info"])["info"]] == ["web", "db"]
    xml = s.call(csm, "CustomizationSpecItemToXml", item=now)
    assert xml.startswith("<?xml") and "ConfigRoot" in xml
    back = s.call(csm, "XmlToCustomizationSpecItem", specItemXml=xml)
    assert back.info.name == "web" and back.spec.globalIPSettings.dnsServerList == ["10.0.0.1"]
    with pytest.raises(faults.CustomizationFault):
        s.call(csm, "XmlToCustomizationSpecItem", specItemXml="<not xml")
    s.call(csm, "DeleteCustomizationSpec", name="web")
    s.call(csm, "DeleteCustomizationSpec", name="db")
    assert props(s, csm, ["info"]).get("info") is None
    with pytest.raises(faults.NotFound):
        s.call(csm, "DeleteCustomizationSpec", name="web")
    with pytest.raises(faults.NotFound):
        s.call(csm, "GetCustomizationSpec", name="web")


# -- custom fields ------------------------------------------------------------------------------


def test_custom_fields(session: spherekit.Session) -> None:
    s = session
    cfm = manager(s, "customFieldsManager")
    vm = find.by_path(s, VM)
    host = find.by_path(s, "DC0/host/DC0_H0/DC0_H0")
    owner = s.call(cfm, "AddCustomFieldDef", name="owner")
    tier = s.call(cfm, "AddCustomFieldDef", name="tier", moType="VirtualMachine")
    assert owner.key != tier.key and owner.type == "string"
    assert owner.managedObjectType is None and tier.managedObjectType == "VirtualMachine"
    assert owner.fieldInstancePrivileges.updatePrivilege == "Global.SetCustomField"
    assert [f.name for f in props(s, cfm, ["field"])["field"]] == ["owner", "tier"]
    with pytest.raises(faults.DuplicateName):
        s.call(cfm, "AddCustomFieldDef", name="tier", moType="VirtualMachine")
    with pytest.raises(faults.InvalidArgument):
        s.call(cfm, "AddCustomFieldDef", name="x", moType="NoSuchType")
    assert [f.name for f in props(s, vm, ["availableField"])["availableField"]] == [
        "owner",
        "tier",
    ]
    assert [f.name for f in props(s, host, ["availableField"])["availableField"]] == ["owner"]
    s.call(cfm, "SetField", entity=vm, key=owner.key, value="alice")
    s.call(vm, "setCustomValue", key="tier", value="gold")
    s.call(cfm, "SetField", entity=vm, key=owner.key, value="bob")  # replaces, never duplicates
    row = props(s, vm, ["customValue", "value"])
    assert [(v.key, v.value) for v in row["customValue"]] == [
        (owner.key, "bob"),
        (tier.key, "gold"),
    ]
    assert [(v.key, v.value) for v in row["value"]] == [(owner.key, "bob"), (tier.key, "gold")]
    with pytest.raises(faults.InvalidArgument):
        s.call(cfm, "SetField", entity=host, key=tier.key, value="no")  # tier is for VMs only
    with pytest.raises(faults.InvalidArgument):
        s.call(cfm, "SetField", entity=vm, key=9999, value="no")
    with pytest.raises(faults.InvalidArgument):
        s.call(host, "setCustomValue", key="tier", value="no")
    s.call(cfm, "RenameCustomFieldDef", key=owner.key, name="team")
    with pytest.raises(faults.DuplicateName):
        s.call(cfm, "AddCustomFieldDef", name="team")
    assert "team" in {f.name for f in props(s, vm, ["availableField"])["availableField"]}
    s.call(cfm, "RemoveCustomFieldDef", key=owner.key)
    row = props(s, vm, ["customValue", "value"])
    assert [v.key for v in row["customValue"]] == [tier.key] == [v.key for v in row["value"]]
    with pytest.raises(faults.InvalidArgument):
        s.call(cfm, "RemoveCustomFieldDef", key=owner.key)
    again = s.call(cfm, "AddCustomFieldDef", name="owner")
    assert again.key not in (owner.key, tier.key)
