"""GuestOperationsManager and its process, file and auth managers.

The managers are vCenter's (``guestOperationsProcessManager``,
``guestOperationsFileManager``, ``guestOperationsAuthManager``, plus the alias and
Windows-registry managers, whose methods answer ``MethodNotFound``). Every call names a
VM and guest credentials and checks, in vCenter's order: the VM exists
(``ManagedObjectNotFound``), is powered on (``InvalidPowerState``), its guest's tools run
(``GuestOperationsUnavailable``), and the credentials are a ``NamePasswordAuthentication``
the guest accepts (``InvalidGuestLogin``). The simulated guest has one account, ``root``,
whose password is the VM's extraConfig ``guestinfo.sim.password`` or, without it,
``vmware``.

Processes: StartProgramInGuest (``FileNotFound`` for a program or working directory that
does not exist), ListProcessesInGuest, TerminateProcessInGuest (``GuestProcessNotFound``),
ReadEnvironmentVariableInGuest; see :mod:`spherekit.sim.guest_proc` and the command
model in :mod:`spherekit.sim.guest_shell`. Files (:mod:`spherekit.sim.guest_fs`):
MakeDirectoryInGuest, DeleteFileInGuest, DeleteDirectoryInGuest, MoveFileInGuest,
MoveDirectoryInGuest, ListFilesInGuest (``matchPattern`` is a regular expression searched
in each name; at most ``maxResults``, default 50, from ``index``, with ``remaining``),
CreateTemporaryFileInGuest / CreateTemporaryDirectoryInGuest (in ``/tmp`` by default),
ChangeFileAttributesInGuest, InitiateFileTransferToGuest / FromGuest (URLs of
:mod:`spherekit.sim.guest_files`). File faults: ``FileNotFound``, ``FileAlreadyExists``,
``NotAFile``, ``NotADirectory``, ``DirectoryNotEmpty``, ``GuestPermissionDenied``
(``/proc`` and ``/sys`` are read-only). Auth: ValidateCredentialsInGuest.
"""

from __future__ import annotations

import posixpath
import re
import string
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.guest_boot import extra_config
from spherekit.sim.guest_fs import GuestFs, GuestFsError
from spherekit.sim.guest_proc import GuestState, environment, list_processes, start_process
from spherekit.sim.guest_proc import terminate as terminate_process
from spherekit.sim.methods import handler

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend, Context

__all__ = ["MANAGER", "enter", "fs_fault", "install"]

MANAGER = MoRef("GuestOperationsManager", "guestOperationsManager")
CHILDREN = {
    "processManager": MoRef("GuestProcessManager", "guestOperationsProcessManager"),
    "fileManager": MoRef("GuestFileManager", "guestOperationsFileManager"),
    "authManager": MoRef("GuestAuthManager", "guestOperationsAuthManager"),
    "aliasManager": MoRef("GuestAliasManager", "guestOperationsAliasManager"),
    "guestWindowsRegistryManager": MoRef(
        "GuestWindowsRegistryManager", "guestOperationsGuestWindowsRegistryManager"
    ),
}
USER = "root"
DEFAULT_PASSWORD = "vmware"
PROCESS, FILES, AUTH = "GuestProcessManager", "GuestFileManager", "GuestAuthManager"


def install(backend: Backend) -> None:
    """Give GuestOperationsManager its children (when the endpoint has one)."""
    reg = backend.registry
    if MANAGER not in reg:
        return
    for ref in CHILDREN.values():
        if ref not in reg:
            reg.add(ref, {})
    reg.update(MANAGER, dict(CHILDREN))


def enter(ctx: Context, vm: MoRef, auth: Any) -> tuple[GuestState, GuestFs, str]:
    """The checks every guest operation makes; the guest, its files and the user."""
    if vm.type != "VirtualMachine" or not ctx.visible(vm):
        raise faults.not_found(vm)
    props = ctx.registry.props(vm)
    power = props["runtime"].powerState
    if power != "poweredOn":
        raise faults.invalid_power_state("poweredOn", power)
    st = ctx.backend.guests.states.get(vm)
    guest = props.get("guest")
    running = guest is not None and guest.toolsRunningStatus == "guestToolsRunning"
    if st is None or not st.running or st.fs is None or not running:
        raise faults.guest_operations_unavailable()
    password = extra_config(props["config"]).get("guestinfo.sim.password", DEFAULT_PASSWORD)
    if not (
        isinstance(auth, d.NamePasswordAuthentication)
        and auth.username == USER
        and auth.password == password
    ):
        raise faults.invalid_guest_login()
    return st, st.fs, USER


def fs_fault(e: GuestFsError) -> Exception:
    """vCenter's fault for a failed guest file operation."""
    kinds = {
        "notfound": faults.file_not_found,
        "exists": faults.file_already_exists,
        "notdir": faults.not_a_directory,
        "isdir": faults.not_a_file,
        "notempty": faults.directory_not_empty,
    }
    make = kinds.get(e.kind)
    return make(e.path) if make is not None else faults.guest_permission_denied()


