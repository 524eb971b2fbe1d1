"""ServiceInstance: the ServiceContent (with ``about``) and the server clock.

Every manager the ServiceContent names exists as an object, so a call to a method the
simulator does not implement answers ``MethodNotFound`` rather than ``ManagedObjectNotFound``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema.base import MoRef
from spherekit.sim.methods import computed, handler

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import AboutInfo, ServiceContent
    from spherekit.sim.backend import Backend, Context

__all__ = ["SERVICE_INSTANCE", "about", "install"]

SERVICE_INSTANCE = MoRef("ServiceInstance", "ServiceInstance")

#: ServiceContent field -> (managed type, moref value) as vCenter names them
MANAGERS: dict[str, tuple[str, str]] = {
    "propertyCollector": ("PropertyCollector", "propertyCollector"),
    "viewManager": ("ViewManager", "ViewManager"),
    "setting": ("OptionManager", "VpxSettings"),
    "userDirectory": ("UserDirectory", "UserDirectory"),
    "sessionManager": ("SessionManager", "SessionManager"),
    "authorizationManager": ("AuthorizationManager", "AuthorizationManager"),
    "serviceManager": ("ServiceManager", "ServiceMgr"),
    "perfManager": ("PerformanceManager", "PerfMgr"),
    "scheduledTaskManager": ("ScheduledTaskManager", "ScheduledTaskManager"),
    "alarmManager": ("AlarmManager", "AlarmManager"),
    "eventManager": ("EventManager", "EventManager"),
    "taskManager": ("TaskManager", "TaskManager"),
    "extensionManager": ("ExtensionManager", "ExtensionManager"),
    "customizationSpecManager": ("CustomizationSpecManager", "CustomizationSpecManager"),
    "customFieldsManager": ("CustomFieldsManager", "CustomFieldsManager"),
    "diagnosticManager": ("DiagnosticManager", "DiagMgr"),
    "licenseManager": ("LicenseManager", "LicenseManager"),
    "searchIndex": ("SearchIndex", "SearchIndex"),
    "fileManager": ("FileManager", "FileManager"),
    "virtualDiskManager": ("VirtualDiskManager", "virtualDiskManager"),
    "ovfManager": ("OvfManager", "OvfManager"),
    "ipPoolManager": ("IpPoolManager", "IpPoolManager"),
    "dvSwitchManager": ("DistributedVirtualSwitchManager", "DVSManager"),
    "localizationManager": ("LocalizationManager", "LocalizationManager"),
    "storageResourceManager": ("StorageResourceManager", "StorageResourceManager"),
    "guestOperationsManager": ("GuestOperationsManager", "guestOperationsManager"),
    "overheadMemoryManager": ("OverheadMemoryManager", "OverheadMemoryManager"),
    "certificateManager": ("CertificateManager", "certificateManager"),
    "ioFilterManager": ("IoFilterManager", "IoFilterManager"),
    "vmProvisioningChecker": ("VirtualMachineProvisioningChecker", "ProvChecker"),
    "vmCompatibilityChecker": ("VirtualMachineCompatibilityChecker", "CompatChecker"),
}

_BUILDS = {"8.0.2.0": ("8.0.2", "22617221"), "8.0.3.0": ("8.0.3", "24022515")}


def about(api_version: str, instance_uuid: str) -> AboutInfo:
    from spherekit.schema.vim25.data import AboutInfo

    version, build = _BUILDS.get(api_version, (api_version, "1"))
    return AboutInfo(
        name="VMware vCenter Server",
        fullName=f"VMware vCenter Server {version} build-{build}",
        vendor="VMware, Inc.",
        version=version,
        build=build,
        localeVersion="INTL",
        localeBuild="000",
        osType="linux-x64",
        productLineId="vpx",
        apiType="VirtualCenter",
        apiVersion=api_version,
        instanceUuid=instance_uuid,
        licenseProductName="VMware VirtualCenter Server",
        licenseProductVersion=version.split(".")[0] + ".0",
    )


def install(backend: Backend, root: MoRef) -> ServiceContent:
    """Create the ServiceInstance and its managers; return the ServiceContent."""
    from spherekit.schema.vim25.data import Capability, ServiceContent
    from spherekit.sim.esx import ESX_MANAGERS, esx_about

    reg = backend.registry
    esx = backend.settings.esx
    refs = {
        field: MoRef(t, v) for field, (t, v) in MANAGERS.items() if not esx or field in ESX_MANAGERS
    }
    info = esx_about(backend.settings.api_version) if esx else None
    content = ServiceContent(
        rootFolder=root,
        about=info or about(backend.settings.api_version, reg.uuid()),
        **refs,  # type: ignore[arg-type]
    )
    capability = Capability(
        provisioningSupported=not esx, multiHostSupported=not esx, userShellAccessSupported=False
    )
    reg.add(SERVICE_INSTANCE, {"content": content, "capability": capability})
    extra: dict[str, dict[str, Any]] = {
        "SessionManager": {"defaultLocale": "en", "supportedLocaleList": ["en"]},
        "TaskManager": {"maxCollector": 32},
    }
    for ref in refs.values():
        reg.add(ref, dict(extra.get(ref.type, {})))
    return content


@handler("ServiceInstance", "RetrieveServiceContent")
def retrieve_service_content(ctx: Context, this: MoRef) -> ServiceContent:
    return ctx.backend.content


@handler("ServiceInstance", "CurrentTime")
def current_time(ctx: Context, this: MoRef) -> datetime:
    return datetime.now(UTC)


@computed("ServiceInstance", "serverClock")
def _server_clock(ctx: Context, ref: MoRef) -> datetime:
    return datetime.now(UTC)
