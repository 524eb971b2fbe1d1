"""Audit of issue 3, "How it runs": every flag of ``spherekit sim serve`` takes effect in a
served process (the URL is the first and only stdout line; SIGINT and SIGTERM stop it
cleanly). test_cli.py and test_serve_cli.py cover --no-tls, --state, the signals and bad
flags; this covers the inventory flags, --listen, --user/--password, --seed,
--session-timeout, --task-delay and --esx.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter

import pytest

import spherekit
from spherekit import faults, find
from tests.sim.test_serve_cli import Served

pytestmark = pytest.mark.timeout(120)


def stop(served: Served, sig: signal.Signals) -> str:
    """Stop with ``sig``; the exit status must be 0; return what else went to stdout."""
    served.proc.send_signal(sig)
    assert served.proc.wait(15) == 0
    assert served.proc.stdout is not None
    return served.proc.stdout.read()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kinds(s: spherekit.Session) -> Counter[str]:
    return Counter(ref.type for ref, _row in spherekit.fetch(s, "ManagedEntity", ["name"]))


def test_inventory_listen_credentials_seed_and_timeout_flags() -> None:
    port = free_port()
    flags = [
        "--datacenters", "2", "--clusters", "2", "--hosts", "1", "--standalone-hosts", "2",
        "--vms", "1", "--datastores", "2", "--folders", "1", "--seed", "7",
        "--user", "admin", "--password", "pa:ss", "--session-timeout", "1",
        "--task-delay", "0.5",
    ]  # fmt: skip
    served = Served(*flags, "--listen", f"127.0.0.1:{port}")
    try:
        assert served.url == f"https://admin:pa%3Ass@127.0.0.1:{port}/sdk"
        with served.connect() as s:
            found = kinds(s)
            assert found["Datacenter"] == 2
            assert found["ClusterComputeResource"] == 4  # 2 per datacenter
            assert found["HostSystem"] == 8  # (2 standalone + 2 clusters x 1) per datacenter
            assert found["VirtualMachine"] == 8  # 1 per standalone host and per cluster pool
            assert found["Datastore"] == 4
            assert find.by_path(s, "F0/DC1/vm/F0/DC1_C1_RP0_VM0").type == "VirtualMachine"
            assert find.by_path(s, "DC0/datastore/LocalDS_1").type == "Datastore"
            uuids = sorted(r["config.uuid"] for _v, r in spherekit.fetch(
                s, "VirtualMachine", ["config.uuid"]))  # fmt: skip
            # --task-delay: a task takes its time, and is seen running
            vm = find.by_path(s, "DC0/vm/DC0_H0_VM0")
            states: list[str | None] = []
            start = time.monotonic()
            spherekit.wait_for_task(
                s,
                s.call(vm, "PowerOffVM_Task"),
                timeout=10,
                on_progress=lambda _t, _p, st: states.append(st),
            )
            assert time.monotonic() - start >= 0.5 and "running" in states
            # --session-timeout 1: a session idle for longer is gone
            idle = served.connect()
            assert idle.user_session is not None
            key = idle.user_session.key
            time.sleep(1.5)
            mgr = s.content.sessionManager
            assert mgr is not None
            assert not s.call(mgr, "SessionIsActive", sessionID=key, userName="admin")
            idle.close()
        assert stop(served, signal.SIGINT) == ""  # the URL was the only line
    finally:
        served.close()
    # --seed: the same seed, the same identities
    again = Served(*flags)
    try:
        with again.connect() as s:
            assert uuids == sorted(r["config.uuid"] for _v, r in spherekit.fetch(
                s, "VirtualMachine", ["config.uuid"]))  # fmt: skip
        with pytest.raises(faults.InvalidLogin):
            spherekit.connect(again.url.replace("pa%3Ass", "wrong"), thumbprint=again.thumbprint)
        assert stop(again, signal.SIGTERM) == ""
    finally:
        again.close()


def test_esx_flag() -> None:
    served = Served("--esx", "--vms", "3", "--datastores", "2")
    try:
        with served.connect() as s:
            assert s.content.about.apiType == "HostAgent"
            assert not s.is_vcenter
            found = kinds(s)
            assert (found["Datacenter"], found["HostSystem"], found["VirtualMachine"]) == (1, 1, 3)
            assert found["Datastore"] == 2
            assert find.by_path(s, "ha-datacenter/vm/ha-host_VM0").type == "VirtualMachine"
            with pytest.raises(faults.NotSupported):  # vCenter-only
                s.call(s.content.rootFolder, "CreateDatacenter", name="nope")
        assert stop(served, signal.SIGTERM) == ""
    finally:
        served.close()
