"""Faults as vCenter raises them: the fault object with its fields and the message text.

Handlers raise these (MethodFault subclasses are exceptions); the dispatcher writes them
as SOAP faults, and a task writes them into ``info.error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        InvalidArgument,
        InvalidPowerState,
        InvalidProperty,
        InvalidRequest,
        InvalidType,
        ManagedObjectNotFound,
        MethodFault,
        MethodNotFound,
        NotSupported,
        TaskInProgress,
    )
    from spherekit.schema.vim25.data import (
        SystemError as SystemErrorFault,
    )

__all__ = [
    "invalid_argument",
    "invalid_power_state",
    "invalid_property",
    "invalid_request",
    "invalid_type",
    "method_not_found",
    "not_found",
    "not_supported",
    "system_error",
    "task_in_progress",
    "with_msg",
]

F = TypeVar("F", bound="MethodFault")

_POWER_TEXT = {"poweredOn": "Powered on", "poweredOff": "Powered off", "suspended": "Suspended"}


def with_msg(fault: F, msg: str) -> F:
    """``fault`` carrying ``msg`` as its fault string / localized message."""
    fault.msg = msg
    return fault


def not_found(ref: MoRef) -> ManagedObjectNotFound:
    from spherekit.schema.vim25.data import ManagedObjectNotFound

    return with_msg(
        ManagedObjectNotFound(obj=ref),
        f"The object 'vim.{ref.type}:{ref.value}' has already been deleted or has not been "
        "completely created",
    )


def invalid_property(name: str) -> InvalidProperty:
    from spherekit.schema.vim25.data import InvalidProperty

    return with_msg(InvalidProperty(name=name), f"Invalid property: {name!r}")


def invalid_argument(name: str | None, why: str = "") -> InvalidArgument:
    from spherekit.schema.vim25.data import InvalidArgument

    text = "A specified parameter was not correct: " + (name or "")
    return with_msg(InvalidArgument(invalidProperty=name), text + (f" ({why})" if why else ""))


def invalid_request(msg: str) -> InvalidRequest:
    from spherekit.schema.vim25.data import InvalidRequest

    return with_msg(InvalidRequest(), msg)


def invalid_type(argument: str, msg: str) -> InvalidType:
    """An argument of the wrong type (an InvalidRequest; ``argument``: where it is)."""
    from spherekit.schema.vim25.data import InvalidType

    return with_msg(InvalidType(argument=argument), msg)


def task_in_progress(task: MoRef) -> TaskInProgress:
    """The object is busy with ``task`` (vCenter runs one state-changing task per VM)."""
    from spherekit.schema.vim25.data import TaskInProgress

    return with_msg(TaskInProgress(task=task), "Another task is already in progress.")


def method_not_found(this: MoRef, method: str) -> MethodNotFound:
    from spherekit.schema.vim25.data import MethodNotFound

    return with_msg(
        MethodNotFound(receiver=this, method=method),
        f"{method} is not implemented by spherekit.sim for {this.type}",
    )


def not_supported(msg: str = "The operation is not supported on the object.") -> NotSupported:
    from spherekit.schema.vim25.data import NotSupported

    return with_msg(NotSupported(), msg)


def invalid_power_state(requested: str | None, existing: str) -> InvalidPowerState:
    from spherekit.schema.vim25.data import InvalidPowerState
    from spherekit.schema.vim25.enums import VirtualMachinePowerState as P

    return with_msg(
        InvalidPowerState(
            requestedState=P(requested) if requested else None, existingState=P(existing)
        ),
        "The attempted operation cannot be performed in the current state "
        f"({_POWER_TEXT.get(existing, existing)}).",
    )


def system_error(reason: str) -> SystemErrorFault:
    from spherekit.schema.vim25.data import SystemError as SystemErrorFault

    fault = SystemErrorFault(reason=reason)
    return with_msg(fault, f"A general system error occurred: {reason}")


# -- inventory faults (folder.py, managed_entity.py, resource_pool.py, vm_spec.py) ---------

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        AlreadyExists,
        DuplicateName,
        FileAlreadyExists,
        FileNotFound,
        InvalidDatastorePath,
        InvalidDeviceSpec,
        InvalidFolder,
        InvalidName,
        InvalidState,
        InvalidVmConfig,
        ResourceInUse,
    )

__all__ += [
    "already_exists",
    "duplicate_name",
    "file_already_exists",
    "file_not_found",
    "invalid_datastore_path",
    "invalid_device_spec",
    "invalid_folder",
    "invalid_name",
    "invalid_state",
    "invalid_vm_config",
    "resource_in_use",
]


def duplicate_name(name: str, existing: MoRef) -> DuplicateName:
    """``name`` is taken by ``existing`` (DuplicateName.object is the entity holding it)."""
    from spherekit.schema.vim25.data import DuplicateName

    return with_msg(DuplicateName(name=name, object=existing), f"The name '{name}' already exists.")


def invalid_name(name: str, entity: MoRef | None = None) -> InvalidName:
    from spherekit.schema.vim25.data import InvalidName

    return with_msg(InvalidName(name=name, entity=entity), f"The name '{name}' is invalid.")


def invalid_folder(target: MoRef) -> InvalidFolder:
    from spherekit.schema.vim25.data import InvalidFolder

    return with_msg(
        InvalidFolder(target=target),
        "The operation is not allowed: an entity cannot be moved into itself or into one of "
        "its descendants.",
    )


def invalid_state(msg: str = "The operation is not allowed in the current state.") -> InvalidState:
    from spherekit.schema.vim25.data import InvalidState

    return with_msg(InvalidState(), msg)


def file_not_found(file: str) -> FileNotFound:
    from spherekit.schema.vim25.data import FileNotFound

    return with_msg(FileNotFound(file=file), f"File {file} was not found")


def file_already_exists(file: str) -> FileAlreadyExists:
    from spherekit.schema.vim25.data import FileAlreadyExists

    return with_msg(
        FileAlreadyExists(file=file),
        f"Cannot complete the operation because the file or folder {file} already exists",
    )


def already_exists(name: str) -> AlreadyExists:
    from spherekit.schema.vim25.data import AlreadyExists

    return with_msg(
        AlreadyExists(name=name),
        f"The specified key, name, or identifier '{name}' already exists.",
    )


def invalid_datastore_path(path: str, datastore: str | None = None) -> InvalidDatastorePath:
    from spherekit.schema.vim25.data import InvalidDatastorePath

    return with_msg(
        InvalidDatastorePath(name=datastore, datastorePath=path),
        f"Invalid datastore path '{path}'.",
    )


def invalid_vm_config(prop: str) -> InvalidVmConfig:
    from spherekit.schema.vim25.data import InvalidVmConfig

    return with_msg(
        InvalidVmConfig(property=prop), f"Invalid virtual machine configuration: {prop}"
    )


def invalid_device_spec(index: int, prop: str | None = None) -> InvalidDeviceSpec:
    from spherekit.schema.vim25.data import InvalidDeviceSpec

    return with_msg(
        InvalidDeviceSpec(deviceIndex=index, property=prop),
        f"Invalid configuration for device '{index}'.",
    )


def resource_in_use(kind: str, name: str) -> ResourceInUse:
    from spherekit.schema.vim25.data import ResourceInUse

    return with_msg(ResourceInUse(type=kind, name=name), f"The resource '{name}' is in use.")


# -- virtual machine faults (vm_power.py, vm_reconfig.py, vm_devices.py, vm_migrate.py) -------

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        ConcurrentAccess,
        DeviceHotPlugNotSupported,
        InvalidDeviceOperation,
        ToolsUnavailable,
    )

__all__ += [
    "concurrent_access",
    "device_hot_plug_not_supported",
    "invalid_device_operation",
    "tools_unavailable",
]


def tools_unavailable() -> ToolsUnavailable:
    from spherekit.schema.vim25.data import ToolsUnavailable

    return with_msg(
        ToolsUnavailable(),
        "Cannot complete operation because VMware Tools is not running in this virtual machine.",
    )


def invalid_device_operation(
    index: int, op: str | None, file_op: str | None = None
) -> InvalidDeviceOperation:
    """vCenter's answer to e.g. shrinking a disk: "Invalid operation for device '0'."."""
    from spherekit.schema.vim25.data import InvalidDeviceOperation
    from spherekit.schema.vim25.enums import (
        VirtualDeviceConfigSpecFileOperation,
        VirtualDeviceConfigSpecOperation,
    )

    return with_msg(
        InvalidDeviceOperation(
            deviceIndex=index,
            property="virtualDeviceSpec.device",
            badOp=VirtualDeviceConfigSpecOperation(op) if op else None,
            badFileOp=VirtualDeviceConfigSpecFileOperation(file_op) if file_op else None,
        ),
        f"Invalid operation for device '{index}'.",
    )


