"""Guest operations through the spherekit client: processes, files, transfers, faults."""

from __future__ import annotations

import time
from typing import Any

import pytest

import spherekit
from spherekit import faults, find
from spherekit import property as prop
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.wire.transport import Request
from tests.sim.conftest import SimFactory, Target

VM0 = "DC0/vm/DC0_H0_VM0"
ROOT = d.NamePasswordAuthentication(username="root", password="vmware", interactiveSession=False)


class Guest:
    """One booted VM and the guest operations managers."""

    def __init__(self, sim: Target, s: spherekit.Session) -> None:
        self.sim, self.s = sim, s
        self.vm = find.by_path(s, VM0)
        gom = s.content.guestOperationsManager
        assert gom is not None
        spec = prop.filter_spec(
            "GuestOperationsManager", ["processManager", "fileManager", "authManager"], [gom]
        )
        managers = prop.retrieve(s, spec)[0][1]
        self.pm: MoRef = managers["processManager"]
        self.fm: MoRef = managers["fileManager"]
        self.am: MoRef = managers["authManager"]

    def boot(self) -> None:
        s, vm = self.s, self.vm
        rows = spherekit.fetch(s, "VirtualMachine", ["runtime.powerState"])
        if dict(rows)[vm]["runtime.powerState"] == "poweredOn":
            spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
        spherekit.wait_for_task(s, s.call(vm, "PowerOnVM_Task"))
        spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10)

    def files(self, method: str, auth: Any = ROOT, **kw: Any) -> Any:
        return self.s.call(self.fm, method, vm=self.vm, auth=auth, **kw)

    def procs(self, method: str, auth: Any = ROOT, **kw: Any) -> Any:
        return self.s.call(self.pm, method, vm=self.vm, auth=auth, **kw)

    def start(self, path: str, args: str = "", **kw: Any) -> int:
        spec = d.GuestProgramSpec(programPath=path, arguments=args, **kw)
        return int(self.procs("StartProgramInGuest", spec=spec))

    def wait(self, pid: int, timeout: float = 5.0) -> d.GuestProcessInfo:
        deadline = time.monotonic() + timeout
        while True:
            (info,) = self.procs("ListProcessesInGuest", pids=[pid])
            if info.exitCode is not None:
                return info  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, info
            time.sleep(0.01)

    def http(self, method: str, url: str, body: bytes = b"") -> tuple[int, bytes]:
        assert url.startswith("https://*/guestFile?")
        r = self.sim.transport().send(Request(method, url.split("*", 1)[1], {}, body))
        return r.status, r.body

    def read(self, path: str) -> bytes:
        info = self.files("InitiateFileTransferFromGuest", guestFilePath=path)
        status, body = self.http("GET", info.url)
        assert status == 200 and len(body) == info.size
        return body

    def write(self, path: str, data: bytes, overwrite: bool = False) -> None:
        url = self.files(
            "InitiateFileTransferToGuest", guestFilePath=path, overwrite=overwrite,
            fileAttributes=d.GuestPosixFileAttributes(permissions=0o755), fileSize=len(data),
        )  # fmt: skip
        assert self.http("PUT", url, data)[0] == 200


@pytest.fixture
def guest(sim_factory: SimFactory) -> Guest:
    sim = sim_factory(seed=1, guest_ip_delay=0.01)
    g = Guest(sim, sim.connect())
    g.boot()
    return g


def test_run_and_capture_output(guest: Guest) -> None:
    pid = guest.start("/bin/sh", "-c 'echo hi > /tmp/out 2>&1; exit 3'")
    info = guest.wait(pid)
    assert info.exitCode == 3 and info.name == "sh" and info.owner == "root"
    assert info.cmdLine == "\"/bin/sh\" -c 'echo hi > /tmp/out 2>&1; exit 3'"
    assert info.endTime is not None and info.endTime >= info.startTime
    assert guest.read("/tmp/out") == b"hi\n"
    guest.files("DeleteFileInGuest", filePath="/tmp/out")
    with pytest.raises(faults.FileNotFound):
        guest.files("InitiateFileTransferFromGuest", guestFilePath="/tmp/out")


