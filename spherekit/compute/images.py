"""Images: the templates nodes are cloned from.

An image is a VM marked as a template. :func:`list_images` lists them with one bulk read;
:func:`find_image` finds one by moref (``vm-42``), instance UUID or name — identity is the
moref / instance UUID; a name that matches more than one template is refused — and says
which names are close when nothing matches. :func:`mark_template` / :func:`unmark_template`
turn a VM into an image and back (journaled, with a plan form).

Linked clones need a snapshot of the image: vSphere cannot snapshot a template, so take the
snapshot while it is still a VM (powered off), then mark it as a template; nodes are then
linked to the image's *current* snapshot.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spherekit import vim
from spherekit.compute.journal import Journal
from spherekit.compute.ops import Operation
from spherekit.compute.placement import read_objects
from spherekit.errors import UsageError
from spherekit.property import fetch
from spherekit.schema.base import ManagedObject, MoRef

if TYPE_CHECKING:
    from spherekit.session import Session

__all__ = [
    "Image",
    "ImageNotFound",
    "find_image",
    "list_images",
    "mark_template",
    "unmark_template",
]

_LIGHT = ["name", "config.instanceUuid", "config.template"]
_DETAIL = [
    "name", "config.instanceUuid", "config.template", "config.hardware.numCPU",
    "config.hardware.memoryMB", "config.hardware.device", "config.guestId", "parent",
    "runtime.host", "runtime.powerState", "network", "snapshot", "config.vAppConfig",
]  # fmt: skip
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class ImageNotFound(UsageError):
    """No template matches the name, moref or instance UUID."""


@dataclass(frozen=True)
class Image:
    """A template (or, with ``templates_only=False``, any VM) and what cloning needs."""

    ref: MoRef
    name: str
    instance_uuid: str | None
    template: bool
    cpus: int | None = None
    memory_mb: int | None = None
    guest_id: str | None = None
    parent: MoRef | None = None
    host: MoRef | None = None
    power_state: str | None = None
    networks: tuple[MoRef, ...] = ()
    #: the current snapshot (linked clones are made from it)
    snapshot: MoRef | None = None
    #: the first virtual disk (key, capacity in bytes)
    disk_key: int | None = None
    disk_bytes: int | None = None
    devices: tuple[Any, ...] = field(default=(), repr=False)
    #: vApp (OVF) properties: id -> key
    ovf_properties: dict[str, int] = field(default_factory=dict)

    def nics(self) -> list[Any]:
        return [d for d in self.devices if isinstance(d, vim.VirtualEthernetCard)]


def _image(ref: MoRef, v: dict[str, Any]) -> Image:
    devices = tuple(v.get("config.hardware.device") or ())
    disk = next((d for d in devices if isinstance(d, vim.VirtualDisk)), None)
    disk_bytes = None
    if disk is not None:
        disk_bytes = int(disk.capacityInBytes or (disk.capacityInKB or 0) * 1024)
    snap = v.get("snapshot")
    vapp = v.get("config.vAppConfig")
    props = {p.id: p.key for p in (getattr(vapp, "property", None) or []) if p.id}
    state = v.get("runtime.powerState")
    return Image(
        ref=ref, name=str(v.get("name", ref.value)), instance_uuid=v.get("config.instanceUuid"),
        template=bool(v.get("config.template")), cpus=v.get("config.hardware.numCPU"),
        memory_mb=v.get("config.hardware.memoryMB"), guest_id=v.get("config.guestId"),
        parent=v.get("parent"), host=v.get("runtime.host"),
        power_state=str(getattr(state, "value", state)) if state is not None else None,
        networks=tuple(v.get("network") or ()),
        snapshot=getattr(snap, "currentSnapshot", None), disk_key=disk.key if disk else None,
        disk_bytes=disk_bytes, devices=devices, ovf_properties=props,
    )  # fmt: skip


def _details(session: Session, refs: list[MoRef]) -> list[Image]:
    rows = read_objects(session, "VirtualMachine", refs, _DETAIL)
    return [_image(r, rows[r]) for r in refs if r in rows]


def list_images(session: Session, *, all_vms: bool = False) -> list[Image]:
    """Every template (with ``all_vms``: every VM), sorted by name."""
    rows = fetch(session, "VirtualMachine", _LIGHT)
    refs = [r for r, v in rows if all_vms or v.get("config.template")]
    return sorted(_details(session, refs), key=lambda i: (i.name, i.ref.value))


def find_image(
    session: Session, image: str | MoRef | ManagedObject | Image, *, templates_only: bool = True
) -> Image:
    """The image named by ``image``: a moref (``vm-42``), an instance UUID, or a name."""
    if isinstance(image, Image):
        image = image.ref
    if isinstance(image, ManagedObject):
        image = image.ref
    if isinstance(image, MoRef):
        found = _details(session, [image]) if image.type == "VirtualMachine" else []
        if not found:
            raise ImageNotFound(f"image {image} does not exist (or is not a VM)")
        return _only_templates(found[0], templates_only)
    if not isinstance(image, str) or not image.strip():
        raise UsageError("an image is a template's name, moref (vm-42) or instance UUID")
    rows = fetch(session, "VirtualMachine", _LIGHT)
    wanted = image.strip()
    by_ref = [r for r, _ in rows if r.value == wanted]
    by_uuid = [r for r, v in rows if _UUID.fullmatch(wanted)
               and str(v.get("config.instanceUuid", "")).lower() == wanted.lower()]  # fmt: skip
    pool = [(r, v) for r, v in rows if v.get("config.template") or not templates_only]
    by_name = [r for r, v in pool if v.get("name") == wanted]
    hits = by_ref or by_uuid or by_name
    if len(hits) > 1:
        raise UsageError(
            f"{len(hits)} templates are named {wanted!r} ({', '.join(h.value for h in hits)}): "
            "name the one you mean by its moref or instance UUID"
        )
    if not hits:
        names = sorted({str(v.get("name")) for _, v in pool})
        close = difflib.get_close_matches(wanted, names, 3, 0.5)
        vm_named = any(v.get("name") == wanted for _, v in rows)
        why = (
            f"; {wanted!r} is a VM, not a template: mark it as one first (mark_template)"
            if vm_named and templates_only
            else ""
        )
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        shown = ", ".join(names[:15]) or "none"
        raise ImageNotFound(f"no image {wanted!r}{why}{hint} (images: {shown})")
    return _only_templates(_details(session, hits)[0], templates_only)


def _only_templates(image: Image, templates_only: bool) -> Image:
    if templates_only and not image.template:
        raise UsageError(
            f"{image.name} ({image.ref.value}) is a VM, not a template: mark it as one first "
            "(mark_template), or pass templates_only=False"
        )
    return image


def mark_template(
    session: Session,
    vm: str | MoRef | ManagedObject,
    *,
    journal: Journal | None = None,
    plan: bool = False,
) -> Operation:
    """Make a powered-off VM an image (MarkAsTemplate); already a template: nothing to do."""
    image = find_image(session, vm, templates_only=False)
    op = Operation(session, journal or Journal(), f"mark {image.name} as template", plan=plan)
    if image.template:
        return op
    if image.power_state != "poweredOff":
        raise UsageError(
            f"{image.name} is {image.power_state}: power it off before marking it as a template"
        )
    with op:
        op.write(image.ref, "MarkAsTemplate")
    return op


def unmark_template(
    session: Session,
    image: str | MoRef | ManagedObject | Image,
    *,
    pool: MoRef | None = None,
    host: MoRef | None = None,
    journal: Journal | None = None,
    plan: bool = False,
) -> Operation:
    """Turn an image back into a VM (MarkAsVirtualMachine) in ``pool`` (default: the root
    pool of its host's cluster or standalone host)."""
    img = find_image(session, image, templates_only=False)
    op = Operation(session, journal or Journal(), f"unmark template {img.name}", plan=plan)
    if not img.template:
        return op
    if pool is None:
        if img.host is None:
            raise UsageError(f"{img.name} has no host; pass pool= (a resource pool)")
        compute = read_objects(session, "HostSystem", [img.host], ["parent"])[img.host]["parent"]
        pool = read_objects(session, compute.type, [compute], ["resourcePool"])[compute][
            "resourcePool"
        ]
    with op:
        op.write(img.ref, "MarkAsVirtualMachine", pool=pool, host=host)
    return op
