"""OVF properties of an OVF-imported image, set per node (vApp property edits in the clone)."""

from __future__ import annotations

from pathlib import Path

import spherekit
from spherekit.compute import Journal
from spherekit.compute.image_import import import_image
from spherekit.compute.nodes import list_nodes
from spherekit.compute.nodes_create import create_nodes
from spherekit.session import Session

OVA = Path(__file__).resolve().parents[1] / "sim" / "data" / "tiny.ova"


def test_nodes_get_their_own_ovf_property_values(session: Session, journal: Journal) -> None:
    image = import_image(session, OVA, journal=journal)
    nodes = create_nodes(
        session,
        image.ref,
        2,
        "ovfprops",
        ovf_properties={"hostname": "node-a"},
        wait_ip=False,
        power_on=False,
        journal=journal,
    )
    assert len(nodes) == 2 and len(list_nodes(session, "ovfprops")) == 2
    rows = dict(spherekit.fetch(session, "VirtualMachine", ["config.vAppConfig"]))
    for node in nodes:
        props = {
            p.id: p.value or p.defaultValue for p in rows[node.ref]["config.vAppConfig"].property
        }
        assert props["hostname"] == "node-a"  # edited per node
        assert props["mode"] == "dhcp"  # the OVF's default (ovf:value), carried from the image
    # the image keeps its own value
    vapp = rows[image.ref]["config.vAppConfig"]
    image_props = {p.id: p.value or p.defaultValue for p in vapp.property}
    assert image_props["hostname"] == "tiny"