def test_command_model(guest: Guest) -> None:
    script = (
        "cd /tmp && mkdir -p a/b && touch a/f; ls a > ls.txt; nosuch 2> err.txt; "
        'echo "st=$?" >> err.txt; cat /missing >> err.txt 2>&1; '
        'env > env.txt; hostname > host.txt; echo "$GREETING" > greet.txt; /bin/false || exit 7'
    )
    pid = guest.start("/bin/sh", f"-c '{script}'", envVariables=["GREETING=hello there"])
    assert guest.wait(pid).exitCode == 7
    assert guest.read("/tmp/ls.txt") == b"b\nf\n"
    assert guest.read("/tmp/err.txt") == (
        b"sh: nosuch: command not found\nst=127\ncat: /missing: No such file or directory\n"
    )
    assert b"HOME=/root\n" in guest.read("/tmp/env.txt")
    assert guest.read("/tmp/host.txt") == b"DC0_H0_VM0\n"
    assert guest.read("/tmp/greet.txt") == b"hello there\n"
    # unknown programs exit 127; a direct program's arguments are shell words too
    assert guest.wait(guest.start("/bin/echo", "a  b > /tmp/e")).exitCode == 0
    assert guest.read("/tmp/e") == b"a b\n"
    assert guest.wait(guest.start("/bin/sh", "-c 'exit 300'")).exitCode == 44
    assert guest.wait(guest.start("/bin/true")).exitCode == 0
    with pytest.raises(faults.FileNotFound):
        guest.start("/usr/bin/python3")


def test_uploaded_script_runs(guest: Guest) -> None:
    guest.write("/root/job.sh", b'#!/bin/sh\necho "args: $1 $2" > /root/job.out\nexit 5\n')
    listing = guest.files("ListFilesInGuest", filePath="/root/job.sh")
    assert listing.files[0].attributes.permissions == 0o755
    assert guest.wait(guest.start("/root/job.sh", "x y")).exitCode == 5
    assert guest.read("/root/job.out") == b"args: x y\n"
    with pytest.raises(faults.FileAlreadyExists):
        guest.write("/root/job.sh", b"again")
    guest.write("/root/job.sh", b"again", overwrite=True)
    assert guest.read("/root/job.sh") == b"again"


def test_sleep_terminate_and_list(guest: Guest) -> None:
    pid = guest.start("/bin/sleep", "30")
    every = {p.pid: p for p in guest.procs("ListProcessesInGuest")}
    assert every[1].name == "systemd" and every[pid].exitCode is None
    guest.procs("TerminateProcessInGuest", pid=pid)
    info = guest.wait(pid, timeout=1)
    assert info.exitCode == 143
    with pytest.raises(faults.GuestProcessNotFound) as e:
        guest.procs("TerminateProcessInGuest", pid=4242)
    assert e.value.pid == 4242
    short = guest.start("/bin/sh", "-c 'sleep 0.2; echo done > /tmp/slept'")
    assert guest.procs("ListProcessesInGuest", pids=[short])[0].exitCode is None
    assert guest.wait(short).exitCode == 0 and guest.read("/tmp/slept") == b"done\n"
    env = guest.procs("ReadEnvironmentVariableInGuest", names=["HOME", "USER", "NOPE"])
    assert env == ["HOME=/root", "USER=root"]


def test_file_manager(guest: Guest) -> None:
    guest.files("MakeDirectoryInGuest", directoryPath="/srv/app/data", createParentDirectories=True)
    with pytest.raises(faults.FileAlreadyExists):
        guest.files("MakeDirectoryInGuest", directoryPath="/srv/app", createParentDirectories=False)
    with pytest.raises(faults.FileNotFound):
        guest.files("MakeDirectoryInGuest", directoryPath="/x/y", createParentDirectories=False)
    tmp = guest.files("CreateTemporaryFileInGuest", prefix="job-", suffix=".log")
    assert tmp.startswith("/tmp/job-") and tmp.endswith(".log")
    tdir = guest.files(
        "CreateTemporaryDirectoryInGuest", prefix="d", suffix="", directoryPath="/srv"
    )
    guest.files("MoveFileInGuest", srcFilePath=tmp, dstFilePath="/srv/app/x.log", overwrite=False)
    listing = guest.files("ListFilesInGuest", filePath="/srv/app")
    assert [(f.path, f.type) for f in listing.files] == [("data", "directory"), ("x.log", "file")]
    assert listing.remaining == 0
    page = guest.files("ListFilesInGuest", filePath="/srv", maxResults=1, matchPattern="^(app|d)")
    assert len(page.files) == 1 and page.remaining == 1
    with pytest.raises(faults.DirectoryNotEmpty):
        guest.files("DeleteDirectoryInGuest", directoryPath="/srv/app", recursive=False)
    with pytest.raises(faults.NotAFile):
        guest.files("DeleteFileInGuest", filePath="/srv/app")
    guest.files("MoveDirectoryInGuest", srcDirectoryPath="/srv/app", dstDirectoryPath=tdir + "/a")
    guest.files("DeleteDirectoryInGuest", directoryPath=tdir, recursive=True)
    assert not guest.files("ListFilesInGuest", filePath="/srv").files
    with pytest.raises(faults.GuestPermissionDenied):
        guest.files("DeleteFileInGuest", filePath="/proc/version")
    with pytest.raises(faults.GuestPermissionDenied):
        guest.write("/proc/x", b"")


