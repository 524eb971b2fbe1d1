"""The simulated guest's command model: a few POSIX programs and a tiny ``/bin/sh``.

Programs (each exists as a file in the guest, see :mod:`spherekit.sim.guest_fs`):

``/bin/echo [-n] [-e] ARGS``, ``/bin/cat [FILES]`` (no files: its standard input),
``/bin/true``, ``/bin/false``, ``/bin/sleep N`` (N seconds, at most :data:`MAX_SLEEP`),
``/bin/ls [-a] [-l] [PATHS]``, ``/bin/mkdir [-p] DIRS``, ``/bin/rm [-r] [-f] PATHS``,
``/bin/touch FILES``, ``/bin/pwd``, ``/bin/hostname``, ``/usr/bin/env [NAME=VALUE...]
[PROGRAM ARGS]``, and ``/bin/sh`` / ``/bin/bash`` (``-c SCRIPT [NAME ARGS]`` or ``FILE
ARGS``). A file in the guest that starts with ``#!`` and names ``sh`` runs as a shell
script; any other file exits 126; a program that does not exist exits 127 with
``sh: NAME: command not found`` on standard error. Messages on standard error are
GNU coreutils' and exit statuses are theirs.

The shell understands: words with ``'single'`` and ``"double"`` quotes and ``\\``
escapes; ``$NAME``, ``${NAME}``, ``$?``, ``$$``, ``$1``..``$9``, ``$@``; ``NAME=VALUE``
before a command (or alone); command lists with ``;``, newlines, ``&&`` and ``||``;
redirections ``>``, ``>>``, ``<``, ``N>``, ``N>>``, ``N>&M`` (``2>&1``) and ``&>``,
applied left to right as POSIX says; the built-ins ``exit [N]``, ``cd [DIR]``,
``export NAME=VALUE`` and ``:``; ``#`` comments. Pipes and background jobs are not
simulated (``sh: ...: not supported by the simulated guest``, status 2).

A run is a generator that yields the seconds it sleeps and returns the exit status, so
the process runner (:mod:`spherekit.sim.guest`) lets simulated time pass between the
steps of a script and can stop it in the middle (TerminateProcessInGuest).
"""

from __future__ import annotations

import posixpath
import re
from typing import cast

from spherekit.sim.guest_fs import PROGRAMS as PATHS
from spherekit.sim.guest_fs import GuestFsError
from spherekit.sim.guest_programs import (
    ASSIGN,
    MAX_SLEEP,
    PROGRAMS,
    Out,
    Program,
    Shell,
    Steps,
    errno,
)

