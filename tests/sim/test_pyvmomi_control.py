"""pyVmomi against the served simulator: injected faults, reset, durability.

vcsim has neither a state file nor a fault-injection control plane (its Go API can set a
method's fault in-process, but nothing over the wire), so there is no differential test here.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spherekit.sim import Simulator
from spherekit.wire.transport import HttpTransport, Request
from tests.sim.pyvmomi_client import connect, connected, disconnect, objects, vim, wait

pytestmark = pytest.mark.timeout(60)


def first_vm(si: Any) -> Any:
    return objects(si, vim.VirtualMachine)[0]


def control(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    auth = base64.b64encode(b"user:pass").decode()
    with HttpTransport(sim.sdk_url.removesuffix("/sdk"), thumbprint=sim.thumbprint) as t:
        data = json.dumps(body).encode() if body is not None else b""
        answer = t.send(Request(method, f"/_sim{path}", {"Authorization": f"Basic {auth}"}, data))
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


@pytest.fixture
def served() -> Iterator[Simulator]:
    with Simulator(seed=1) as sim:
        yield sim


def test_injected_faults_reach_pyvmomi(served: Simulator) -> None:
    with connected(served) as si:
        vm = first_vm(si)
        control(served, "POST", "/faults", {"method": "PowerOffVM_Task", "fault": "InvalidState",
                                            "count": 1})  # fmt: skip
        with pytest.raises(vim.fault.InvalidState):
            vm.PowerOffVM_Task()
        control(served, "POST", "/faults", {
            "method": "PowerOffVM_Task", "stage": "task", "fault": "NoPermission",
            "fields": {"privilegeId": "VirtualMachine.Interact.PowerOff"}, "count": 1,
        })  # fmt: skip
        task = vm.PowerOffVM_Task()
        with pytest.raises(vim.fault.NoPermission) as caught:
            wait(task)
        assert caught.value.privilegeId == "VirtualMachine.Interact.PowerOff"
        assert task.info.state == "error"
        control(served, "POST", "/faults", {"method": "CurrentTime", "status": 503, "count": 1})
        with pytest.raises(http.client.HTTPException, match="503"):
            si.CurrentTime()
        control(served, "POST", "/faults", {"method": "CurrentTime", "drop": True, "count": 1})
        with pytest.raises((OSError, http.client.HTTPException)):
            si.CurrentTime()
        assert si.CurrentTime() is not None  # a new connection works
        wait(vm.PowerOffVM_Task())
        assert vm.runtime.powerState == "poweredOff"


def test_reset_brings_back_the_initial_inventory(served: Simulator) -> None:
    si = connect(served)
    vm = first_vm(si)
    name = vm.name
    wait(vm.Rename_Task("renamed"))
    disconnect(si)
    assert control(served, "POST", "/reset")["sessions"] == 0
    with connected(served) as si:  # the reset ended every session
        again = first_vm(si)
        assert (again._moId, again.name) == (vm._moId, name)


def test_what_pyvmomi_saw_survives_a_crash(tmp_path: Path) -> None:
    state = tmp_path / "vc.db"
    with Simulator(seed=2, state=state) as sim:
        si = connect(sim)
        vm = first_vm(si)
        wait(vm.Rename_Task("durable"))
        uuid = vm.config.uuid
        # what kill -9 would leave on disk right now
        crashed = tmp_path / "crashed"
        crashed.mkdir()
        for suffix in ("", "-wal"):
            if Path(f"{state}{suffix}").exists():
                shutil.copy(f"{state}{suffix}", crashed / f"vc.db{suffix}")
        disconnect(si)
    with Simulator(state=crashed / "vc.db") as sim, connected(sim) as si:
        again = first_vm(si)
        assert (again._moId, again.name, again.config.uuid) == (vm._moId, "durable", uuid)
