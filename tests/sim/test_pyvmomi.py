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

import pytest

from spherekit.sim import Simulator
from tests.sim.pyvmomi_client import connect, connected, find, objects, vim, wait


@pytest.fixture
def served() -> Iterator[Simulator]:
    with Simulator(seed=1) as sim:
        yield sim


def test_smart_connect_and_read(served: Simulator) -> None:
    with connected(served, disableSslCertValidation=True) as si:
        content = si.RetrieveContent()
        assert content.about.apiVersion == "8.0.2.0"
        assert content.about.apiType == "VirtualCenter"
        machines = objects(si, vim.VirtualMachine)
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


def test_power_off_with_wait_for_task(served: Simulator) -> None:
    with connected(served, disableSslCertValidation=True) as si:
        vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
        off = vm.PowerOffVM_Task()
        wait(off)
        assert off.info.state == "success"
        assert vm.runtime.powerState == "poweredOff"
        with pytest.raises(vim.fault.InvalidPowerState) as info:
            wait(vm.PowerOffVM_Task())
        assert info.value.existingState == "poweredOff"
        on = vm.PowerOnVM_Task()
        wait(on)
        assert on.info.state == "success"
        assert vm.runtime.powerState == "poweredOn"


def test_certificate_validation_with_the_generated_ca(served: Simulator) -> None:
    assert served.ca_file is not None
    context = ssl.create_default_context(cafile=served.ca_file)
    with connected(served, sslContext=context) as si:
        assert si.RetrieveContent().about.apiVersion == "8.0.2.0"


def test_wrong_password(served: Simulator) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(vim.fault.InvalidLogin):
            connect(served, pwd="nope")
        gc.collect()  # pyVmomi leaves the failed connection's socket open
