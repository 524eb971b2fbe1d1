"""pyVmomi, VMware's own SDK, as the tests drive it against a served simulator (or any SDK
URL, vcsim's too): log in, log out, wait for a task, find inventory objects.

    with Simulator(seed=1) as sim, connected(sim) as si:
        vm = find(si, vim.VirtualMachine, "DC0_H0_VM0")
        wait(vm.PowerOffVM_Task())

pyVmomi makes its types at run time and its stubs make every property optional, so its
objects are ``Any`` here, and so are :data:`vim` and :data:`vmodl`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pyVmomi
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask

from spherekit.sim import Simulator

__all__ = [
    "connect",
    "connected",
    "disconnect",
    "disk_specs",
    "find",
    "objects",
    "read",
    "vim",
    "vmodl",
    "wait",
]

#: pyVmomi's namespaces, untyped for mypy
vim: Any = pyVmomi.vim
vmodl: Any = pyVmomi.vmodl


def connect(target: Simulator | str, user: str = "user", pwd: str = "pass", **kwargs: Any) -> Any:
    """A ``ServiceInstance`` logged in to ``target``, a served simulator or an SDK URL.

    Further keyword arguments go to ``SmartConnect``; without ``sslContext`` the server's
    certificate is not verified (``disableSslCertValidation=True``).
    """
    u = urlsplit(target if isinstance(target, str) else target.sdk_url)
    if "sslContext" not in kwargs:
        kwargs.setdefault("disableSslCertValidation", True)
    si: Any = SmartConnect(  # type: ignore[no-untyped-call]
        host=u.hostname, port=u.port, user=user, pwd=pwd, **kwargs
    )
    return si


def disconnect(si: Any) -> None:
    """Log out; a session that expired or was terminated has nothing left to log out."""
    try:
        Disconnect(si)  # type: ignore[no-untyped-call]
    except vim.fault.NotAuthenticated:
        pass


@contextmanager
def connected(
    target: Simulator | str, user: str = "user", pwd: str = "pass", **kwargs: Any
) -> Iterator[Any]:
    """:func:`connect`, logged out again (:func:`disconnect`) when the block ends."""
    si = connect(target, user, pwd, **kwargs)
    try:
        yield si
    finally:
        disconnect(si)


def wait(task: Any) -> Any:
    """Wait for a task to succeed (raising its fault if it fails); its result."""
    WaitForTask(task)  # type: ignore[no-untyped-call]
    return task.info.result


def objects(si: Any, kind: Any = None) -> list[Any]:
    """Every inventory object of type ``kind`` (VirtualMachine unless given), through a
    container view on the root folder, in moref order."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(
        content.rootFolder, [kind or vim.VirtualMachine], True
    )
    try:
        return sorted(view.view, key=lambda o: o._moId)
    finally:
        view.DestroyView()


def find(si: Any, kind: Any, name: str) -> Any:
    """The inventory object of type ``kind`` named ``name``."""
    for o in objects(si, kind):
        if o.name == name:
            return o
    raise AssertionError(f"no {kind.__name__} named {name!r} in the inventory")


def disk_specs(capacity_kb: int, **backing: Any) -> list[Any]:
    """Device changes for a new VM: a paravirtual SCSI controller (key -1) and a new thin
    disk of ``capacity_kb`` on it (``backing``: more ``FlatVer2BackingInfo`` fields)."""
    scsi = vim.vm.device.VirtualDeviceSpec(
        operation="add",
        device=vim.vm.device.ParaVirtualSCSIController(key=-1, busNumber=0, sharedBus="noSharing"),
    )
    disk = vim.vm.device.VirtualDeviceSpec(
        operation="add",
        fileOperation="create",
        device=vim.vm.device.VirtualDisk(
            key=-2,
            controllerKey=-1,
            unitNumber=0,
            capacityInKB=capacity_kb,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                diskMode="persistent", thinProvisioned=True, **backing
            ),
        ),
    )
    return [scsi, disk]


def read(si: Any, obj: Any, path: str) -> Any:
    """One property of ``obj`` through the PropertyCollector; ``None`` when unset. (pyVmomi
    reads ``obj.path`` through its ``Fetch`` method, which crashes vcsim 0.24.2 on unset
    properties such as ``vm.snapshot``.)"""
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=obj)],
        propSet=[pc.PropertySpec(type=type(obj), pathSet=[path])],
    )
    (content,) = si.RetrieveContent().propertyCollector.RetrieveContents([spec])
    return next((p.val for p in content.propSet or [] if p.name == path), None)