def _home(user: str) -> str:
    return "/root" if user == USER else f"/home/{user}"


# -- processes -------------------------------------------------------------------------------


@handler(PROCESS, "StartProgramInGuest")
def start_program(ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, spec: Any) -> int:
    st, fs, user = enter(ctx, vm, auth)
    program = fs.norm(spec.programPath or "", _home(user))
    node = fs.get(program)
    if not spec.programPath or node is None:
        raise faults.file_not_found(spec.programPath or "")
    if node.is_dir:
        raise faults.not_a_file(spec.programPath)
    cwd = fs.norm(spec.workingDirectory or _home(user), _home(user))
    if not fs.exists(cwd):
        raise faults.file_not_found(spec.workingDirectory)
    if not fs.is_dir(cwd):
        raise faults.not_a_directory(spec.workingDirectory)
    env = environment(user)
    for item in spec.envVariables or []:
        name, eq, value = str(item).partition("=")
        if not eq or not name:
            raise faults.invalid_argument("spec.envVariables", f"{item!r} is not NAME=VALUE")
        env[name] = value
    env["PWD"] = cwd
    return start_process(ctx, vm, st, user, program, spec.arguments or "", cwd, env)


@handler(PROCESS, "ListProcessesInGuest")
def list_processes_in_guest(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, pids: list[int] | None = None
) -> list[d.GuestProcessInfo]:
    st, _fs, _user = enter(ctx, vm, auth)
    return list_processes(st, pids)


@handler(PROCESS, "TerminateProcessInGuest")
def terminate_process_in_guest(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, pid: int
) -> None:
    st, _fs, _user = enter(ctx, vm, auth)
    if pid in (1, 600):
        return  # init and vmtoolsd ignore SIGTERM
    if not terminate_process(st, pid):
        raise faults.guest_process_not_found(pid)


@handler(PROCESS, "ReadEnvironmentVariableInGuest")
def read_environment(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, names: list[str] | None = None
) -> list[str]:
    _st, _fs, user = enter(ctx, vm, auth)
    env = environment(user)
    wanted = names or sorted(env)
    return [f"{n}={env[n]}" for n in wanted if n in env]


# -- files -----------------------------------------------------------------------------------


def _attributes(fs: GuestFs, path: str) -> d.GuestPosixFileAttributes:
    node = fs.get(path)
    assert node is not None
    return d.GuestPosixFileAttributes(
        modificationTime=node.mtime,
        accessTime=node.atime,
        ownerId=node.uid,
        groupId=node.gid,
        permissions=node.mode,
    )


