"""The simulated guest's processes and the per-VM guest state that holds them.

``StartProgramInGuest`` starts a process as VMware Tools does on a Linux guest: the
command line ``"PROGRAM" ARGUMENTS`` is run by the guest's shell
(:mod:`spherekit.sim.guest_shell`), so arguments are shell words and may redirect output
(``-c 'echo hi > /tmp/out'``), with ``envVariables`` added to the user's environment and
``workingDirectory`` (default: the user's home) as its directory. It gets the next pid
(from 1000 up, per boot) and runs asynchronously: it starts a moment after the call
returns, lets simulated time pass where it sleeps (``/bin/sleep``), and when it ends its
``endTime`` and ``exitCode`` are set. ``TerminateProcessInGuest`` ends a running process
as SIGTERM does (exit code 143). ``ListProcessesInGuest`` lists the guest's ``init`` (pid
1) and ``vmtoolsd`` besides the processes started through the API, which it keeps for
:data:`KEEP_FINISHED` seconds after they end, as vCenter does. A guest's processes die
when it stops (power-off, reset, reboot). Standard output and error that a program does
not redirect are discarded, as the guest's tools do.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim.guest_cloudinit import NicConfig
from spherekit.sim.guest_fs import GuestFs
from spherekit.sim.guest_shell import Shell, Steps, run_script

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import GuestProcessInfo
    from spherekit.sim.backend import Context

__all__ = [
    "KEEP_FINISHED",
    "START_DELAY",
    "GuestState",
    "Process",
    "environment",
    "list_processes",
    "start_process",
    "terminate",
]

#: seconds between StartProgramInGuest and the process's first step
START_DELAY = 0.01
#: seconds a finished process stays in ListProcessesInGuest
KEEP_FINISHED = 300.0
TERMINATED = 143  # 128 + SIGTERM


@dataclass
class Process:
    pid: int
    name: str
    owner: str
    cmd_line: str
    start: datetime
    end: datetime | None = None
    exit_code: int | None = None
    steps: Steps | None = None

    def info(self) -> GuestProcessInfo:
        from spherekit.schema.vim25.data import GuestProcessInfo

        return GuestProcessInfo(
            name=self.name,
            pid=self.pid,
            owner=self.owner,
            cmdLine=self.cmd_line,
            startTime=self.start,
            endTime=self.end,
            exitCode=self.exit_code,
        )

    def finish(self, code: int) -> None:
        self.end = datetime.now(UTC)
        self.exit_code = code
        self.steps = None


@dataclass
class GuestState:
    """One VM's guest: its files, processes and what customization made of it."""

    #: rises at every power change; work scheduled for an older boot does nothing
    boot: int = 0
    fs: GuestFs | None = None
    running: bool = False
    booted_at: datetime | None = None
    #: host name and DNS domain set by customization / cloud-init (None: the VM's name)
    hostname: str | None = None
    domain: str | None = None
    #: persistent NIC settings (LinuxPrep) and this boot's (cloud-init), by device key
    static: dict[int, NicConfig] = field(default_factory=dict)
    boot_nics: dict[int, NicConfig] = field(default_factory=dict)
    #: the cloud-init instance whose per-instance modules already ran
    instance: str | None = None
    #: customization outcome to report once the network is up: (event type, reason)
    custom_result: tuple[str, str] | None = None
    custom_info: Any = None
    processes: dict[int, Process] = field(default_factory=dict)
    next_pid: int = 1000

    def stop(self) -> None:
        """The guest goes down: tools stop, processes die."""
        self.running = False
        for p in self.processes.values():
            if p.steps is not None:
                p.steps.close()
        self.processes.clear()
        self.next_pid = 1000
        self.boot_nics = {}
        self.custom_result = None


def environment(user: str) -> dict[str, str]:
    """The environment guest operations get for ``user``."""
    home = "/root" if user == "root" else f"/home/{user}"
    return {
        "HOME": home,
        "LANG": "C.UTF-8",
        "LOGNAME": user,
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PWD": home,
        "SHELL": "/bin/bash",
        "USER": user,
    }


def start_process(
    ctx: Context,
    vm: MoRef,
    st: GuestState,
    user: str,
    program: str,
    arguments: str,
    cwd: str,
    env: dict[str, str],
) -> int:
    """Start ``program`` (checked to exist) and return its pid."""
    assert st.fs is not None
    pid = st.next_pid
    st.next_pid += 1
    cmd_line = f'"{program}" {arguments}'.strip()
    shell = Shell(st.fs, env, cwd, hostname(ctx, vm, st), pid)
    proc = Process(pid, posixpath.basename(program), user, cmd_line, datetime.now(UTC))
    proc.steps = run_script(shell, cmd_line, b"", bytearray(), bytearray())
    st.processes[pid] = proc
    _schedule(ctx, vm, st, proc, START_DELAY)
    return pid


def _schedule(ctx: Context, vm: MoRef, st: GuestState, proc: Process, delay: float) -> None:
    def step(_ctx: Context) -> None:
        if proc.steps is None:
            return
        try:
            seconds = next(proc.steps)
        except StopIteration as stop:
            proc.finish(int(stop.value or 0))
            return
        _schedule(_ctx, vm, st, proc, seconds)

    ctx.backend.guests.later(delay, vm, st.boot, step)


def terminate(st: GuestState, pid: int) -> bool:
    """End process ``pid``; False if there is no such process."""
    proc = st.processes.get(pid)
    if proc is None:
        return False
    if proc.steps is not None:
        proc.steps.close()
        proc.finish(TERMINATED)
    return True


def list_processes(st: GuestState, pids: list[int] | None) -> list[GuestProcessInfo]:
    from spherekit.schema.vim25.data import GuestProcessInfo

    now = datetime.now(UTC)
    for pid, p in list(st.processes.items()):
        if p.end is not None and (now - p.end).total_seconds() > KEEP_FINISHED:
            del st.processes[pid]
    boot = st.booted_at or now
    system = [
        GuestProcessInfo(name="systemd", pid=1, owner="root", cmdLine="/sbin/init", startTime=boot),
        GuestProcessInfo(
            name="vmtoolsd", pid=600, owner="root", cmdLine="/usr/bin/vmtoolsd", startTime=boot
        ),
    ]
    every = [*system, *(p.info() for p in st.processes.values())]
    if pids:
        wanted = set(pids)
        every = [p for p in every if p.pid in wanted]
    return every


def hostname(ctx: Context, vm: MoRef, st: GuestState) -> str:
    """The guest's host name: set by customization / cloud-init, else the VM's name."""
    return st.hostname or str(ctx.registry.prop(vm, "name"))
