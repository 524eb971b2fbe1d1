"""Guest customization as servers before and after vSphere 7.0 U2 report it.

``guest.customizationInfo`` appeared in API 7.0.2.0: a simulator serving an older version
reports none, and the customization's outcome is told only by the events it posts (at
every version). ``spherekit sim serve --api-version`` picks the version served.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import spherekit
from spherekit import find
from spherekit.schema.vim25 import data as d
from spherekit.schema.vim25.enums import EventFilterSpecRecursionOption
from spherekit.sim.command import add_commands
from tests.sim.conftest import SimFactory

VM = "DC0/vm/DC0_H0_VM0"


def _run(s: spherekit.Session, vm: Any, method: str, **kw: Any) -> Any:
    return spherekit.wait_for_task(s, s.call(vm, method, **kw))


def _customized_boot(s: spherekit.Session, host_name: str) -> Any:
    """Customize VM with LinuxPrep naming it ``host_name``, boot it, wait for its address;
    return its GuestInfo."""
    vm = find.by_path(s, VM)
    _run(s, vm, "PowerOffVM_Task")
    spec = d.CustomizationSpec(
        identity=d.CustomizationLinuxPrep(
            hostName=d.CustomizationFixedName(name=host_name), domain="corp.example"
        ),
        globalIPSettings=d.CustomizationGlobalIPSettings(),
        nicSettingMap=[
            d.CustomizationAdapterMapping(
                adapter=d.CustomizationIPSettings(ip=d.CustomizationDhcpIpGenerator())
            )
        ],
    )
    _run(s, vm, "CustomizeVM_Task", spec=spec)
    _run(s, vm, "PowerOnVM_Task")
    spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10)
    rows = spherekit.fetch(s, "VirtualMachine", ["guest"])
    return next(v for r, v in rows if r == vm)["guest"]


def _custom_events(s: spherekit.Session) -> list[str]:
    vm = find.by_path(s, VM)
    spec = d.EventFilterSpec(
        entity=d.EventFilterSpecByEntity(entity=vm, recursion=EventFilterSpecRecursionOption.self),
        type=["CustomizationEvent"],
    )
    mgr = s.content.eventManager
    assert mgr is not None
    found = s.call(mgr, "QueryEvents", filter=spec) or []
    return [type(e).__name__ for e in sorted(found, key=lambda e: e.key)]


@pytest.mark.parametrize(
    ("version", "name", "status", "outcome"),
    [
        ("7.0.0.0", "web-1", None, "CustomizationSucceeded"),
        ("7.0.1.1", "bad_name", None, "CustomizationLinuxIdentityFailed"),
        ("7.0.2.0", "web-1", "TOOLSDEPLOYPKG_SUCCEEDED", "CustomizationSucceeded"),
        ("8.0.2.0", "bad_name", "TOOLSDEPLOYPKG_FAILED", "CustomizationLinuxIdentityFailed"),
    ],
)
def test_customization_info_only_from_7_0_2(
    sim_factory: SimFactory, version: str, name: str, status: str | None, outcome: str
) -> None:
    s = sim_factory(seed=1, guest_ip_delay=0.05, api_version=version).connect()
    assert s.content.about.apiVersion == version == s.api_version
    guest = _customized_boot(s, name)
    if status is None:
        assert guest.customizationInfo is None
    else:
        assert guest.customizationInfo.customizationStatus == status
    assert guest.toolsRunningStatus == "guestToolsRunning"
    assert _custom_events(s) == ["CustomizationStartedEvent", outcome]
    vm = find.by_path(s, VM)
    _run(s, vm, "PowerOffVM_Task")  # a stopped guest keeps reporting (or not) the same
    rows = spherekit.fetch(s, "VirtualMachine", ["guest"])
    off = next(v for r, v in rows if r == vm)["guest"]
    assert (off.customizationInfo is None) is (status is None)


def _serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_serve_takes_the_api_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _serve_args().api_version == "8.0.2.0"
    assert _serve_args("--api-version", "7.0.0.0").api_version == "7.0.0.0"
    with pytest.raises(SystemExit):
        _serve_args("--api-version", "7.5")
    err = capsys.readouterr().err
    assert "unknown API version '7.5'; one of: " in err and "7.0.2.0" in err
