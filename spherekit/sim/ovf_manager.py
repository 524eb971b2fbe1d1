"""OvfManager: ParseDescriptor, CreateImportSpec, CreateDescriptor, ValidateHost.

Problems with the OVF package itself are reported the way vCenter reports them: in the
result's ``error`` list, as OVF faults with line numbers (see :mod:`spherekit.sim.ovf`),
not as a SOAP fault. Wrong arguments (an object that does not exist, a VM to describe that
is not a VM) are SOAP faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.schema.vim25 import data as d
from spherekit.sim import faults
from spherekit.sim.methods import handler
from spherekit.sim.ovf import (
    Envelope,
    OvfProblem,
    localized,
    parse,
    product_info,
    property_infos,
)
from spherekit.sim.ovf_import_spec import PROVISIONING, ImportSpecBuilder
from spherekit.sim.ovf_writer import describe

if TYPE_CHECKING:
    from spherekit.sim.backend import Context

__all__ = ["create_descriptor", "create_import_spec", "parse_descriptor", "validate_host"]


def _sizes(env: Envelope) -> tuple[int, int, int]:
    """(download, flat deployment, sparse deployment) sizes in bytes."""
    download = sum(f.size or 0 for f in env.files)
    flat = sum(x.capacity for x in env.disks)
    sparse = 0
    for x in env.disks:
        f = env.file(x.file_ref) if x.file_ref else None
        sparse += x.populated_size or (f.size if f is not None and f.size else 0)
    return download, flat, sparse


def _check(ctx: Context, *refs: MoRef) -> None:
    for ref in refs:
        if not ctx.visible(ref):
            raise faults.not_found(ref)


@handler("OvfManager", "ParseDescriptor")
def parse_descriptor(
    ctx: Context, this: MoRef, *, ovfDescriptor: str, pdp: d.OvfParseDescriptorParams
) -> d.OvfParseDescriptorResult:
    try:
        env = parse(ovfDescriptor)
    except OvfProblem as problem:
        return d.OvfParseDescriptorResult(
            annotation="",
            defaultEntityName="",
            virtualApp=False,
            defaultDeploymentOption="",
            error=[localized(problem.fault)],
        )
    download, flat, sparse = _sizes(env)
    info = product_info(env.products[0], 0) if env.products else None
    return d.OvfParseDescriptorResult(
        eula=env.eula or None,
        network=[d.OvfNetworkInfo(name=n, description=text) for n, text in env.networks] or None,
        ipAllocationScheme=env.ip_schemes or None,
        ipProtocols=env.ip_protocols or None,
        property=property_infos(env) or None,
        productInfo=info,
        annotation=env.annotation,
        approximateDownloadSize=download,
        approximateFlatDeploymentSize=flat,
        approximateSparseDeploymentSize=sparse,
        defaultEntityName=env.system_name,
        virtualApp=env.virtual_app,
        deploymentOption=[
            d.OvfDeploymentOption(key=k, label=label, description=text)
            for k, label, text, _default in env.options
        ]
        or None,
        defaultDeploymentOption=env.default_option,
        entityName=[d.KeyValue(key=env.system_id, value=env.system_name)],
    )


@handler("OvfManager", "CreateImportSpec")
def create_import_spec(
    ctx: Context,
    this: MoRef,
    *,
    ovfDescriptor: str,
    resourcePool: MoRef,
    datastore: MoRef,
    cisp: d.OvfCreateImportSpecParams,
) -> d.OvfCreateImportSpecResult:
    _check(ctx, resourcePool, datastore, *([cisp.hostSystem] if cisp.hostSystem else []))
    try:
        env = parse(ovfDescriptor)
        if env.virtual_app:
            raise OvfProblem(
                faults.with_msg(
                    d.OvfUnsupportedSection(
                        lineNumber=0, name="VirtualSystemCollection", info="vApp"
                    ),
                    "Importing a vApp (VirtualSystemCollection) is not simulated by spherekit.sim.",
                )
            )
        builder = ImportSpecBuilder(ctx.registry, env, resourcePool, datastore, cisp)
        spec, files = builder.build(cisp.entityName or env.system_name)
    except OvfProblem as problem:
        return d.OvfCreateImportSpecResult(error=[localized(problem.fault)])
    if builder.errors:
        return d.OvfCreateImportSpecResult(
            error=[localized(f) for f in builder.errors],
            warning=[localized(f) for f in builder.warnings] or None,
        )
    return d.OvfCreateImportSpecResult(
        importSpec=spec,
        fileItem=files or None,
        warning=[localized(f) for f in builder.warnings] or None,
    )


@handler("OvfManager", "ValidateHost")
def validate_host(
    ctx: Context,
    this: MoRef,
    *,
    ovfDescriptor: str,
    host: MoRef,
    vhp: d.OvfValidateHostParams,
) -> d.OvfValidateHostResult:
    _check(ctx, host)
    try:
        env = parse(ovfDescriptor)
    except OvfProblem as problem:
        return d.OvfValidateHostResult(error=[localized(problem.fault)])
    download, flat, sparse = _sizes(env)
    errors: list[d.LocalizedMethodFault] = []
    if env.networks and not ctx.registry.prop(host, "network"):
        fault = faults.with_msg(d.OvfNoHostNic(), "Host did not have any virtual network defined.")
        errors.append(localized(fault))
    return d.OvfValidateHostResult(
        downloadSize=download,
        flatDeploymentSize=flat,
        sparseDeploymentSize=sparse,
        error=errors or None,
        supportedDiskProvisioning=PROVISIONING,
    )


@handler("OvfManager", "CreateDescriptor")
def create_descriptor(
    ctx: Context, this: MoRef, *, obj: MoRef, cdp: d.OvfCreateDescriptorParams
) -> d.OvfCreateDescriptorResult:
    _check(ctx, obj)
    if obj.type != "VirtualMachine":
        raise faults.not_supported(
            f"CreateDescriptor of a {obj.type} is not simulated by spherekit.sim (VMs only)"
        )
    if cdp.snapshot is not None:
        raise faults.not_supported("cdp.snapshot is not implemented by spherekit.sim")
    from spherekit.sim.nfc import disk_sizes

    descriptor = describe(ctx.registry, obj, cdp, disk_sizes(ctx, obj))
    return d.OvfCreateDescriptorResult(
        ovfDescriptor=descriptor, includeImageFiles=bool(cdp.includeImageFiles) or None
    )
