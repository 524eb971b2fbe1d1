"""ResourcePool.ImportVApp and VirtualMachine.ExportVm: the SOAP side of OVF transfers.

ImportVApp creates the VM of a ``VirtualMachineImportSpec`` (through CreateVM's
:func:`~spherekit.sim.vm_spec.create_vm`, with its events), powered off, with the
lease-held methods in ``disabledMethod``, and returns an import HttpNfcLease with one
device URL per disk (``importKey`` = the CreateImportSpec file item's ``deviceId``).
Completing the lease makes the VM a normal VM; aborting it, or letting it time out,
removes the VM and its files, as vCenter does. ExportVm needs a powered-off VM
(``InvalidPowerState``) and returns an export lease with one device URL per disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.managed_entity import ancestor
from spherekit.sim.methods import handler
from spherekit.sim.nfc import Transfer, leases_of
from spherekit.sim.ovf_writer import export_disks
from spherekit.sim.values import clone

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["LEASED_METHODS", "export_vm", "import_vapp"]

#: methods vCenter disables on a VM while an import lease holds it
LEASED_METHODS = [
    "PowerOnVM_Task", "PowerOffVM_Task", "ResetVM_Task", "SuspendVM_Task", "Destroy_Task",
    "UnregisterVM", "ReconfigVM_Task", "RelocateVM_Task", "MigrateVM_Task", "CloneVM_Task",
    "CreateSnapshot_Task", "MarkAsTemplate", "ExportVm",
]  # fmt: skip


def _datastore_key(ctx: Context, ds: MoRef | None) -> str:
    summary = ctx.registry.prop(ds, "summary") if ds is not None and ds in ctx.registry else None
    return str(getattr(summary, "url", "") or "")


def _transfers(ctx: Context, vm: MoRef, entity_name: str | None) -> list[Transfer]:
    devices = list(ctx.registry.prop(vm, "config").hardware.device or [])
    out = []
    for x in export_disks(vm, devices):
        import_key = ""
        if entity_name is not None:
            import_key = f"/{entity_name}/{x.key.split('/', 2)[2]}"
        out.append(
            Transfer(
                key=x.key,
                import_key=import_key,
                target=x.target,
                file_name=x.file_name,
                capacity_kb=int(x.disk.capacityInKB or 0),
                datastore_key=_datastore_key(ctx, getattr(x.disk.backing, "datastore", None)),
            )
        )
    return out


@handler("ResourcePool", "ImportVApp")
def import_vapp(
    ctx: Context,
    this: MoRef,
    *,
    spec: d.ImportSpec,
    folder: MoRef | None = None,
    host: MoRef | None = None,
) -> MoRef:
    from spherekit.sim.vm_remove import remove_vm
    from spherekit.sim.vm_spec import create_vm, resolve_target

    reg = ctx.registry
    if not isinstance(spec, d.VirtualMachineImportSpec):
        raise faults.not_supported(
            f"importing a {type(spec).__name__} (a vApp) is not simulated by spherekit.sim"
        )
    for ref in (folder, host):
        if ref is not None and not ctx.visible(ref):
            raise faults.not_found(ref)
    if this.type == "VirtualApp" and folder is not None:
        raise faults.invalid_argument("folder", "a vApp holds the VMs it imports")
    if folder is None:
        dc = ancestor(reg, this, "Datacenter")
        if dc is None:
            raise faults.invalid_argument("pool")
        folder = reg.prop(dc, "vmFolder")
        assert folder is not None
    config = spec.configSpec
    target = resolve_target(ctx, folder, this, host)
    chain = ctx.backend.events.next_key()
    vm = create_vm(ctx, target, clone(config, vAppConfig=None), chain=chain)
    changes: dict[str, object] = {"disabledMethod": LEASED_METHODS}
    vapp = config.vAppConfig
    if vapp is not None:
        changes["config.vAppConfig"] = d.VmConfigInfo(
            product=[p.info for p in vapp.product or [] if p.info is not None] or None,
            property=[p.info for p in vapp.property or [] if p.info is not None] or None,
            ipAssignment=vapp.ipAssignment or d.VAppIPAssignmentInfo(),
            eula=vapp.eula,
            ovfEnvironmentTransport=vapp.ovfEnvironmentTransport,
            installBootRequired=bool(vapp.installBootRequired),
            installBootStopDelay=vapp.installBootStopDelay or 0,
        )
    reg.update(vm, changes)
    entity_name = reg.prop(vm, "name")

    def done(c: Context) -> None:
        if vm in c.registry:
            c.registry.update(vm, {"disabledMethod": None})

    def failed(c: Context) -> None:
        if vm in c.registry:
            remove_vm(c, vm, chain=c.backend.events.next_key(), delete_files=True)

    transfers = _transfers(ctx, vm, entity_name)
    return leases_of(ctx.backend).create(
        ctx, "import", vm, transfers, on_done=done, on_error=failed
    )


@handler("VirtualMachine", "ExportVm")
def export_vm(ctx: Context, this: MoRef) -> MoRef:
    reg = ctx.registry
    runtime = reg.prop(this, "runtime")
    if runtime.powerState != "poweredOff":
        raise faults.invalid_power_state("poweredOff", runtime.powerState)
    if "ExportVm" in (reg.prop(this, "disabledMethod") or []):
        raise faults.with_msg(d.InvalidState(), "The VM is being imported.")
    return leases_of(ctx.backend).create(ctx, "export", this, _transfers(ctx, this, None))
