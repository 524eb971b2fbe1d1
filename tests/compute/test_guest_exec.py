"""Commands and files in a guest, against spherekit.sim's guest model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal, OperationFailed
from spherekit.errors import UsageError, WaitTimeout
from spherekit.property import wait_for
from spherekit.schema.base import MoRef
from spherekit.session import Session
from spherekit.sim import Simulator
from spherekit.task import wait_for_task
from spherekit.transfer import guest

USER, PASSWORD = "root", "vmware"  # the simulated guest's account (docs/simulator-guide.md)


@pytest.fixture
def vm(session: Session) -> MoRef:
    """A VM whose guest runs VMware Tools (the inventory's VMs report no guest until they
    boot again, so this one is power-cycled)."""
    ref = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
    wait_for_task(session, session.call(ref, "PowerOffVM_Task"))
    wait_for_task(session, session.call(ref, "PowerOnVM_Task"))
    wait_for(session, ref, "guest.toolsRunningStatus", lambda v: v == "guestToolsRunning",
             timeout=10)  # fmt: skip
    return ref


def _leftovers(session: Session, vm: MoRef) -> list[str]:
    """Files run() would have made in the guest's /tmp."""
    auth = vim.NamePasswordAuthentication(username=USER, password=PASSWORD,
                                          interactiveSession=False)  # fmt: skip
    found = session.call(MoRef("GuestFileManager", "guestOperationsFileManager"),
                         "ListFilesInGuest", vm=vm, auth=auth, filePath="/tmp",
                         matchPattern="^spherekit-")  # fmt: skip
    return [f.path for f in found.files or []]


def test_echo(session: Session, vm: MoRef, journal: Journal) -> None:
    r = guest.run(session, vm, "/bin/echo", ["hi"], user=USER, password=PASSWORD, journal=journal)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hi\n", "")
    methods = [e.method for e in journal.entries()]
    assert methods == ["CreateTemporaryFileInGuest", "CreateTemporaryFileInGuest",
                       "StartProgramInGuest", "InitiateFileTransferFromGuest",
                       "InitiateFileTransferFromGuest", "DeleteFileInGuest",
                       "DeleteFileInGuest"]  # fmt: skip
    text = "\n".join(e.to_json() for e in journal.entries())
    assert PASSWORD not in text and "token=***" in text  # no password, no ticket
    assert _leftovers(session, vm) == []


def test_arguments_are_quoted_and_env_and_cwd_apply(session: Session, vm: MoRef) -> None:
    r = guest.run(session, vm, "/bin/echo", ["it's", "$HOME; ls", "a  b"], user=USER,
                  password=PASSWORD)  # fmt: skip
    assert r.stdout == "it's $HOME; ls a  b\n"
    r = guest.run(session, vm, "/bin/sh", ["-c", "echo $GREETING; pwd"], user=USER,
                  password=PASSWORD, env={"GREETING": "hello"}, cwd="/tmp")  # fmt: skip
    assert r.stdout == "hello\n/tmp\n"


def test_a_failing_command_gives_stderr_and_exit_code(session: Session, vm: MoRef) -> None:
    r = guest.run(session, vm, "ls", ["/nonexistent"], user=USER, password=PASSWORD)
    assert r.exit_code == 2
    assert "No such file or directory" in r.stderr and r.stdout == ""
    r = guest.run(session, vm, "/bin/false", user=USER, password=PASSWORD)
    assert r.exit_code == 1


def test_an_unknown_program_exits_127(session: Session, vm: MoRef) -> None:
    r = guest.run(session, vm, "/no/such/program", user=USER, password=PASSWORD)
    assert r.exit_code == 127
    assert "not found" in r.stderr


def test_wrong_credentials_are_a_clear_error_before_any_write(
    session: Session, vm: MoRef, journal: Journal
) -> None:
    with pytest.raises(guest.GuestLoginFailed, match="refused the login of 'root'"):
        guest.run(session, vm, "/bin/true", user=USER, password="wrong", journal=journal)
    assert journal.entries() == []


def test_tools_not_running_is_a_clear_error(session: Session, journal: Journal) -> None:
    ref = find.by_path(session, "/DC0/vm/DC0_H0_VM1")  # not booted since the inventory began
    with pytest.raises(guest.GuestToolsNotRunning, match="VMware Tools is not running"):
        guest.run(session, ref, "/bin/true", user=USER, password=PASSWORD, journal=journal)
    wait_for_task(session, session.call(ref, "PowerOffVM_Task"))
    with pytest.raises(guest.GuestToolsNotRunning, match="not powered on"):
        guest.upload(session, ref, io.BytesIO(b"x"), "/tmp/x", user=USER, password=PASSWORD)
    assert journal.entries() == []


