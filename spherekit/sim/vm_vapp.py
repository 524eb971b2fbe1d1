"""A VM's vApp options (``config.vAppConfig``): OVF properties, products, IP assignment.

``VirtualMachineConfigSpec.vAppConfig`` (a ``VmConfigSpec``) is applied as vCenter applies
it: its ``property`` and ``product`` lists are ``ArrayUpdateSpec`` edits (``add`` with a new
key, ``edit`` of an existing key merging the fields given, ``remove`` by ``removeKey``), its
other fields replace the current ones; ``vAppConfigRemoved`` drops the vApp options.
Clones carry the source's vApp options and apply the clone spec's on top (OVF properties
set per clone, e.g. a hostname).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spherekit.sim import faults
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.schema.vim25 import data as d

__all__ = ["apply_vapp_config"]


def _edits(current: list[Any], specs: list[Any], what: str) -> list[Any]:
    items = {item.key: item for item in current}
    for i, s in enumerate(specs):
        path = f"vAppConfig.{what}[{i}]"
        op = str(s.operation)
        if op == "remove":
            if s.removeKey not in items:
                raise faults.invalid_argument(f"{path}.removeKey")
            del items[s.removeKey]
            continue
        info = s.info
        if info is None or info.key is None:
            raise faults.invalid_argument(f"{path}.info")
        if op == "add":
            if info.key in items:
                raise faults.invalid_argument(f"{path}.info.key")
            items[info.key] = info
        elif op == "edit":
            if info.key not in items:
                raise faults.invalid_argument(f"{path}.info.key")
            given = {k: v for k, v in info.__dict__.items() if v is not None}
            items[info.key] = clone(items[info.key], **given)
        else:
            raise faults.invalid_argument(f"{path}.operation")
    return list(items.values())


def apply_vapp_config(current: d.VmConfigInfo | None, spec: d.VmConfigSpec) -> d.VmConfigInfo:
    """``current`` with ``spec`` applied (a new value; ``current`` is not changed)."""
    from spherekit.schema.vim25 import data as d

    base = current or d.VmConfigInfo(
        ipAssignment=d.VAppIPAssignmentInfo(), installBootRequired=False, installBootStopDelay=0
    )
    changes: dict[str, Any] = {}
    if spec.property:
        changes["property"] = _edits(list(base.property or []), list(spec.property), "property")
    if spec.product:
        changes["product"] = _edits(list(base.product or []), list(spec.product), "product")
    for attr in ("ipAssignment", "eula", "ovfEnvironmentTransport", "installBootRequired",
                 "installBootStopDelay"):  # fmt: skip
        value = getattr(spec, attr)
        if value is not None:
            changes[attr] = value
    return clone(base, **changes)
