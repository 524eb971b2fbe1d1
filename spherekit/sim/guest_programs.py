"""The programs of the simulated guest's command model (see :mod:`spherekit.sim.guest_shell`).

Each program is a generator function ``(shell, args, stdin, out, err)`` that writes its
standard output and error to ``out`` / ``err``, yields the seconds it sleeps, and returns
its exit status. Messages on standard error are GNU coreutils'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from spherekit.sim.guest_fs import GuestFs, GuestFsError

__all__ = ["ASSIGN", "MAX_SLEEP", "PROGRAMS", "Out", "Program", "Shell", "Steps", "done", "errno"]

#: the longest a simulated ``sleep`` lasts, in seconds
MAX_SLEEP = 300.0

Steps = Generator[float, None, int]
ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
_ERRNO = {
    "notfound": "No such file or directory",
    "exists": "File exists",
    "notdir": "Not a directory",
    "isdir": "Is a directory",
    "notempty": "Directory not empty",
    "permission": "Permission denied",
}


@dataclass
class Shell:
    """What a program sees: the guest's files, its environment and directory."""

    fs: GuestFs
    env: dict[str, str]
    cwd: str = "/"
    hostname: str = "localhost"
    pid: int = 0
    status: int = 0
    argv: list[str] = field(default_factory=list)

    def fork(self) -> Shell:
        return Shell(self.fs, dict(self.env), self.cwd, self.hostname, self.pid)


Out = bytearray
Program = Callable[[Shell, list[str], bytes, Out, Out], Steps]


def done(status: int) -> Steps:
    return status
    yield 0.0  # pragma: no cover


def errno(e: GuestFsError) -> str:
    return _ERRNO.get(e.kind, e.kind)


# -- programs --------------------------------------------------------------------------------


def _echo(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    newline, escapes = True, False
    while args and args[0] in ("-n", "-e", "-ne", "-en"):
        newline = newline and "n" not in args[0]
        escapes = escapes or "e" in args[0]
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text = text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
    out += (text + ("\n" if newline else "")).encode()
    return done(0)


def _cat(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    status = 0
    for name in args or ["-"]:
        if name == "-":
            out += stdin
            continue
        try:
            out += sh.fs.read(sh.fs.norm(name, sh.cwd))
        except GuestFsError as e:
            err += f"cat: {name}: {errno(e)}\n".encode()
            status = 1
    return done(status)


def _sleep(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    if not args:
        err += b"sleep: missing operand\n"
        return 1
    try:
        seconds = sum(float(a.rstrip("s")) for a in args)
    except ValueError:
        err += f"sleep: invalid time interval '{args[0]}'\n".encode()
        return 1
    yield min(max(seconds, 0.0), MAX_SLEEP)
    return 0


def _flags(args: list[str]) -> tuple[set[str], list[str]]:
    flags: set[str] = set()
    rest = []
    for a in args:
        if a.startswith("-") and len(a) > 1:
            flags.update(a[1:])
        else:
            rest.append(a)
    return flags, rest


def _ls(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    flags, paths = _flags(args)
    status = 0
    for name in paths or ["."]:
        p = sh.fs.norm(name, sh.cwd)
        node = sh.fs.get(p)
        if node is None:
            err += f"ls: cannot access '{name}': No such file or directory\n".encode()
            status = 2
            continue
        entries = [(name, p)] if not node.is_dir else []
        if node.is_dir:
            names = sh.fs.children(p)
            if "a" in flags:
                names = [".", "..", *names]
            entries = [(n, sh.fs.norm(n, p)) for n in names if "a" in flags or n[0] != "."]
        for shown, full in entries:
            if "l" in flags:
                e = sh.fs.get(full)
                assert e is not None
                kind = "d" if e.is_dir else "-"
                perms = "".join(
                    c if e.mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx")
                )
                when = e.mtime.strftime("%b %d %H:%M")
                out += f"{kind}{perms} 1 root root {e.size:>6} {when} {shown}\n".encode()
            else:
                out += (shown + "\n").encode()
    return done(status)


def _mkdir(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    flags, paths = _flags(args)
    status = 0
    for name in paths:
        try:
            sh.fs.mkdir(sh.fs.norm(name, sh.cwd), parents="p" in flags)
        except GuestFsError as e:
            err += f"mkdir: cannot create directory '{name}': {errno(e)}\n".encode()
            status = 1
    return done(status)


def _rm(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    flags, paths = _flags(args)
    status = 0
    for name in paths:
        p = sh.fs.norm(name, sh.cwd)
        try:
            if sh.fs.is_dir(p) and ("r" in flags or "R" in flags):
                sh.fs.rmdir(p, recursive=True)
            else:
                sh.fs.remove(p)
        except GuestFsError as e:
            if e.kind == "notfound" and "f" in flags:
                continue
            err += f"rm: cannot remove '{name}': {errno(e)}\n".encode()
            status = 1
    return done(status)


def _touch(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    status = 0
    for name in args:
        try:
            sh.fs.touch(sh.fs.norm(name, sh.cwd))
        except GuestFsError as e:
            err += f"touch: cannot touch '{name}': {errno(e)}\n".encode()
            status = 1
    return done(status)


def _simple(text: Callable[[Shell], str], status: int = 0) -> Program:
    def program(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
        out += text(sh).encode()
        return done(status)

    return program


PROGRAMS: dict[str, Program] = {
    "echo": _echo,
    "cat": _cat,
    "true": _simple(lambda sh: ""),
    "false": _simple(lambda sh: "", 1),
    "sleep": _sleep,
    "ls": _ls,
    "mkdir": _mkdir,
    "rm": _rm,
    "touch": _touch,
    "pwd": _simple(lambda sh: sh.cwd + "\n"),
    "hostname": _simple(lambda sh: sh.hostname + "\n"),
}