def test_a_failure_after_start_cleans_up_the_temp_files(
    sim: Simulator, session: Session, vm: MoRef, journal: Journal
) -> None:
    sim.control.add_fault({"method": "InitiateFileTransferFromGuest",
                           "fault": "GuestOperationsFault", "count": 1})  # fmt: skip
    with pytest.raises(OperationFailed) as caught:
        guest.run(session, vm, "/bin/echo", ["hi"], user=USER, password=PASSWORD,
                  journal=journal)  # fmt: skip
    assert "undone: delete /tmp/spherekit-" in str(caught.value)
    assert _leftovers(session, vm) == []
    outcomes = [(e.method, e.outcome) for e in journal.entries()][-5:]
    assert outcomes == [
        ("InitiateFileTransferFromGuest", "error: GuestOperationsFault"),
        ("DeleteFileInGuest", "ok"),
        ("undo", "undo ok"),
        ("DeleteFileInGuest", "ok"),
        ("undo", "undo ok"),
    ]


def test_a_process_past_its_timeout_is_terminated(
    session: Session, vm: MoRef, journal: Journal
) -> None:
    with pytest.raises(OperationFailed) as caught:
        guest.run(session, vm, "sleep", ["30"], user=USER, password=PASSWORD, timeout=0.2,
                  journal=journal)  # fmt: skip
    assert isinstance(caught.value.cause, WaitTimeout)
    assert "it was terminated" in str(caught.value)
    assert "TerminateProcessInGuest" in [e.method for e in journal.entries()]
    assert _leftovers(session, vm) == []


def test_plan_lists_the_calls_and_runs_nothing(
    session: Session, vm: MoRef, journal: Journal
) -> None:
    r = guest.run(session, vm, "/bin/echo", ["hi"], user=USER, password=PASSWORD,
                  journal=journal, plan=True)  # fmt: skip
    assert r.exit_code is None
    assert [c.method for c in r.planned] == ["CreateTemporaryFileInGuest",
                                             "CreateTemporaryFileInGuest",
                                             "StartProgramInGuest"]  # fmt: skip
    assert _leftovers(session, vm) == []


def test_bad_input(session: Session, vm: MoRef) -> None:
    with pytest.raises(UsageError, match="list of arguments"):
        guest.run(session, vm, "/bin/echo", "hi", user=USER, password=PASSWORD)
    with pytest.raises(UsageError, match="timeout"):
        guest.run(session, vm, "/bin/echo", user=USER, password=PASSWORD, timeout=0)
    with pytest.raises(UsageError, match="VirtualMachine"):
        guest.run(session, MoRef("HostSystem", "host-1"), "/bin/true", user=USER,
                  password=PASSWORD)  # fmt: skip


def test_upload_download_round_trip(
    session: Session, vm: MoRef, journal: Journal, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 400
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    seen: list[int] = []
    up = guest.upload(session, vm, src, "/tmp/data.bin", user=USER, password=PASSWORD,
                      mode=0o600, journal=journal,
                      on_progress=lambda done, total: seen.append(done))  # fmt: skip
    assert up is not None and up.size == len(data) and seen[-1] == len(data)
    with pytest.raises(OperationFailed, match="FileAlreadyExists"):
        guest.upload(session, vm, src, "/tmp/data.bin", user=USER, password=PASSWORD)
    down = guest.download(session, vm, "/tmp/data.bin", tmp_path / "out.bin", user=USER,
                          password=PASSWORD)  # fmt: skip
    assert down.sha256 == up.sha256
    assert (tmp_path / "out.bin").read_bytes() == data
    r = guest.run(session, vm, "ls", ["/tmp/data.bin"], user=USER, password=PASSWORD)
    assert r.stdout == "/tmp/data.bin\n"
    assert [e.method for e in journal.entries()] == ["InitiateFileTransferToGuest",
                                                     "PUT /guestFile"]  # fmt: skip


def test_guest_file_urls_use_the_session_host_over_the_wire(tmp_path: Path) -> None:
    """Served: the '*' host of /guestFile URLs is the host the session connected to."""
    sim = Simulator(seed=1, guest_ip_delay=0.05)
    sim.start()
    try:
        with spherekit.connect(sim.url, thumbprint=sim.thumbprint) as session:
            ref = find.by_path(session, "/DC0/vm/DC0_H0_VM0")
            wait_for_task(session, session.call(ref, "PowerOffVM_Task"))
            wait_for_task(session, session.call(ref, "PowerOnVM_Task"))
            wait_for(session, ref, "guest.toolsRunningStatus",
                     lambda v: v == "guestToolsRunning", timeout=10)  # fmt: skip
            guest.upload(session, ref, io.BytesIO(b"over the wire"), "/tmp/w",
                         user=USER, password=PASSWORD)  # fmt: skip
            out = io.BytesIO()
            guest.download(session, ref, "/tmp/w", out, user=USER, password=PASSWORD)
            assert out.getvalue() == b"over the wire"
            r = guest.run(session, ref, "/bin/echo", ["hi"], user=USER, password=PASSWORD)
            assert (r.exit_code, r.stdout) == (0, "hi\n")
    finally:
        sim.stop()
