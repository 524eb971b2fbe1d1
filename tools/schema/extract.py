"""Extract the vim25 type model from pyVmomi's type registry into spherekit/schema/vim25.json.

pyVmomi is a build-time source of facts here, never a runtime dependency. Run:

    python tools/schema/extract.py            # rewrite the data file
    python tools/schema/extract.py OUT.json   # write the data file elsewhere (tests compare)
    python tools/schema/generate.py           # regenerate spherekit/schema/vim25/

The data file names every type by its WSDL name. A type reference is a WSDL name,
optionally followed by ``[]`` for an array. Primitive names are the XML Schema ones
(``string``, ``int``, ``dateTime``, ``base64Binary``, ``anyType``, ...). A reference to a
managed-object type means a ManagedObjectReference to an object of that type; the name
``ManagedObject`` means a reference to an object of any type.

Versions are the wire version strings (``SOAPAction: urn:vim25/<version>``), listed from
oldest to newest; a type, field, method or parameter records the version it appeared in.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

from pyVmomi import VmomiSupport as V

NS = "urn:vim25"
OUT = Path(__file__).resolve().parents[2] / "spherekit" / "schema" / "vim25.json"

# vmodl names that are primitives on the wire
PRIMITIVES = {
    "string": "string",
    "boolean": "boolean",
    "byte": "byte",
    "short": "short",
    "int": "int",
    "long": "long",
    "float": "float",
    "double": "double",
    "anyType": "anyType",
    "void": "void",
    "vmodl.DateTime": "dateTime",
    "vmodl.Binary": "base64Binary",
    "vmodl.URI": "anyURI",
    "vmodl.TypeName": "string",
    "vmodl.MethodName": "string",
    "vmodl.PropertyPath": "string",
    "vmodl.ManagedObject": "ManagedObject",
    "vmodl.DataObject": "DataObject",
}

# Whether a method changes server state is not in pyVmomi's model (privileges are a poor
# guide: CreateVirtualDisk_Task is guarded by System.View and checked at run time). The API's
# naming convention is: these prefixes read ...
READ_PREFIXES = (
    "Retrieve",
    "Query",
    "Find",
    "Search",
    "Browse",
    "Check",
    "Validate",
    "Fetch",
    "Read",
    "Continue",
    "Has",
    "Is",
    "Get",
    "List",
    "Estimate",
    "Recommend",
    "Lookup",
    "WaitFor",
    "Compute",
    "Compare",
    "Download",
    "Parse",
    "DVSManagerLookup",
)
# ... and these methods touch only the caller's own session, collectors and views.
SESSION_METHODS = {
    "Login",
    "LoginByToken",
    "LoginBySSPI",
    "LoginExtensionBySubjectName",
    "LoginExtensionByCertificate",
    "Logout",
    "SessionIsActive",
    "CloneSession",
    "AcquireCloneTicket",
    "AcquireLocalTicket",
    "AcquireGenericServiceTicket",
    "CurrentTime",
    "CreateFilter",
    "DestroyPropertyFilter",
    "CheckForUpdates",
    "CancelWaitForUpdates",
    "CancelRetrievePropertiesEx",
    "CreatePropertyCollector",
    "DestroyPropertyCollector",
    "CreateContainerView",
    "CreateListView",
    "CreateListViewFromView",
    "CreateInventoryView",
    "DestroyView",
    "ModifyListView",
    "ResetListView",
    "ResetListViewFromView",
    "OpenInventoryViewFolder",
    "CloseInventoryViewFolder",
    "CreateCollectorForEvents",
    "CreateCollectorForTasks",
    "CreateCollectorWithInfoFilterForTasks",
    "DestroyCollector",
    "ResetCollector",
    "RewindCollector",
    "SetCollectorPageSize",
    "CreateDescriptor",
    "CreateImportSpec",
    "XmlToCustomizationSpecItem",
    "CustomizationSpecItemToXml",
    "ConvertNamespacePathToUuidPath",
}
# Names that match a read prefix but do change state
WRITES: set[str] = set()


def changes_state(name: str) -> bool:
    if name in WRITES:
        return True
    return not (name in SESSION_METHODS or name.startswith(READ_PREFIXES))


# pyVmomi's vim25 service is emitted in these modules; its other modules (vSAN health, EAM,
# PBM, SMS, VSLM) are other services, some of which register types in the vim25 namespace.
VIM25_MODULES = ("_typeinfo_core.py", "_typeinfo_query.py", "_typeinfo_vim.py")


def vim25_names() -> set[str]:
    """The vmodl names defined by pyVmomi's vim25 modules."""
    root = Path(V.__file__).parent
    names: set[str] = set()
    for mod in VIM25_MODULES:
        for node in ast.walk(ast.parse((root / mod).read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.startswith("Create")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value)
    # the roots that VmomiSupport defines itself (DataObject, ManagedObject, MethodFault, ...)
    names.update(
        d[0]
        for (ns, _), d in V._wsdlDefMap.items()
        if (ns == NS and "." not in d[0]) or (d[0].startswith("vmodl.") and d[0].count(".") == 1)
    )
    return names


def versions() -> tuple[list[str], dict[str, str]]:
    """Order vim25 versions oldest first; map every version id to its wire string."""
    vim = [v for v, ns in V.serviceNsMap.items() if ns == "vim25" and v.startswith("vim.version.")]
    parents = {v: set(V.parentMap.get(v, ())) for v in V.parentMap}
    vim.sort(key=lambda v: len(parents[v]))
    wire = {v: V.versionIdMap[v] for v in vim}
    mapping: dict[str, str] = {}
    for vid in parents:
        if vid in wire:
            mapping[vid] = wire[vid]
            continue
        # a vmodl version: the oldest vim version that includes it
        for v in vim:
            if vid in parents[v]:
                mapping[vid] = wire[v]
                break
    return [wire[v] for v in vim], mapping


def localize_faults(data: dict[str, Any], managed: dict[str, Any]) -> None:
    """Write fault references as the WSDL has them, not as VMODL does.

    In VMODL (and so in pyVmomi's registry) LocalizedMethodFault is a MethodFault and
    fault-valued fields are typed MethodFault; pyVmomi's serializer converts on the wire.
    In the WSDL, LocalizedMethodFault extends DynamicData and every reference to
    MethodFault is a LocalizedMethodFault, except LocalizedMethodFault.fault itself.
    """
    data["LocalizedMethodFault"]["base"] = "DynamicData"

    def fix(t: str) -> str:
        return (
            "LocalizedMethodFault" + t[len("MethodFault") :]
            if t in ("MethodFault", "MethodFault[]")
            else t
        )

    for name, d in data.items():
        for f in d["fields"]:
            if not (name == "LocalizedMethodFault" and f["name"] == "fault"):
                f["type"] = fix(f["type"])
    for m in managed.values():
        for p in m["properties"]:
            p["type"] = fix(p["type"])
        for meth in m["methods"]:
            meth["returns"] = fix(meth["returns"])
            if "task_result" in meth:
                meth["task_result"] = fix(meth["task_result"])
            for p in meth["params"]:
                p["type"] = fix(p["type"])


def main(out: Path = OUT) -> int:
    order, vmap = versions()
    ours = vim25_names()
    vmodl_to_wsdl: dict[str, str] = {}
    for (ns, wsdl), d in V._wsdlDefMap.items():
        if ns == NS and d[0] in ours:
            vmodl_to_wsdl[d[0]] = wsdl

    def tref(t: str) -> str:
        arr = t.endswith("[]")
        base = t[:-2] if arr else t
        name = PRIMITIVES.get(base) or vmodl_to_wsdl.get(base)
        if name is None:
            raise SystemExit(f"unknown type reference {t!r}")
        return name + ("[]" if arr else "")

    managed_names = {d[1] for d in V._wsdlDefMap.values() if d[0] in ours and len(d) == 6}
    enums: dict[str, Any] = {}
    data: dict[str, Any] = {}
    managed: dict[str, Any] = {}
    for (ns, wsdl), d in sorted(V._wsdlDefMap.items()):
        if ns != NS or d[0] not in ours:
            continue
        if len(d) == 4:  # enum
            _, _, ver, values = d
            enums[wsdl] = {"version": vmap[ver], "values": list(values)}
        elif len(d) == 5:  # data type
            _, _, parent, ver, props = d
            fields = []
            for p in props or ():
                name, typ, pver, flags = p[:4]
                if wsdl == "MethodFault" and name == "msg":
                    continue  # pyVmomi's own slot for the SOAP faultstring; not a WSDL element
                if flags & V.F_LINK:
                    # A link holds the key of another object in the same response (a
                    # HostMultipathInfoPath's adapter is a HostHostBusAdapter's key): the
                    # WSDL type, and what is on the wire, is xsd:string.
                    typ = "string[]" if typ.endswith("[]") else "string"
                f: dict[str, Any] = {"name": name, "type": tref(typ), "version": vmap[pver]}
                if flags & V.F_OPTIONAL:
                    f["optional"] = True
                if flags & V.F_SECRET:
                    f["secret"] = True
                fields.append(f)
            data[wsdl] = {
                "base": tref(parent) if parent else None,
                "version": vmap[ver],
                "fields": fields,
            }
        else:  # managed type
            _, _, parent, ver, props, methods = d
            mprops = []
            for p in props or ():
                name, typ, pver, flags, priv = p
                mp: dict[str, Any] = {"name": name, "type": tref(typ), "version": vmap[pver]}
                if flags & V.F_OPTIONAL:
                    mp["optional"] = True
                if priv:
                    mp["privilege"] = priv
                mprops.append(mp)
            mlist = []
            for m in methods or ():
                _vmodl, mname, mver, params, (rflags, rtype, rresult), priv, faults = m
                plist = []
                for p in params:
                    pname, ptyp, pver, pflags, ppriv = p
                    pp: dict[str, Any] = {"name": pname, "type": tref(ptyp), "version": vmap[pver]}
                    if pflags & V.F_OPTIONAL:
                        pp["optional"] = True
                    if pflags & V.F_SECRET:
                        pp["secret"] = True
                    if ppriv:
                        pp["privilege"] = ppriv
                    plist.append(pp)
                is_task = tref(rtype) == "Task" and mname.endswith("_Task")
                entry: dict[str, Any] = {
                    "name": mname,
                    "version": vmap[mver],
                    "params": plist,
                    "returns": tref(rtype),
                    "returns_optional": bool(rflags & V.F_OPTIONAL),
                    "task": is_task,
                    "changes_state": changes_state(mname),
                    "faults": sorted(tref(f) for f in faults or ()),
                }
                if is_task:
                    entry["task_result"] = tref(rresult)
                if priv:
                    entry["privilege"] = priv
                mlist.append(entry)
            managed[wsdl] = {
                "base": tref(parent) if parent else None,
                "version": vmap[ver],
                "properties": mprops,
                "methods": mlist,
            }
    assert not (set(data) & managed_names)
    localize_faults(data, managed)
    doc = {
        "source": f"pyVmomi {V.__dict__.get('__version__') or _pyvmomi_version()}",
        "namespace": NS,
        "versions": order,
        "enums": enums,
        "data": data,
        "managed": managed,
    }
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(
        f"{out}: {len(data)} data types, {len(enums)} enums, {len(managed)} managed types, "
        f"{sum(len(m['methods']) for m in managed.values())} methods"
    )
    return 0


def _pyvmomi_version() -> str:
    from importlib.metadata import version

    return version("pyvmomi")


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
