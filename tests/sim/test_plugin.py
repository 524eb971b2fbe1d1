"""The pytest plugin, as a user's project sees it: installed through the pytest11 entry
point, its fixtures used by a test file of their own (run by pytest in a subprocess, in
both modes)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from spherekit import pytest_plugin

pytestmark = pytest.mark.timeout(120)

USER_TESTS = """
import pytest
import spherekit
from spherekit.sim import Simulator


def test_sim_is_fresh_for_each_test(sim):
    assert isinstance(sim, Simulator)
    reg = sim.backend.registry
    vm = reg.of_type("VirtualMachine")[0]
    assert reg.prop(vm, "name") != "renamed"
    reg.update(vm, {"name": "renamed"})


test_sim_is_fresh_again = test_sim_is_fresh_for_each_test


def test_sim_session(sim, sim_session):
    assert sim.served == (MODE == "served")
    names = [v["name"] for _r, v in spherekit.fetch(sim_session, "VirtualMachine", ["name"])]
    assert len(names) == 4


@pytest.mark.spherekit_sim(vms=3, hosts=1, seed=9, task_delay=0.01)
def test_marker_sets_the_inventory_and_settings(sim, sim_session):
    assert len(spherekit.fetch(sim_session, "VirtualMachine", ["name"])) == 6
    assert len(spherekit.fetch(sim_session, "HostSystem", ["name"])) == 2
    assert sim.backend.settings.seed == 9 and sim.backend.settings.task_delay == 0.01


def test_sim_server(sim_server):
    assert sim_server.url.startswith("https://user:pass@127.0.0.1:")
    assert sim_server.user == "user" and sim_server.password == "pass"
    assert sim_server.thumbprint and sim_server.control.faults.list() == []
    with spherekit.connect(sim_server.url, thumbprint=sim_server.thumbprint) as s:
        assert spherekit.fetch(s, "Datacenter", ["name"])


def test_sim_server_is_shared_by_the_module(sim_server):
    test_sim_server.__globals__.setdefault("seen", []).append(id(sim_server))
    assert len(set(test_sim_server.__globals__["seen"])) == 1
"""


#: a directory whose conftest.py gives its simulators other defaults
DEFAULTS_CONFTEST = """
import pytest


@pytest.fixture(scope="session")
def sim_defaults():
    return {"vms": 1, "seed": 5, "guest_ip_delay": 0.25}
"""

DEFAULTS_TESTS = """
import pytest
import spherekit


def test_the_directorys_defaults(sim, sim_session):
    assert len(spherekit.fetch(sim_session, "VirtualMachine", ["name"])) == 2
    assert sim.backend.settings.seed == 5 and sim.backend.settings.guest_ip_delay == 0.25


@pytest.mark.spherekit_sim(seed=9, hosts=1)
def test_a_marker_wins_over_them_one_by_one(sim):
    assert sim.backend.settings.seed == 9 and sim.backend.settings.guest_ip_delay == 0.25
    assert len(sim.backend.registry.of_type("VirtualMachine")) == 2
    assert len(sim.backend.registry.of_type("HostSystem")) == 2


def test_sim_server_starts_from_them_too(sim_server):
    assert sim_server.backend.settings.seed == 5
"""


def run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_user.py").write_text(f"MODE = {mode!r}\n{USER_TESTS}")
    (tmp_path / "defaults").mkdir()
    (tmp_path / "defaults" / "conftest.py").write_text(DEFAULTS_CONFTEST)
    (tmp_path / "defaults" / "test_defaults.py").write_text(DEFAULTS_TESTS)
    env = {**os.environ, "SPHEREKIT_SIM_MODE": mode}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
        env=env,
    )  # fmt: skip


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert "spherekit.pytest_plugin" in {p.value for p in points}


@pytest.mark.parametrize("mode", ["inprocess", "served"])
def test_a_users_tests_get_the_fixtures(tmp_path: Path, mode: str) -> None:
    done = run(tmp_path, mode)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout


def test_a_bad_mode_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPHEREKIT_SIM_MODE", "sideways")
    with pytest.raises(pytest.UsageError, match="must be inprocess or served"):
        pytest_plugin.mode()
    monkeypatch.delenv("SPHEREKIT_SIM_MODE")
    assert pytest_plugin.mode() == "inprocess"


def test_sim_defaults_not_a_dict_is_a_usage_error() -> None:
    class Node:
        def get_closest_marker(self, name: str) -> None:
            return None

    with pytest.raises(pytest.UsageError, match="sim_defaults must return a dict"):
        pytest_plugin._build(cast(Any, Node()), cast(Any, ["vms", 1]))