def device_hot_plug_not_supported(index: int) -> DeviceHotPlugNotSupported:
    from spherekit.schema.vim25.data import DeviceHotPlugNotSupported

    return with_msg(
        DeviceHotPlugNotSupported(deviceIndex=index, property="virtualDeviceSpec.device"),
        f"Device '{index}' cannot be hot-added or hot-removed while the virtual machine is "
        "powered on; power it off first.",
    )


def concurrent_access(what: str = "") -> ConcurrentAccess:
    from spherekit.schema.vim25.data import ConcurrentAccess

    return with_msg(
        ConcurrentAccess(),
        "Cannot complete operation due to concurrent modification by another operation."
        + (f" ({what})" if what else ""),
    )


# -- security faults (accounts.py, authorization.py, esx.py) -------------------------------

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import NoPermission
    from spherekit.schema.vim25.data import NotImplemented as NotImplementedFault

__all__ += ["no_permission", "not_implemented"]


def no_permission(obj: MoRef, privilege: str, why: str = "") -> NoPermission:
    """NoPermission as vCenter sends it: the object, the missing privilege, and both again
    in ``missingPrivileges``."""
    from spherekit.schema.vim25.data import NoPermission, NoPermissionEntityPrivileges

    fault = NoPermission(
        object=obj,
        privilegeId=privilege,
        missingPrivileges=[NoPermissionEntityPrivileges(entity=obj, privilegeIds=[privilege])],
    )
    text = "Permission to perform this operation was denied."
    return with_msg(fault, text + (f" ({why})" if why else ""))


