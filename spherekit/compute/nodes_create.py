"""create_nodes: N nodes from an image, in a group, with bounded parallelism.

Everything that can be checked is checked before the first write — the image, the size
(zero, negative or shrinking refused), the placement targets, the node names, the
cloud-init payload size, the customization, the OVF property ids — so bad input leaves
nothing behind. Then, in one :class:`~spherekit.compute.ops.Operation`:

1. the group folder is created if missing (undo: remove it again if still empty);
2. the clones are made, at most ``parallel`` at a time (undo: power off and destroy each);
3. the nodes are powered on;
4. the client waits, push-based, for each node's IP address (and for the outcome of the
   guest customization, if one was given: ``guest.customizationInfo`` on vSphere 7.0 U2
   and newer, else the customization events posted against the node — see
   :mod:`spherekit.compute.custom_events`).

Any failure undoes what was done, newest first, all journaled — except a node whose guest
customization failed: it is kept for diagnosis and reported (``OperationFailed.kept``, the
cause being :class:`~spherekit.compute.nodes.CustomizationFailed`), and journaled as a
``keep`` entry with the reason. With ``plan=True`` nothing is written and the result's
``planned`` lists the calls.

Linked clones are made from the image's current snapshot (see :mod:`.images` for why a
template must be snapshotted before it is marked as a template); their disk cannot grow.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from spherekit import vim
from spherekit.compute import sizes
from spherekit.compute.cloudinit import Customization, guestinfo
from spherekit.compute.endpoint import require_vcenter
from spherekit.compute.groups import ensure_group, folder_name, group_key
from spherekit.compute.images import Image, find_image
from spherekit.compute.journal import Journal
from spherekit.compute.nodes import (
    CustomizationFailed,
    Node,
    NodeList,
    destroy_vm,
    wait_guests,
)
from spherekit.compute.ops import Operation
from spherekit.compute.placement import (
    Placement,
    PlacementSpec,
    Target,
    read_inventory,
    read_objects,
    resolve,
)
from spherekit.errors import UsageError
from spherekit.property import fetch
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = ["create_nodes", "node_names"]


def node_names(key: str, count: int, taken: set[str]) -> list[str]:
    """``count`` names ``<key>-<n>`` (n from 1) that are not in ``taken``."""
    out: list[str] = []
    n = 0
    while len(out) < count:
        n += 1
        name = f"{key}-{n}"
        if name not in taken:
            out.append(name)
    return out


def _nic_change(session: Session, image: Image, network: MoRef, name: str) -> Any:
    nics = image.nics()
    if not nics:
        raise UsageError(f"image {image.name} has no network adapter to connect to {name}")
    nic = copy(nics[0])
    if network.type == "DistributedVirtualPortgroup":
        pg = read_objects(session, network.type, [network],
                          ["key", "config.distributedVirtualSwitch"])[network]  # fmt: skip
        dvs = pg["config.distributedVirtualSwitch"]
        uuid = read_objects(session, dvs.type, [dvs], ["uuid"])[dvs]["uuid"]
        nic.backing = vim.VirtualEthernetCardDistributedVirtualPortBackingInfo(
            port=vim.DistributedVirtualSwitchPortConnection(switchUuid=uuid, portgroupKey=pg["key"])
        )
    else:
        nic.backing = vim.VirtualEthernetCardNetworkBackingInfo(deviceName=name, network=network)
    return vim.VirtualDeviceConfigSpec(
        operation=vim.VirtualDeviceConfigSpecOperation.edit, device=nic
    )


def _ovf(image: Image, props: Mapping[str, str]) -> vim.VmConfigSpec:
    unknown = sorted(set(props) - set(image.ovf_properties))
    if unknown:
        known = ", ".join(sorted(image.ovf_properties)) or "none: it was not imported from an OVF"
        raise UsageError(f"image {image.name} has no OVF properties {unknown} (it has: {known})")
    return vim.VmConfigSpec(property=[
        vim.VAppPropertySpec(operation=vim.ArrayUpdateOperation.edit, info=vim.VAppPropertyInfo(
            key=image.ovf_properties[k], id=k, value=str(v)))
        for k, v in props.items()
    ])  # fmt: skip


def _disk_change(image: Image, capacity: int) -> Any:
    disk = copy(next(d for d in image.devices if isinstance(d, vim.VirtualDisk)))
    disk.capacityInBytes = capacity
    disk.capacityInKB = capacity // 1024
    return vim.VirtualDeviceConfigSpec(
        operation=vim.VirtualDeviceConfigSpecOperation.edit, device=disk
    )


def create_nodes(
    session: Session,
    image: str | MoRef | ManagedObject | Image,
    count: int,
    group: str,
    *,
    size: str | sizes.Size | Mapping[str, Any] | None = None,
    placement: PlacementSpec | None = None,
    linked: bool = False,
    network: Target = None,
    user_data: str | bytes | None = None,
    meta_data: str | bytes | Mapping[str, Any] | None = None,
    customization: Customization | vim.CustomizationSpec | None = None,
    ovf_properties: Mapping[str, str] | None = None,
    power_on: bool = True,
    wait_ip: bool = True,
    timeout: float = 600.0,
    parallel: int = 4,
    journal: Journal | None = None,
    plan: bool = False,
) -> NodeList:
    """Create ``count`` nodes of ``image`` in ``group``; see the module documentation."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UsageError(f"count must be a positive whole number, got {count!r}")
    if parallel < 1 or timeout <= 0:
        raise UsageError("parallel must be at least 1 and timeout positive")
    require_vcenter(session, "creating nodes (cloning)")
    key = group_key(group)
    img = find_image(session, image)
    want = sizes.size(size)
    disk = sizes.check(want, img.disk_bytes, linked=linked)
    if linked and img.snapshot is None:
        raise UsageError(
            f"image {img.name} has no snapshot to link clones to (vSphere cannot snapshot a "
            "template: unmark it, snapshot it powered off, mark it again) — or linked=False"
        )
    if isinstance(customization, Customization):
        customization.check(count)
    vapp = _ovf(img, ovf_properties) if ovf_properties else None
    inv = read_inventory(session)
    spec = placement or PlacementSpec()
    if network is not None:
        spec = replace(spec, network=network)
    where = resolve(inv, spec, image_parent=img.parent, image_networks=img.networks)
    taken = {str(v.get("name")) for _, v in fetch(session, "VirtualMachine", ["name"],
                                                  root=where.datacenter)}  # fmt: skip
    names = node_names(key, count, taken)
    changes: list[Any] = []
    if disk is not None:
        changes.append(_disk_change(img, disk))
    if "network" not in where.chosen and where.network is not None:
        changes.append(_nic_change(session, img, where.network, where.names["network"]))
    specs = []
    for i, name in enumerate(names):  # all checked (cloud-init size!) before any write
        config = vim.VirtualMachineConfigSpec(
            numCPUs=want.cpus, memoryMB=want.memory_mb, deviceChange=changes or None,
            extraConfig=guestinfo(name, user_data, meta_data) or None, vAppConfig=vapp,
        )  # fmt: skip
        custom = (
            customization.spec(i, name, count)
            if isinstance(customization, Customization)
            else customization
        )
        specs.append(vim.VirtualMachineCloneSpec(
            location=vim.VirtualMachineRelocateSpec(
                pool=where.pool, host=where.host, datastore=where.datastore,
                diskMoveType="createNewChildDiskBacking" if linked else None),
            template=False, powerOn=False, config=config, customization=custom,
            snapshot=img.snapshot if linked else None,
        ))  # fmt: skip
    op = Operation(session, journal or Journal(), f"create {count} node(s) in group {key}",
                   plan=plan)  # fmt: skip
    with op:
        folder, _created = ensure_group(op, group, where.folder)
        where = replace(where, folder=folder,
                        names={**where.names, "folder": folder_name(group)})  # fmt: skip
        refs = _clone_all(op, img, folder, names, specs, 1 if plan else parallel)
        if power_on:
            op.wait([op.start(r, "PowerOnVM_Task") for r in refs])
        guests: dict[MoRef, tuple[str | None, str | None]] = {}
        if power_on and (wait_ip or customization is not None) and not plan:
            guests = wait_guests(session, refs, timeout=timeout,
                                 customization=customization is not None,
                                 names=dict(zip(refs, names, strict=True)))  # fmt: skip
            failed = {n: g[1] for r, n in zip(refs, names, strict=True)
                      if (g := guests[r])[1] is not None}  # fmt: skip
            if failed:
                for r, n in zip(refs, names, strict=True):
                    if n in failed:
                        op.forget_undo(_undo_name(n, r))
                        op.keep(f"node {n} ({r.value}): guest customization failed")
                        why = f"guest customization failed: {failed[n]}"
                        op.journal.record(op.name, "keep", r, {"node": n}, "kept", detail=why)
                raise CustomizationFailed(failed)
    return NodeList(_results(session, refs, names, key, where, guests, plan),
                    planned=op.planned, placement=where)  # fmt: skip