__all__ = ["MAX_SLEEP", "Shell", "Steps", "run_program", "run_script"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _env(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    child = sh.fork()
    while args and ASSIGN.fullmatch(args[0]):
        k, _, v = args[0].partition("=")
        child.env[k] = v
        args = args[1:]
    if not args:
        out += "".join(f"{k}={v}\n" for k, v in sorted(child.env.items())).encode()
        return 0
    return (yield from run_program(child, args[0], args[1:], stdin, out, err))


def _sh(sh: Shell, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    child = sh.fork()
    if args and args[0] == "-c":
        if len(args) < 2:
            err += b"sh: -c: option requires an argument\n"
            return 2
        child.argv = args[2:] or ["sh"]
        return (yield from run_script(child, args[1], stdin, out, err))
    if not args:
        return (yield from run_script(child, stdin.decode(errors="replace"), b"", out, err))
    try:
        text = sh.fs.read(sh.fs.norm(args[0], sh.cwd)).decode(errors="replace")
    except GuestFsError:
        err += f"sh: 0: cannot open {args[0]}: No such file\n".encode()
        return 2
    child.argv = args
    return (yield from run_script(child, text, stdin, out, err))


_ALL: dict[str, Program] = {**PROGRAMS, "env": _env, "sh": _sh, "bash": _sh}
_BUILTIN_PATHS = {p: posixpath.basename(p) for p in PATHS}


def run_program(sh: Shell, name: str, args: list[str], stdin: bytes, out: Out, err: Out) -> Steps:
    """Run ``name`` (a path, or a name looked up in ``$PATH``)."""
    if "/" in name:
        path: str | None = sh.fs.norm(name, sh.cwd)
    else:
        dirs = sh.env.get("PATH", "/usr/bin:/bin").split(":")
        path = next((f"{d}/{name}" for d in dirs if sh.fs.exists(f"{d}/{name}")), None)
    node = sh.fs.get(path) if path is not None else None
    if path is None or node is None:
        err += f"sh: {name}: command not found\n".encode()
        return 127
    if node.is_dir:
        err += f"sh: {name}: Is a directory\n".encode()
        return 126
    program = _BUILTIN_PATHS.get(path)
    if program is not None and bytes(node.data or b"").startswith(b"\x7fELF"):
        return (yield from _ALL[program](sh, args, stdin, out, err))
    head = bytes(node.data or b"").split(b"\n", 1)[0]
    if head.startswith(b"#!") and b"sh" in head:
        return (yield from _sh(sh, [path, *args], stdin, out, err))
    err += f"sh: {name}: cannot execute binary file\n".encode()
    return 126


# -- the shell ---------------------------------------------------------------------------------

Part = tuple[str, str]  # ("lit" | "var", text)
Token = tuple[str, object]  # ("word", [parts]) | ("op", str) | ("redir", (fd, op))


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    parts: list[Part] = []
    started = False
    i, n = 0, len(text)

    def end() -> None:
        nonlocal parts, started
        if started:
            out.append(("word", parts))
        parts, started = [], False

    def var(j: int) -> int:
        if (j < n and text[j] in "?$@#") or (j < n and text[j].isdigit()):
            parts.append(("var", text[j]))
            return j + 1
        if j < n and text[j] == "{":
            k = text.find("}", j)
            if k < 0:
                raise SyntaxError("bad substitution")
            parts.append(("var", text[j + 1 : k]))
            return k + 1
        m = _NAME.match(text, j)
        if m is None:
            parts.append(("lit", "$"))
            return j
        parts.append(("var", m.group()))
        return m.end()

    while i < n:
        c = text[i]
        if c in " \t":
            end()
            i += 1
        elif c == "#" and not started:
            while i < n and text[i] != "\n":
                i += 1
        elif c == "'":
            k = text.find("'", i + 1)
            if k < 0:
                raise SyntaxError("unterminated quoted string")
            parts.append(("lit", text[i + 1 : k]))
            started, i = True, k + 1
        elif c == '"':
            started, i = True, i + 1
            while True:
                if i >= n:
                    raise SyntaxError("unterminated quoted string")
                if text[i] == '"':
                    i += 1
                    break
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
                    parts.append(("lit", text[i + 1]))
                    i += 2
                elif text[i] == "$":
                    i = var(i + 1)
                else:
                    parts.append(("lit", text[i]))
                    i += 1
        elif c == "\\":
            if i + 1 < n and text[i + 1] != "\n":
                parts.append(("lit", text[i + 1]))
                started = True
            i += 2
        elif c == "$":
            started = True
            i = var(i + 1)
        elif c in ";\n":
            end()
            out.append(("op", ";"))
            i += 1
        elif c in "&|" and text[i : i + 2] in ("&&", "||"):
            end()
            out.append(("op", text[i : i + 2]))
            i += 2
        elif c == "&" and text[i : i + 2] == "&>":
            end()
            out.append(("redir", (-1, ">")))
            i += 2
        elif c in "&|":
            raise SyntaxError(
                f"'{c}' (pipes and background jobs) not supported by the simulated guest"
            )
        elif c in "<>":
            fd = 1 if c == ">" else 0
            if started and len(parts) == 1 and parts[0][0] == "lit" and parts[0][1].isdigit():
                fd = int(parts[0][1])
                parts, started = [], False
            end()
            op = c
            if text[i : i + 2] in (">>", ">&"):
                op = text[i : i + 2]
            out.append(("redir", (fd, op)))
            i += len(op)
        else:
            parts.append(("lit", c))
            started = True
            i += 1
    end()
    return out


def _expand(sh: Shell, parts: list[Part]) -> str:
    out = []
    for kind, text in parts:
        if kind == "lit":
            out.append(text)
        elif text == "?":
            out.append(str(sh.status))
        elif text == "$":
            out.append(str(sh.pid))
        elif text == "@":
            out.append(" ".join(sh.argv[1:]))
        elif text == "#":
            out.append(str(max(len(sh.argv) - 1, 0)))
        elif text.isdigit():
            k = int(text)
            out.append(sh.argv[k] if k < len(sh.argv) else "")
        else:
            out.append(sh.env.get(text, ""))
    return "".join(out)


def run_script(sh: Shell, text: str, stdin: bytes, out: Out, err: Out) -> Steps:
    """Run a shell script; return its exit status."""
    try:
        tokens = _tokens(text)
    except SyntaxError as e:
        err += f"sh: 1: Syntax error: {e}\n".encode()
        return 2
    commands: list[tuple[str, list[Token]]] = []
    joiner: str = ";"
    current: list[Token] = []
    for tok in tokens:
        if tok[0] == "op":
            commands.append((joiner, current))
            joiner, current = str(tok[1]), []
        else:
            current.append(tok)
    commands.append((joiner, current))
    try:
        for join, command in commands:
            if not command or (join == "&&" and sh.status != 0):
                continue
            if join == "||" and sh.status == 0:
                continue
            sh.status = yield from _command(sh, command, stdin, out, err)
    except _Exit as e:
        return e.status
    return sh.status


def _command(sh: Shell, tokens: list[Token], stdin: bytes, out: Out, err: Out) -> Steps:
    words: list[str] = []
    # where fds 1 and 2 go: ("fd", k) is the caller's fd k, ("file", path) a guest file
    sinks: dict[int, tuple[str, object]] = {1: ("fd", 1), 2: ("fd", 2)}
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "word":
            words.append(_expand(sh, value))  # type: ignore[arg-type]
            i += 1
            continue
        fd, op = cast("tuple[int, str]", value)
        if i + 1 >= len(tokens) or tokens[i + 1][0] != "word":
            err += b"sh: 1: Syntax error: redirection unexpected\n"
            return 2
        target = _expand(sh, tokens[i + 1][1])  # type: ignore[arg-type]
        i += 2
        if op == ">&" and target.isdigit():
            if int(target) not in sinks:
                err += f"sh: 1: {target}: Bad file descriptor\n".encode()
                return 2
            sinks[1 if fd == -1 else fd] = sinks[int(target)]
            continue
        if op == "<":
            try:
                stdin = sh.fs.read(sh.fs.norm(target, sh.cwd))
            except GuestFsError as e:
                err += f"sh: 1: cannot open {target}: {errno(e)}\n".encode()
                return 2
            continue
        path = sh.fs.norm(target, sh.cwd)
        try:
            if op in (">", ">&") or not sh.fs.exists(path):
                sh.fs.write(path, b"")
        except GuestFsError as e:
            err += f"sh: 1: cannot create {target}: {errno(e)}\n".encode()
            return 2
        both = fd == -1 or (op == ">&" and fd == 1)
        for f in (1, 2) if both else (fd,):
            sinks[f] = ("file", path)
    assigns = {}
    while words and ASSIGN.fullmatch(words[0]):
        k, _, v = words.pop(0).partition("=")
        assigns[k] = v
    if not words:
        sh.env.update(assigns)
        return 0
    name, args = words[0], words[1:]
    o, e_out = bytearray(), bytearray()
    if name == "exit":
        raise _Exit(int(args[0]) & 255 if args and args[0].isdigit() else sh.status)
    if name == ":":
        status = 0
    elif name == "cd":
        target = sh.fs.norm(args[0] if args else sh.env.get("HOME", "/"), sh.cwd)
        status = 0 if sh.fs.is_dir(target) else 2
        if status:
            e_out += f"sh: 1: cd: can't cd to {args[0] if args else target}\n".encode()
        else:
            sh.cwd = target
    elif name == "export":
        for a in args:
            k, _, v = a.partition("=")
            sh.env[k] = v if "=" in a else sh.env.get(k, "")
        status = 0
    else:
        child = sh.fork()
        child.env.update(assigns)
        status = yield from run_program(child, name, args, stdin, o, e_out)
    for data, fd in ((o, 1), (e_out, 2)):
        how, where = sinks[fd]
        if how == "fd":
            (out if where == 1 else err).extend(data)
        else:
            try:
                sh.fs.write(str(where), bytes(data), append=True)
            except GuestFsError:
                pass
    return status
