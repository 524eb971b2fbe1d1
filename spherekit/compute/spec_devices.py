"""Device changes for VM documents: the devices of a new VM, and the diff for an existing one.

Devices of the document are matched to the VM's by label (``Hard disk 1``), else by
position among the devices of their kind. Disks grow (a smaller size is refused before
anything is written), move to the datastore the document names (collected in
:attr:`Devices.moves` for a ``RelocateVM_Task``), and are removed with their files when
the VM has them and the document does not list them — only when asked (``prune``), since
that destroys data; without it such a disk is refused before anything is written. NICs are
added, removed, moved to another network, or replaced when their adapter type changes; a
CD-ROM's ISO is changed. New controllers are added when a device names one the VM does
not have.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from spherekit.compute.spec_doc import Cdrom, Disk, Nic, SpecError, VmDoc
from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as v
from spherekit.schema.vim25 import enums as en

if TYPE_CHECKING:
    from spherekit.compute.spec_apply import Change
    from spherekit.compute.spec_place import Resolved

__all__ = ["Devices", "build_create_devices"]

_CTL_CLASSES: dict[str, type[v.VirtualController]] = {
    "pvscsi": v.ParaVirtualSCSIController,
    "lsilogic": v.VirtualLsiLogicController,
    "lsilogic-sas": v.VirtualLsiLogicSASController,
    "buslogic": v.VirtualBusLogicController,
    "ide": v.VirtualIDEController,
    "sata": v.VirtualAHCIController,
    "nvme": v.VirtualNVMEController,
}
_NIC_CLASSES: dict[str, type[v.VirtualEthernetCard]] = {
    "vmxnet3": v.VirtualVmxnet3,
    "vmxnet2": v.VirtualVmxnet2,
    "vmxnet": v.VirtualVmxnet,
    "e1000": v.VirtualE1000,
    "e1000e": v.VirtualE1000e,
    "pcnet32": v.VirtualPCNet32,
    "sriov": v.VirtualSriovEthernetCard,
}
_UNITS = {"ide": 2, "sata": 30, "nvme": 15}
Op = en.VirtualDeviceConfigSpecOperation
T = TypeVar("T")
D = TypeVar("D", bound=v.VirtualDevice)


def _spec(op: str, dev: v.VirtualDevice, create: bool = False) -> v.VirtualDeviceConfigSpec:
    return v.VirtualDeviceConfigSpec(
        operation=Op(op),
        device=dev,
        fileOperation=en.VirtualDeviceConfigSpecFileOperation.create if create else None,
    )


class _Controllers:
    """Controllers by ``kind:bus``, the units they have taken, and new ones to add."""

    def __init__(self, devices: Sequence[v.VirtualDevice], specs: list[v.VirtualDeviceConfigSpec]):
        from spherekit.compute.spec import controller_kind

        self.specs = specs
        self.keys: dict[str, int] = {}
        self.used: dict[int, set[int]] = {}
        for d in devices:
            kind = controller_kind(d)
            if kind is not None:
                self.keys[f"{kind}:{getattr(d, 'busNumber', 0)}"] = d.key
        for d in devices:
            if d.controllerKey is not None and d.unitNumber is not None:
                self.used.setdefault(d.controllerKey, set()).add(d.unitNumber)
        self._next = -100

    def key(self, name: str) -> int:
        if name not in self.keys:
            kind, _, bus = name.partition(":")
            if kind == "ide":
                raise SpecError(
                    f"controller {name}: the VM has no such IDE controller "
                    "(VMs have ide:0 and ide:1)"
                )
            extra: dict[str, Any] = {}
            if issubclass(_CTL_CLASSES[kind], v.VirtualSCSIController):
                extra["sharedBus"] = en.VirtualSCSISharing.noSharing
            ctl = _CTL_CLASSES[kind](key=self._next, busNumber=int(bus), **extra)
            self._next -= 1
            self.specs.append(_spec("add", ctl))
            self.keys[name] = ctl.key
        return self.keys[name]

    def unit(self, name: str, key: int, wanted: int | None) -> int:
        kind = name.partition(":")[0]
        free = [u for u in range(_UNITS.get(kind, 16)) if u != 7 or kind in _UNITS]
        used = self.used.setdefault(key, set())
        if wanted is not None:
            if wanted in used or wanted not in free:
                raise SpecError(f"unit {wanted} of controller {name} is taken or does not exist")
            used.add(wanted)
            return wanted
        for u in free:
            if u not in used:
                used.add(u)
                return u
        raise SpecError(f"controller {name} is full; name another controller in the document")


def _disk(d: Disk, where: Resolved, ctls: _Controllers, key: int) -> v.VirtualDisk:
    if d.datastore is not None and not where.has_datastore(d.datastore):
        raise SpecError(
            f"disk {d.label or ''}: no datastore named {d.datastore!r} "
            f"(there: {', '.join(where.datastores())})"
        )
    name = d.controller or "pvscsi:0"
    ctl = ctls.key(name)
    backing = v.VirtualDiskFlatVer2BackingInfo(
        fileName=f"[{d.datastore}]" if d.datastore else "",
        diskMode="persistent",
        thinProvisioned=None if d.provisioning is None else d.provisioning == "thin",
        eagerlyScrub=None if d.provisioning is None else d.provisioning == "eagerZeroedThick",
    )
    return v.VirtualDisk(
        key=key,
        controllerKey=ctl,
        unitNumber=ctls.unit(name, ctl, d.unit),
        capacityInKB=d.capacity_kb,
        capacityInBytes=d.capacity_kb * 1024,
        backing=backing,
    )


def _nic(n: Nic, where: Resolved, key: int, label: str) -> v.VirtualEthernetCard:
    cls = _NIC_CLASSES[n.adapter or "vmxnet3"]
    return cls(
        key=key,
        backing=where.backing(n.network, label),
        addressType="manual" if n.mac else "generated",
        macAddress=n.mac,
        connectable=v.VirtualDeviceConnectInfo(
            startConnected=True, allowGuestControl=True, connected=False
        ),
    )


def _cd_backing(c: Cdrom) -> v.VirtualDeviceBackingInfo:
    if c.iso:
        return v.VirtualCdromIsoBackingInfo(fileName=c.iso)
    return v.VirtualCdromRemotePassthroughBackingInfo(deviceName="", exclusive=False)


def _cdrom(c: Cdrom, ctls: _Controllers, key: int) -> v.VirtualCdrom:
    name = c.controller or "ide:0"
    ctl = ctls.key(name)
    return v.VirtualCdrom(
        key=key,
        controllerKey=ctl,
        unitNumber=ctls.unit(name, ctl, c.unit),
        backing=_cd_backing(c),
        connectable=v.VirtualDeviceConnectInfo(
            startConnected=True, allowGuestControl=True, connected=False
        ),
    )


def build_create_devices(doc: VmDoc, where: Resolved) -> list[v.VirtualDeviceConfigSpec]:
    """The deviceChange of a CreateVM_Task: controllers, disks, NICs and CD-ROMs."""
    specs: list[v.VirtualDeviceConfigSpec] = []
    # a new VM has IDE controllers 200 and 201, as vCenter gives every VM
    ctls = _Controllers([v.VirtualIDEController(key=200 + b, busNumber=b) for b in (0, 1)], specs)
    for i, d in enumerate(doc.disks or ()):
        specs.append(_spec("add", _disk(d, where, ctls, -1 - i), create=True))
    for i, n in enumerate(doc.nics or ()):
        specs.append(_spec("add", _nic(n, where, -300 - i, f"nics[{i}]")))
    for i, c in enumerate(doc.cdroms or ()):
        specs.append(_spec("add", _cdrom(c, ctls, -400 - i)))
    return specs


def _match(
    wanted: Sequence[T], have: Sequence[D], label: Callable[[T], str | None]
) -> tuple[list[tuple[T, D | None]], list[D]]:
    """Pairs (document item, device or None), and the devices nothing matched."""
    taken: set[int] = set()
    pairs: list[tuple[T, D | None]] = []
    for i, w in enumerate(wanted):
        lab = label(w)
        if lab:  # the first free device with that label (labels repeat on some servers)
            dev = next((d for d in have if _label(d) == lab and d.key not in taken), None)
        else:
            dev = have[i] if i < len(have) and have[i].key not in taken else None
        if dev is not None:
            taken.add(dev.key)
        pairs.append((w, dev))
    return pairs, [d for d in have if d.key not in taken]


class Devices:
    """The device diff of an existing VM against a document."""

    def __init__(
        self, config: v.VirtualMachineConfigInfo, objs: dict[MoRef, dict[str, Any]], where: Resolved
    ) -> None:
        self.devices = list(config.hardware.device or [])
        self.objs = objs
        self.where = where
        #: disks to move: (the disk, the datastore it goes to)
        self.moves: list[tuple[v.VirtualDisk, MoRef]] = []
        #: keys of the disks removed (pruned)
        self.removed: set[int] = set()
        #: device changes a powered-on VM refuses (why, for the message)
        self.cold: list[str] = []

    def disk_datastore(self, disk: v.VirtualDisk) -> tuple[MoRef | None, str | None]:
        """The datastore a disk is on: (reference, name)."""
        b = disk.backing
        ref = b.datastore if isinstance(b, v.VirtualDeviceFileBackingInfo) else None
        name = self.objs.get(ref, {}).get("name") if ref is not None else None
        if name is None and isinstance(b, v.VirtualDeviceFileBackingInfo) and b.fileName:
            name = b.fileName.partition("]")[0].lstrip("[") or None
        return ref, str(name) if name is not None else None

    def _disks(
        self,
        doc: VmDoc,
        ctls: _Controllers,
        specs: list[v.VirtualDeviceConfigSpec],
        changes: list[Change],
        prune: bool,
    ) -> None:
        from spherekit.compute.spec_apply import Change

        assert doc.disks is not None
        pairs, extra = _match(doc.disks, self._kind(v.VirtualDisk), lambda d: d.label)
        for i, (want, disk) in enumerate(pairs):
            field = f"disks[{want.label or i}]"
            if disk is None:
                changes.append(Change(field, None, f"{want.sizeGB} GB"))
                specs.append(_spec("add", _disk(want, self.where, ctls, -1 - i), True))
                continue
            kb = disk.capacityInKB or (disk.capacityInBytes or 0) // 1024
            if want.capacity_kb < kb:
                raise SpecError(
                    f"{field}.sizeGB: {want.sizeGB} GB is smaller than the disk "
                    f"({kb / 1048576:g} GB); disks only grow (vSphere cannot "
                    "shrink a virtual disk)"
                )
            if want.capacity_kb > kb:
                changes.append(Change(f"{field}.sizeGB", _gb(kb), want.sizeGB))
                grown = _with(
                    disk, capacityInKB=want.capacity_kb, capacityInBytes=want.capacity_kb * 1024
                )
                specs.append(_spec("edit", grown))
            _ref, current = self.disk_datastore(disk)
            if want.datastore is not None and want.datastore != current:
                target = self.where.datastore_ref(want.datastore, f"{field}.datastore")
                changes.append(Change(f"{field}.datastore", current, want.datastore))
                self.moves.append((disk, target))
        if not extra:
            return
        if not prune:
            listed = ", ".join(f"{_label(d)!r} ({self._size(d)})" for d in extra)
            raise SpecError(
                f"the VM has disk(s) the document does not list: {listed}. Removing a disk "
                "destroys its data, so apply does not unless asked: list the disk(s) in "
                "disks to keep them, or set pruneDisks: true in the document (prune=True "
                "in Python) to remove them"
            )
        for d in extra:
            changes.append(Change(f"disks[{_label(d)}]", self._size(d), None))
            spec = _spec("remove", d)
            spec.fileOperation = en.VirtualDeviceConfigSpecFileOperation.destroy
            specs.append(spec)
            self.removed.add(d.key)
            ctl = next((c for c in self.devices if c.key == d.controllerKey), None)
            if isinstance(ctl, v.VirtualIDEController):
                self.cold.append(f"removing disk {_label(d)!r} from an IDE controller")

    def _size(self, disk: v.VirtualDisk) -> str:
        kb = disk.capacityInKB or (disk.capacityInBytes or 0) // 1024
        _ref, ds = self.disk_datastore(disk)
        return f"{_gb(kb)} GB" + (f" on {ds}" if ds else "")

    def _kind(self, cls: type[D]) -> list[D]:
        return [d for d in self.devices if isinstance(d, cls)]

    def diff(
        self, doc: VmDoc, changes: list[Change], *, prune: bool = False
    ) -> list[v.VirtualDeviceConfigSpec]:
        """The deviceChange that makes the VM's devices the document's; differences are
        appended to ``changes``, disk moves collected in :attr:`moves`."""
        from spherekit.compute.spec_apply import Change

        specs: list[v.VirtualDeviceConfigSpec] = []
        ctls = _Controllers(self.devices, specs)
        if doc.disks is not None:
            self._disks(doc, ctls, specs, changes, prune or doc.pruneDisks)
        if doc.nics is not None:
            self._nics(doc.nics, specs, changes)
        if doc.cdroms is not None:
            pairs_cd, _ = _match(doc.cdroms, self._kind(v.VirtualCdrom), lambda c: c.label)
            for i, (cd, dev) in enumerate(pairs_cd):
                if dev is None:
                    changes.append(Change(f"cdroms[{cd.label or i}]", None, cd.iso or "client"))
                    specs.append(_spec("add", _cdrom(cd, ctls, -400 - i)))
                    continue
                iso = getattr(dev.backing, "fileName", None)
                if (isinstance(dev.backing, v.VirtualCdromIsoBackingInfo) and iso == cd.iso) or (
                    cd.iso is None and not isinstance(dev.backing, v.VirtualCdromIsoBackingInfo)
                ):
                    continue
                changes.append(Change(f"cdroms[{cd.label or i}].iso", iso, cd.iso))
                new = _with(dev, backing=_cd_backing(cd))
                specs.append(_spec("edit", new))
        return specs

    def _nics(
        self, nics: list[Nic], specs: list[v.VirtualDeviceConfigSpec], changes: list[Change]
    ) -> None:
        from spherekit.compute.spec import network_name, nic_adapter
        from spherekit.compute.spec_apply import Change

        names = {r: str(p["name"]) for r, p in self.objs.items() if "name" in p}
        pgs = {str(p["key"]): names.get(r) for r, p in self.objs.items() if "key" in p}
        pairs, extra = _match(nics, self._kind(v.VirtualEthernetCard), lambda n: n.label)
        for i, (want, nic) in enumerate(pairs):
            field = f"nics[{want.label or i}]"
            if nic is not None and want.adapter and nic_adapter(nic) != want.adapter:
                changes.append(Change(f"{field}.adapter", nic_adapter(nic), want.adapter))
                specs.append(_spec("remove", nic))
                nic = None
            if nic is None:
                changes.append(Change(field, None, want.network))
                specs.append(_spec("add", _nic(want, self.where, -300 - i, field)))
                continue
            current = network_name(nic.backing, names, pgs)
            edits: dict[str, Any] = {}
            if current != want.network:
                changes.append(Change(f"{field}.network", current, want.network))
                edits["backing"] = self.where.backing(want.network, field)
            if want.mac and want.mac.lower() != (nic.macAddress or "").lower():
                changes.append(Change(f"{field}.mac", nic.macAddress, want.mac))
                edits |= {"macAddress": want.mac, "addressType": "manual"}
            if edits:
                specs.append(_spec("edit", _with(nic, **edits)))
        for nic in extra:
            changes.append(
                Change(f"nics[{_label(nic)}]", network_name(nic.backing, names, pgs), None)
            )
            specs.append(_spec("remove", nic))


def _gb(kb: int) -> float:
    gb = kb / 1048576
    return int(gb) if gb == int(gb) else gb


def _with(dev: D, **changes: Any) -> D:
    new = copy.copy(dev)
    for k, x in changes.items():
        setattr(new, k, x)
    return new


def _label(d: v.VirtualDevice) -> str:
    return d.deviceInfo.label if d.deviceInfo is not None and d.deviceInfo.label else str(d.key)