def _undo_name(name: str, ref: MoRef) -> str:
    return f"destroy node {name} ({ref.value})"


def _clone_all(
    op: Operation,
    img: Image,
    folder: MoRef,
    names: Sequence[str],
    specs: Sequence[vim.VirtualMachineCloneSpec],
    parallel: int,
) -> list[MoRef]:
    """Clone with at most ``parallel`` tasks running; stop starting new ones on a failure."""
    results: list[MoRef | None] = [None] * len(names)
    stop = threading.Event()

    def one(i: int) -> None:
        if stop.is_set():
            return
        try:
            ref = op.write(img.ref, "CloneVM_Task", folder=folder, name=names[i], spec=specs[i])
        except BaseException:
            stop.set()
            raise
        results[i] = ref
        if ref is not None:
            op.on_undo(_undo_name(names[i], ref), lambda: _undo_destroy(op, ref))

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="clone") as pool:
        futures = [pool.submit(one, i) for i in range(len(names))]
    for f in futures:
        e = f.exception()
        if e is not None:
            raise e
    return [r for r in results if r is not None]


def _undo_destroy(op: Operation, ref: MoRef) -> None:
    destroy_vm(op, ref)


def _results(
    session: Session,
    refs: list[MoRef],
    names: list[str],
    key: str,
    where: Placement,
    guests: dict[MoRef, tuple[str | None, str | None]],
    plan: bool,
) -> list[Node]:
    rows = {} if plan else read_objects(session, "VirtualMachine", refs, [
        "config.instanceUuid", "runtime.powerState", "config.hardware.numCPU",
        "config.hardware.memoryMB"])  # fmt: skip
    out = []
    for ref, name in zip(refs, names, strict=True):
        v = rows.get(ref, {})
        state = v.get("runtime.powerState")
        out.append(Node(
            ref=ref, name=name, instance_uuid=v.get("config.instanceUuid"),
            ip=guests.get(ref, (None, None))[0],
            power_state=str(getattr(state, "value", state)) if state is not None else None,
            cpus=v.get("config.hardware.numCPU"), memory_mb=v.get("config.hardware.memoryMB"),
            group=key, placement=where,
        ))  # fmt: skip
    return out
