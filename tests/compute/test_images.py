"""Images: list, find (moref, instance UUID, name; close names on a miss), mark / unmark."""

from __future__ import annotations

import pytest

import spherekit
from spherekit import find, vim
from spherekit.compute import Journal
from spherekit.compute.images import (
    ImageNotFound,
    find_image,
    list_images,
    mark_template,
    unmark_template,
)
from spherekit.errors import UsageError
from spherekit.session import Session


def _off(session: Session, name: str) -> spherekit.MoRef:
    vm = find.by_path(session, f"/DC0/vm/{name}")
    spherekit.wait_for_task(session, session.call(vm, "PowerOffVM_Task"))
    return vm


def test_mark_list_find_and_unmark(session: Session, journal: Journal) -> None:
    assert list_images(session) == []
    vm = _off(session, "DC0_H0_VM1")
    mark_template(session, "DC0_H0_VM1", journal=journal)
    mark_template(session, vm, journal=journal)  # already one: nothing to do
    (image,) = list_images(session)
    assert (image.ref, image.template, image.disk_bytes) == (vm, True, 1024**3)
    assert find_image(session, "DC0_H0_VM1").ref == vm
    assert find_image(session, vm.value).ref == vm
    assert find_image(session, str(image.instance_uuid).upper()).ref == vm
    assert find_image(session, vm).name == "DC0_H0_VM1"
    assert len(list_images(session, all_vms=True)) == 4
    unmark_template(session, image, journal=journal)
    assert list_images(session) == []
    assert [(e.method, e.outcome) for e in journal.entries()] == [
        ("MarkAsTemplate", "ok"),
        ("MarkAsVirtualMachine", "ok"),
    ]


def test_a_miss_names_close_images(session: Session) -> None:
    _off(session, "DC0_H0_VM1")
    mark_template(session, "DC0_H0_VM1")
    with pytest.raises(ImageNotFound, match=r"did you mean DC0_H0_VM1\?.*images: DC0_H0_VM1"):
        find_image(session, "DC0_H0_VM2")
    with pytest.raises(UsageError, match="is a VM, not a template"):
        find_image(session, "DC0_H0_VM0")
    with pytest.raises(ImageNotFound):
        find_image(session, spherekit.MoRef("VirtualMachine", "vm-999"))
    assert find_image(session, "DC0_H0_VM0", templates_only=False).template is False


def test_two_templates_of_one_name_are_ambiguous(session: Session) -> None:
    vm = _off(session, "DC0_H0_VM1")
    session.call(vm, "MarkAsTemplate")
    other = session.call(find.by_path(session, "/DC0/vm"), "CreateFolder", name="other")
    spec = vim.VirtualMachineCloneSpec(
        location=vim.VirtualMachineRelocateSpec(), template=True, powerOn=False
    )
    task = session.call(vm, "CloneVM_Task", folder=other, name="DC0_H0_VM1", spec=spec)
    twin = spherekit.wait_for_task(session, task)
    with pytest.raises(UsageError, match="name the one you mean by its moref"):
        find_image(session, "DC0_H0_VM1")
    assert find_image(session, twin.value).ref == twin


def test_marking_needs_a_powered_off_vm_and_plans(session: Session, journal: Journal) -> None:
    with pytest.raises(UsageError, match="power it off"):
        mark_template(session, "DC0_H0_VM0", journal=journal)
    _off(session, "DC0_H0_VM0")
    op = mark_template(session, "DC0_H0_VM0", journal=journal, plan=True)
    assert [c.method for c in op.planned] == ["MarkAsTemplate"]
    assert list_images(session) == []