def _do(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except GuestFsError as e:
        raise fs_fault(e) from None


@handler(FILES, "MakeDirectoryInGuest")
def make_directory(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, directoryPath: str,
    createParentDirectories: bool,
) -> None:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    if fs.exists(directoryPath):
        raise faults.file_already_exists(directoryPath)
    _do(fs.mkdir, fs.norm(directoryPath), parents=createParentDirectories)


@handler(FILES, "DeleteFileInGuest")
def delete_file(ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, filePath: str) -> None:
    _st, fs, _user = enter(ctx, vm, auth)
    _do(fs.remove, filePath)


@handler(FILES, "DeleteDirectoryInGuest")
def delete_directory(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, directoryPath: str, recursive: bool
) -> None:
    _st, fs, _user = enter(ctx, vm, auth)
    _do(fs.rmdir, directoryPath, recursive=recursive)


@handler(FILES, "MoveFileInGuest")
def move_file(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, srcFilePath: str, dstFilePath: str,
    overwrite: bool,
) -> None:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    if fs.is_dir(srcFilePath):
        raise faults.not_a_file(srcFilePath)
    _do(fs.move, srcFilePath, dstFilePath, overwrite=overwrite)


@handler(FILES, "MoveDirectoryInGuest")
def move_directory(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, srcDirectoryPath: str,
    dstDirectoryPath: str,
) -> None:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    if fs.exists(srcDirectoryPath) and not fs.is_dir(srcDirectoryPath):
        raise faults.not_a_directory(srcDirectoryPath)
    _do(fs.move, srcDirectoryPath, dstDirectoryPath)


@handler(FILES, "ListFilesInGuest")
def list_files(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, filePath: str, index: int | None = None,
    maxResults: int | None = None, matchPattern: str | None = None,
) -> d.GuestListFileInfo:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    path = fs.norm(filePath)
    node = fs.get(path)
    if node is None:
        raise faults.file_not_found(filePath)
    if node.is_dir:
        entries = [(n, posixpath.join(path, n)) for n in fs.children(path)]
    else:
        entries = [(posixpath.basename(path), path)]
    if matchPattern:
        try:
            pattern = re.compile(matchPattern)
        except re.error as e:
            raise faults.invalid_argument("matchPattern", str(e)) from None
        entries = [x for x in entries if pattern.search(x[0])]
    start = max(index or 0, 0)
    count = 50 if maxResults is None else max(maxResults, 0)
    page = entries[start : start + count]
    files = []
    for name, full in page:
        n = fs.get(full)
        assert n is not None
        kind = "directory" if n.is_dir else "file"
        files.append(
            d.GuestFileInfo(path=name, type=kind, size=n.size, attributes=_attributes(fs, full))
        )
    return d.GuestListFileInfo(
        files=files or None, remaining=max(len(entries) - start - len(page), 0)
    )


def _temporary(ctx: Context, fs: GuestFs, prefix: str, suffix: str, directory: str | None) -> str:
    where = fs.norm(directory or "/tmp")
    if not fs.exists(where):
        raise faults.file_not_found(directory or "/tmp")
    if not fs.is_dir(where):
        raise faults.not_a_directory(where)
    alphabet = string.ascii_letters + string.digits
    while True:
        middle = "".join(ctx.registry.rng.choice(alphabet) for _ in range(6))
        path = posixpath.join(where, f"{prefix}{middle}{suffix}")
        if not fs.exists(path):
            return path


@handler(FILES, "CreateTemporaryFileInGuest")
def create_temporary_file(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, prefix: str, suffix: str,
    directoryPath: str | None = None,
) -> str:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    path = _temporary(ctx, fs, prefix, suffix, directoryPath)
    _do(fs.write, path, b"", mode=0o600)
    return path


@handler(FILES, "CreateTemporaryDirectoryInGuest")
def create_temporary_directory(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, prefix: str, suffix: str,
    directoryPath: str | None = None,
) -> str:  # fmt: skip
    _st, fs, _user = enter(ctx, vm, auth)
    path = _temporary(ctx, fs, prefix, suffix, directoryPath)
    _do(fs.mkdir, path)
    return path


@handler(FILES, "ChangeFileAttributesInGuest")
def change_file_attributes(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, guestFilePath: str, fileAttributes: Any
) -> None:
    _st, fs, _user = enter(ctx, vm, auth)
    node = fs.get(guestFilePath)
    if node is None:
        raise faults.file_not_found(guestFilePath)
    a = fileAttributes
    if isinstance(a, d.GuestWindowsFileAttributes):
        raise faults.invalid_argument("fileAttributes", "a Linux guest takes posix attributes")
    node.mtime = a.modificationTime or node.mtime
    node.atime = a.accessTime or node.atime
    if isinstance(a, d.GuestPosixFileAttributes):
        node.mode = node.mode if a.permissions is None else int(a.permissions) & 0o7777
        node.uid = node.uid if a.ownerId is None else int(a.ownerId)
        node.gid = node.gid if a.groupId is None else int(a.groupId)


@handler(FILES, "InitiateFileTransferToGuest")
def initiate_to_guest(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, guestFilePath: str, fileAttributes: Any,
    fileSize: int, overwrite: bool,
) -> str:  # fmt: skip
    from spherekit.sim.guest_files import ticket

    st, fs, _user = enter(ctx, vm, auth)
    path = fs.norm(guestFilePath)
    node = fs.get(path)
    if node is not None and node.is_dir:
        raise faults.not_a_file(guestFilePath)
    if node is not None and not overwrite:
        raise faults.file_already_exists(guestFilePath)
    parent = posixpath.dirname(path)
    if not fs.is_dir(parent):
        raise faults.file_not_found(parent)
    if path.startswith(("/proc/", "/sys/")):
        raise faults.guest_permission_denied()
    mode = getattr(fileAttributes, "permissions", None)
    return ticket(ctx, vm, st, path, upload=True, overwrite=overwrite, mode=mode)


@handler(FILES, "InitiateFileTransferFromGuest")
def initiate_from_guest(
    ctx: Context, this: MoRef, *, vm: MoRef, auth: Any, guestFilePath: str
) -> d.FileTransferInformation:
    from spherekit.sim.guest_files import ticket

    st, fs, _user = enter(ctx, vm, auth)
    path = fs.norm(guestFilePath)
    node = fs.get(path)
    if node is None:
        raise faults.file_not_found(guestFilePath)
    if node.is_dir:
        raise faults.not_a_file(guestFilePath)
    url = ticket(ctx, vm, st, path, upload=False, overwrite=False, mode=None)
    return d.FileTransferInformation(attributes=_attributes(fs, path), size=node.size, url=url)


# -- credentials -----------------------------------------------------------------------------


@handler(AUTH, "ValidateCredentialsInGuest")
def validate_credentials(ctx: Context, this: MoRef, *, vm: MoRef, auth: Any) -> None:
    enter(ctx, vm, auth)
