"""Reconfigure a VM: CPU, memory, disk grow, add NIC — one ``ReconfigVM_Task`` each time.

:func:`reconfigure` validates everything it is asked for against one read of the VM (its
hardware, its host's networks) and refuses bad input with
:class:`~spherekit.errors.UsageError` before anything is sent: a CPU count or memory size
that is not positive (memory in multiples of 4 MB), a disk that does not exist (by label
such as ``"Hard disk 1"`` or by 0-based index among the VM's disks), a new disk size that
is not larger than the current one (vSphere cannot shrink a disk), a network the VM's host
does not see. The changes then go to the server as one ``VirtualMachineConfigSpec`` in one
``ReconfigVM_Task`` through an :class:`~spherekit.compute.ops.Operation`, so vSphere
applies all of them or none, and the journal shows the call and its outcome. ``plan=True``
lists the call without making it. Nothing to change is a no-op (nothing sent).

What the server refuses is raised as the task's fault (wrapped in ``OperationFailed``):
e.g. ``InvalidPowerState`` for a CPU hot-add on a running VM without ``cpuHotAddEnabled``.

:func:`set_cpu`, :func:`set_memory`, :func:`grow_disk` and :func:`add_nic` are the
one-change forms.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit.compute.endpoint import VmArg, read_one, vm_ref
from spherekit.compute.ops import Operation, PlannedCall
from spherekit.errors import UsageError
from spherekit.property import filter_spec, retrieve
from spherekit.schema.base import MoRef

if TYPE_CHECKING:
    from spherekit.compute.journal import Journal
    from spherekit.session import Session

__all__ = [
    "NIC_TYPES",
    "ReconfigureResult",
    "add_nic",
    "grow_disk",
    "network_backing",
    "reconfigure",
    "set_cpu",
    "set_memory",
]

GiB = 1024**3
#: adapter names accepted by :func:`add_nic`
NIC_TYPES = ("vmxnet3", "e1000e", "e1000", "pcnet32", "vmxnet2")


@dataclass(frozen=True)
class ReconfigureResult:
    """What a reconfiguration changed (or, for a plan, would change)."""

    vm: MoRef
    #: one line per change, e.g. ``"CPUs 1 -> 2"``
    changes: list[str]
    changed: bool
    planned: list[PlannedCall] = field(default_factory=list)

    def __str__(self) -> str:
        return f"reconfigure {self.vm}: " + ("; ".join(self.changes) or "nothing to change")


def _nic_class(adapter: str) -> Any:
    from spherekit import vim

    classes = {
        "vmxnet3": vim.VirtualVmxnet3,
        "e1000e": vim.VirtualE1000e,
        "e1000": vim.VirtualE1000,
        "pcnet32": vim.VirtualPCNet32,
        "vmxnet2": vim.VirtualVmxnet2,
    }
    if adapter not in classes:
        raise UsageError(f"unknown NIC adapter {adapter!r}; use one of {', '.join(NIC_TYPES)}")
    return classes[adapter]


def _disks(devices: Sequence[Any]) -> list[Any]:
    from spherekit import vim

    return [d for d in devices if isinstance(d, vim.VirtualDisk)]


def _label(dev: Any) -> str:
    info = getattr(dev, "deviceInfo", None)
    return str(info.label) if info is not None and info.label else f"device {dev.key}"


def _find_disk(devices: Sequence[Any], which: str | int) -> Any:
    disks = _disks(devices)
    labels = ", ".join(repr(_label(d)) for d in disks) or "none"
    if isinstance(which, bool) or not isinstance(which, str | int):
        raise UsageError(f"a disk is named by its label or its index, got {which!r}")
    if isinstance(which, int):
        if not 0 <= which < len(disks):
            raise UsageError(f"the VM has no disk #{which} (it has {len(disks)}: {labels})")
        return disks[which]
    found = [d for d in disks if _label(d).lower() == which.lower()]
    if not found:
        raise UsageError(f"the VM has no disk labelled {which!r} (its disks: {labels})")
    return found[0]


def _disk_bytes(dev: Any) -> int:
    if dev.capacityInBytes is not None:
        return int(dev.capacityInBytes)
    return int(dev.capacityInKB or 0) * 1024


def _gib(n: int) -> str:
    return f"{n / GiB:g} GiB"


def network_backing(session: Session, host: MoRef | None, name: str) -> Any:
    """The NIC backing for the network ``name`` as seen by ``host`` (one read each step):
    a standard network's ``NetworkBackingInfo``, a distributed portgroup's port connection.
    """
    from spherekit import vim

    if not isinstance(name, str) or not name:
        raise UsageError("a network is named by its name, e.g. 'VM Network'")
    if host is None:
        raise UsageError("the VM has no host, so its networks cannot be resolved")
    nets: list[MoRef] = read_one(session, host, ["network"]).get("network") or []
    rows = (
        retrieve(session, filter_spec("Network", ["name"], nets), ignore_missing=True)
        if nets
        else []
    )
    matches = [ref for ref, v in rows if v.get("name") == name]
    if not matches:
        known = ", ".join(sorted(repr(v.get("name")) for _, v in rows)) or "none"
        raise UsageError(f"no network {name!r} on the VM's host (its networks: {known})")
    if len(matches) > 1:
        raise UsageError(f"network name {name!r} is ambiguous on the VM's host: {matches}")
    ref = matches[0]
    if ref.type == "DistributedVirtualPortgroup":
        pg = read_one(session, ref, ["key", "config.distributedVirtualSwitch"])
        dvs = pg.get("config.distributedVirtualSwitch")
        if dvs is None:
            raise UsageError(f"portgroup {name!r} has no distributed switch")
        uuid = read_one(session, dvs, ["uuid"]).get("uuid")
        port = vim.DistributedVirtualSwitchPortConnection(
            switchUuid=str(uuid), portgroupKey=str(pg.get("key", ref.value))
        )
        return vim.VirtualEthernetCardDistributedVirtualPortBackingInfo(port=port)
    if ref.type == "OpaqueNetwork":
        raise UsageError(f"network {name!r} is an opaque (NSX) network, which is not supported")
    return vim.VirtualEthernetCardNetworkBackingInfo(deviceName=name, network=ref)


def reconfigure(
    session: Session,
    vm: VmArg,
    journal: Journal,
    *,
    cpus: int | None = None,
    cores_per_socket: int | None = None,
    memory_mb: int | None = None,
    grow_disks: Mapping[str | int, float] | None = None,
    add_nics: Sequence[str] | None = None,
    nic_type: str = "vmxnet3",
    plan: bool = False,
) -> ReconfigureResult:
    """Apply the given changes in one ``ReconfigVM_Task`` (see the module doc).

    ``grow_disks`` maps a disk (label or 0-based index) to its new size in GiB;
    ``add_nics`` names the networks to add a NIC (of ``nic_type``) on.
    """
    from spherekit import vim

    ref = vm_ref(vm)
    for label, value in (("cpus", cpus), ("cores_per_socket", cores_per_socket),
                         ("memory_mb", memory_mb)):  # fmt: skip
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{label} must be an integer, got {value!r}")
        if value is not None and value <= 0:
            raise UsageError(f"{label} must be positive, got {value}")
    if memory_mb is not None and memory_mb % 4:
        raise UsageError(f"memory_mb must be a multiple of 4, got {memory_mb}")
    if cpus is not None and cores_per_socket is not None and cpus % cores_per_socket:
        raise UsageError(f"cpus ({cpus}) must be a multiple of cores_per_socket")
    nic_cls = _nic_class(nic_type)
    v = read_one(session, ref, ["name", "config.hardware", "runtime.host", "config.template"])
    hw = v.get("config.hardware")
    if hw is None:
        raise UsageError(f"{ref} has no hardware configuration to change")
    name = str(v.get("name", ref.value))
    spec = vim.VirtualMachineConfigSpec()
    changes: list[str] = []
    if cpus is not None and cpus != hw.numCPU:
        spec.numCPUs = cpus
        changes.append(f"CPUs {hw.numCPU} -> {cpus}")
    if cores_per_socket is not None and cores_per_socket != hw.numCoresPerSocket:
        spec.numCoresPerSocket = cores_per_socket
        changes.append(f"cores per socket {hw.numCoresPerSocket} -> {cores_per_socket}")
    if memory_mb is not None and memory_mb != hw.memoryMB:
        spec.memoryMB = memory_mb
        changes.append(f"memory {hw.memoryMB} MB -> {memory_mb} MB")
    device_changes: list[Any] = []
    for which, size_gb in (grow_disks or {}).items():
        disk = _find_disk(hw.device or [], which)
        if isinstance(size_gb, bool) or not isinstance(size_gb, int | float):
            raise UsageError(f"the new size of {_label(disk)} is a number of GiB, got {size_gb!r}")
        new = int(size_gb * GiB)
        old = _disk_bytes(disk)
        if new <= 0:
            raise UsageError(f"the new size of {_label(disk)} must be positive, got {size_gb} GiB")
        if new < old:
            raise UsageError(
                f"{_label(disk)} is {_gib(old)}; it cannot shrink to {_gib(new)} "
                "(vSphere only grows disks)"
            )
        if new == old:
            continue
        edited = copy.copy(disk)
        edited.capacityInBytes = new
        edited.capacityInKB = new // 1024
        device_changes.append(
            vim.VirtualDeviceConfigSpec(
                operation=vim.VirtualDeviceConfigSpecOperation.edit, device=edited
            )
        )
        changes.append(f"{_label(disk)} {_gib(old)} -> {_gib(new)}")
    for i, net in enumerate(add_nics or ()):
        backing = network_backing(session, v.get("runtime.host"), net)
        nic = nic_cls(
            key=-(i + 1),
            backing=backing,
            addressType="generated",
            connectable=vim.VirtualDeviceConnectInfo(
                startConnected=True, allowGuestControl=True, connected=False
            ),
        )
        device_changes.append(
            vim.VirtualDeviceConfigSpec(
                operation=vim.VirtualDeviceConfigSpecOperation.add, device=nic
            )
        )
        changes.append(f"add {nic_type} NIC on {net!r}")
    if device_changes:
        spec.deviceChange = device_changes
    if not changes:
        return ReconfigureResult(ref, [], False)
    if v.get("config.template"):
        raise UsageError(f"{name} ({ref}) is a template; mark it as a virtual machine first")
    with Operation(session, journal, f"reconfigure {name}", plan=plan) as op:
        op.write(ref, "ReconfigVM_Task", spec=spec)
    return ReconfigureResult(ref, changes, True, op.planned)


def set_cpu(
    session: Session, vm: VmArg, journal: Journal, cpus: int, *,
    cores_per_socket: int | None = None, plan: bool = False,
) -> ReconfigureResult:  # fmt: skip
    """Set the number of virtual CPUs (and optionally cores per socket)."""
    return reconfigure(session, vm, journal, cpus=cpus, cores_per_socket=cores_per_socket,
                       plan=plan)  # fmt: skip


def set_memory(
    session: Session, vm: VmArg, journal: Journal, memory_mb: int, *, plan: bool = False
) -> ReconfigureResult:
    """Set the memory size in MB (a positive multiple of 4)."""
    return reconfigure(session, vm, journal, memory_mb=memory_mb, plan=plan)


def grow_disk(
    session: Session, vm: VmArg, journal: Journal, disk: str | int, size_gb: float, *,
    plan: bool = False,
) -> ReconfigureResult:  # fmt: skip
    """Grow one disk (by label or 0-based index) to ``size_gb`` GiB; never shrinks."""
    return reconfigure(session, vm, journal, grow_disks={disk: size_gb}, plan=plan)


def add_nic(
    session: Session, vm: VmArg, journal: Journal, network: str, *,
    nic_type: str = "vmxnet3", plan: bool = False,
) -> ReconfigureResult:  # fmt: skip
    """Add a NIC on the network named ``network`` (standard network or DV portgroup)."""
    return reconfigure(session, vm, journal, add_nics=[network], nic_type=nic_type, plan=plan)
