"""pyVmomi, VMware's own SDK, drives the served simulator unmodified.

Always against the served simulator (HTTPS), whatever SPHEREKIT_SIM_MODE says: pyVmomi
only speaks HTTP. pyVmomi objects are handled as ``Any`` (its stubs make every property
optional).
"""

from __future__ import annotations

import gc
import ssl
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from spherekit.sim import Simulator


@pytest.fixture
def served() -> Iterator[Simulator]:
    with Simulator(seed=1) as sim:
        yield sim


def connect(sim: Simulator, **kwargs: Any) -> Any:
    u = urlsplit(sim.sdk_url)
    si: Any = SmartConnect(  # type: ignore[no-untyped-call]
        host=u.hostname, port=u.port, user="user", pwd="pass", **kwargs
    )
    return si


def wait(task: Any) -> Any:
    return WaitForTask(task)  # type: ignore[no-untyped-call]


def vms(si: Any) -> list[Any]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return list(view.view)
    finally:
        view.DestroyView()


def test_smart_connect_and_read(served: Simulator) -> None:
    si = connect(served, disableSslCertValidation=True)
    try:
        content = si.RetrieveContent()
        assert content.about.apiVersion == "8.0.2.0"
        assert content.about.apiType == "VirtualCenter"
        machines = vms(si)
        assert sorted(vm.name for vm in machines) == [
            "DC0_C0_RP0_VM0",
            "DC0_C0_RP0_VM1",
            "DC0_H0_VM0",
            "DC0_H0_VM1",
        ]
        vm = machines[0]
        # pyVmomi 8+ reads each of these through the internal Fetch method
        assert vm.runtime.powerState == "poweredOn"
        assert vm.config.hardware.numCPU == 1
        assert vm.summary.config.name == vm.name
        assert [ds.name for ds in vm.datastore] == ["LocalDS_0"]
        assert isinstance(vm.config.hardware.device[-1], vim.vm.device.VirtualEthernetCard)
        # unset properties read as None (or empty lists), never a crash
        assert vm.snapshot is None
        assert vm.layoutEx is None
        assert vm.guest.ipAddress is None
        assert list(vm.rootSnapshot) == []
        assert vm.parent.name == "vm"
        assert si.content.sessionManager.currentSession.userName == "user"
    finally:
        Disconnect(si)  # type: ignore[no-untyped-call]


def test_power_off_with_wait_for_task(served: Simulator) -> None:
    si = connect(served, disableSslCertValidation=True)
    try:
        vm = next(v for v in vms(si) if v.name == "DC0_H0_VM0")
        assert wait(vm.PowerOffVM_Task()) == "success"
        assert vm.runtime.powerState == "poweredOff"
        with pytest.raises(vim.fault.InvalidPowerState) as info:
            wait(vm.PowerOffVM_Task())
        assert info.value.existingState == "poweredOff"
        assert wait(vm.PowerOnVM_Task()) == "success"
        assert vm.runtime.powerState == "poweredOn"
    finally:
        Disconnect(si)  # type: ignore[no-untyped-call]


def test_certificate_validation_with_the_generated_ca(served: Simulator) -> None:
    assert served.ca_file is not None
    context = ssl.create_default_context(cafile=served.ca_file)
    si = connect(served, sslContext=context)
    try:
        assert si.RetrieveContent().about.apiVersion == "8.0.2.0"
    finally:
        Disconnect(si)  # type: ignore[no-untyped-call]


def test_wrong_password(served: Simulator) -> None:
    u = urlsplit(served.sdk_url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(vim.fault.InvalidLogin):
            SmartConnect(  # type: ignore[no-untyped-call]
                host=u.hostname,
                port=u.port,
                user="user",
                pwd="nope",
                disableSslCertValidation=True,
            )
        gc.collect()  # pyVmomi leaves the failed connection's socket open