def not_implemented() -> NotImplementedFault:
    from spherekit.schema.vim25.data import NotImplemented as NotImplementedFault

    text = "The requested operation is not implemented by the server."
    return with_msg(NotImplementedFault(), text)


# -- guest operations faults (guest_ops.py, guest_files.py) ------------------------------------

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import (
        DirectoryNotEmpty,
        GuestOperationsUnavailable,
        GuestPermissionDenied,
        GuestProcessNotFound,
        InvalidGuestLogin,
        NotADirectory,
        NotAFile,
    )

__all__ += [
    "directory_not_empty",
    "guest_operations_unavailable",
    "guest_permission_denied",
    "guest_process_not_found",
    "invalid_guest_login",
    "not_a_directory",
    "not_a_file",
]


def guest_operations_unavailable() -> GuestOperationsUnavailable:
    from spherekit.schema.vim25.data import GuestOperationsUnavailable

    return with_msg(
        GuestOperationsUnavailable(),
        "The guest operations agent could not be contacted.",
    )


def invalid_guest_login() -> InvalidGuestLogin:
    from spherekit.schema.vim25.data import InvalidGuestLogin

    return with_msg(
        InvalidGuestLogin(),
        "Failed to authenticate with the guest operating system using the supplied credentials.",
    )


def guest_permission_denied() -> GuestPermissionDenied:
    from spherekit.schema.vim25.data import GuestPermissionDenied

    return with_msg(GuestPermissionDenied(), "Insufficient permissions in guest operating system.")


def guest_process_not_found(pid: int) -> GuestProcessNotFound:
    from spherekit.schema.vim25.data import GuestProcessNotFound

    return with_msg(GuestProcessNotFound(pid=pid), f"The guest process {pid} was not found.")


def not_a_file(file: str) -> NotAFile:
    from spherekit.schema.vim25.data import NotAFile

    return with_msg(NotAFile(file=file), f"The specified path {file} is not a file.")


def not_a_directory(file: str) -> NotADirectory:
    from spherekit.schema.vim25.data import NotADirectory

    return with_msg(NotADirectory(file=file), f"The specified path {file} is not a directory.")


def directory_not_empty(file: str) -> DirectoryNotEmpty:
    from spherekit.schema.vim25.data import DirectoryNotEmpty

    return with_msg(DirectoryNotEmpty(file=file), f"The directory {file} is not empty.")