def test_transfer_tickets(guest: Guest) -> None:
    info = guest.files("InitiateFileTransferFromGuest", guestFilePath="/etc/hostname")
    assert guest.http("PUT", info.url, b"x")[0] == 405
    assert guest.http("GET", info.url) == (200, b"DC0_H0_VM0\n")
    assert guest.http("GET", info.url)[0] == 404  # one request per ticket
    url = guest.files(
        "InitiateFileTransferToGuest", guestFilePath="/tmp/up", overwrite=False,
        fileAttributes=d.GuestFileAttributes(), fileSize=1,
    )  # fmt: skip
    spherekit.wait_for_task(guest.s, guest.s.call(guest.vm, "PowerOffVM_Task"))
    assert guest.http("PUT", url, b"x")[0] == 503


def test_checks_in_vcenters_order(guest: Guest) -> None:
    s, vm = guest.s, guest.vm
    wrong = d.NamePasswordAuthentication(username="root", password="nope", interactiveSession=False)
    with pytest.raises(faults.InvalidGuestLogin):
        guest.procs("ListProcessesInGuest", auth=wrong)
    with pytest.raises(faults.InvalidGuestLogin):
        s.call(guest.am, "ValidateCredentialsInGuest", vm=vm, auth=wrong)
    s.call(guest.am, "ValidateCredentialsInGuest", vm=vm, auth=ROOT)
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
    with pytest.raises(faults.InvalidPowerState) as e:
        guest.procs("ListProcessesInGuest")
    assert e.value.requestedState == "poweredOn" and e.value.existingState == "poweredOff"
    # a VM of the initial inventory is on, but its guest has not reported: no tools
    other = find.by_path(s, "DC0/vm/DC0_H0_VM1")
    with pytest.raises(faults.GuestOperationsUnavailable):
        s.call(guest.pm, "ListProcessesInGuest", vm=other, auth=ROOT)


def test_the_password_comes_from_extra_config(guest: Guest) -> None:
    s, vm = guest.s, guest.vm
    spherekit.wait_for_task(s, s.call(vm, "PowerOffVM_Task"))
    spec = d.VirtualMachineConfigSpec(
        extraConfig=[d.OptionValue(key="guestinfo.sim.password", value="s3cret")]
    )
    spherekit.wait_for_task(s, s.call(vm, "ReconfigVM_Task", spec=spec))
    guest.boot()
    with pytest.raises(faults.InvalidGuestLogin):
        s.call(guest.am, "ValidateCredentialsInGuest", vm=vm, auth=ROOT)
    auth = d.NamePasswordAuthentication(
        username="root", password="s3cret", interactiveSession=False
    )
    s.call(guest.am, "ValidateCredentialsInGuest", vm=vm, auth=auth)
    # processes die with the guest; its files stay
    program = d.GuestProgramSpec(programPath="/bin/sh", arguments="-c 'touch /root/f; sleep 30'")
    pid = s.call(guest.pm, "StartProgramInGuest", vm=vm, auth=auth, spec=program)
    time.sleep(0.1)
    spherekit.wait_for_task(s, s.call(vm, "ResetVM_Task"))
    spherekit.wait_for(s, vm, "guest.ipAddress", timeout=10)
    pids = [p.pid for p in s.call(guest.pm, "ListProcessesInGuest", vm=vm, auth=auth)]
    assert pid not in pids and 1 in pids
    assert guest.files("ListFilesInGuest", auth=auth, filePath="/root/f").files
