"""Lint the vim25 data file and the classes generated from it.

``spherekit/schema/vim25.json`` is behaviour as data: the codec, the session's version checks,
the simulator and the typed API all read it or the modules generated from it. A dangling
reference, a cycle or a truncated extraction would fail far from its cause; these tests fail
here and name the offending types. Checks that scan the whole model collect every problem
and report them together.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spherekit.errors import SpherekitError
from spherekit.schema.base import OPTIONAL, DataObject, FaultBase, ManagedObject, MoRef

ROOT = Path(__file__).resolve().parents[2]
DATA_FILE = ROOT / "spherekit" / "schema" / "vim25.json"
GENERATED_DIR = ROOT / "spherekit" / "schema" / "vim25"
EXTRACT = ROOT / "tools" / "schema" / "extract.py"
GENERATE = ROOT / "tools" / "schema" / "generate.py"

#: XML Schema primitives a reference may name (see the extractor's docstring)
PRIMITIVES = frozenset(
    {
        "string",
        "anyURI",
        "boolean",
        "byte",
        "short",
        "int",
        "long",
        "float",
        "double",
        "dateTime",
        "base64Binary",
        "anyType",
    }
)
#: only a method's return type or a task's result may be "void"
VOID = "void"


# ---------------------------------------------------------------------------------------------
# helpers


@cache
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DATA_FILE.read_text())
    return loaded


def data() -> dict[str, Any]:
    result: dict[str, Any] = doc()["data"]
    return result


def enums() -> dict[str, Any]:
    result: dict[str, Any] = doc()["enums"]
    return result


def managed() -> dict[str, Any]:
    result: dict[str, Any] = doc()["managed"]
    return result


def methods() -> Iterator[tuple[str, dict[str, Any]]]:
    """(declaring managed type, method) for every method."""
    for tname, t in managed().items():
        for m in t["methods"]:
            yield tname, m


def base_chain(name: str, table: dict[str, Any]) -> list[str]:
    """``name`` and its bases, most derived first (stops at a cycle or an unknown base)."""
    chain: list[str] = []
    current: str | None = name
    while current is not None and current in table and current not in chain:
        chain.append(current)
        current = table[current]["base"]
    return chain


def is_fault(name: str) -> bool:
    return "MethodFault" in base_chain(name, data())


def all_fields(name: str) -> list[dict[str, Any]]:
    """A data type's fields including inherited ones, in wire order (bases first)."""
    return [f for t in reversed(base_chain(name, data())) for f in data()[t]["fields"]]


def type_references() -> Iterator[tuple[str, str, bool]]:
    """(where, type reference, whether "void" is allowed there) for every reference."""
    for tname, t in data().items():
        if t["base"] is not None:
            yield f"data {tname} base", t["base"], False
        for f in t["fields"]:
            yield f"data {tname}.{f['name']}", f["type"], False
    for tname, t in managed().items():
        if t["base"] is not None:
            yield f"managed {tname} base", t["base"], False
        for p in t["properties"]:
            yield f"managed {tname}.{p['name']}", p["type"], False
    for tname, m in methods():
        where = f"method {tname}.{m['name']}"
        for p in m["params"]:
            yield f"{where}({p['name']})", p["type"], False
        yield f"{where} returns", m["returns"], True
        if "task_result" in m:
            yield f"{where} task result", m["task_result"], True
        for fault in m["faults"]:
            yield f"{where} faults", fault, False


def versioned() -> Iterator[tuple[str, str]]:
    """(where, version) for everything in the data file that records a version."""
    for kind in ("enums", "data", "managed"):
        for tname, t in doc()[kind].items():
            yield tname, t["version"]
            for member in t.get("fields", []) + t.get("properties", []):
                yield f"{tname}.{member['name']}", member["version"]
            for m in t.get("methods", []):
                yield f"{tname}.{m['name']}", m["version"]
                for p in m["params"]:
                    yield f"{tname}.{m['name']}({p['name']})", p["version"]


def load_tool(path: Path) -> ModuleType:
    """Import a script under tools/ by path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_spherekit_tool_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecordingCaller:
    """A Caller that records calls and answers each with a canned value."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.calls: list[tuple[MoRef | ManagedObject, str, dict[str, Any]]] = []

    def call(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        self.calls.append((this, method, params))
        return self.answer


# ---------------------------------------------------------------------------------------------
# shape and size


def test_top_level_shape() -> None:
    assert set(doc()) == {"source", "namespace", "versions", "enums", "data", "managed"}
    assert doc()["namespace"] == "urn:vim25"
    assert doc()["source"].startswith("pyVmomi ")


def test_model_is_not_truncated() -> None:
    # pyVmomi 9.1.1.0 gives 3031 data types, 446 enums, 141 managed types, 975 methods;
    # an extraction that lost a module or stopped early falls well below these floors.
    sizes = {
        "data types": (len(data()), 3000),
        "enums": (len(enums()), 400),
        "managed types": (len(managed()), 130),
        "methods": (sum(1 for _ in methods()), 900),
    }
    short = {kind: n for kind, (n, floor) in sizes.items() if n < floor}
    assert not short, f"truncated extraction? {short}"


def test_kinds_do_not_share_names() -> None:
    kinds = {"data": set(data()), "enums": set(enums()), "managed": set(managed())}
    assert not kinds["data"] & kinds["enums"]
    assert not kinds["data"] & kinds["managed"]
    assert not kinds["enums"] & kinds["managed"]
    for names in kinds.values():
        assert not names & (PRIMITIVES | {VOID})


# ---------------------------------------------------------------------------------------------
# references


def test_every_type_reference_resolves() -> None:
    known = PRIMITIVES | set(enums()) | set(data()) | set(managed())
    problems = []
    for where, ref, void_ok in type_references():
        name = ref.removesuffix("[]")
        if "[]" in name:
            problems.append(f"{where}: nested array {ref!r}")
        elif name == VOID:
            if not void_ok or ref != VOID:
                problems.append(f"{where}: {ref!r} is only valid as a return type")
        elif name not in known:
            problems.append(f"{where}: unknown type {ref!r}")
    assert not problems, "\n".join(problems)


def test_data_bases_are_data_types_and_managed_bases_are_managed_types() -> None:
    problems = [
        f"data {n}: base {t['base']!r} is not a data type"
        for n, t in data().items()
        if t["base"] is not None and t["base"] not in data()
    ]
    problems += [
        f"managed {n}: base {t['base']!r} is not a managed type"
        for n, t in managed().items()
        if t["base"] is not None and t["base"] not in managed()
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("kind", "root"), [("data", "DataObject"), ("managed", "ManagedObject")])
def test_no_inheritance_cycles_and_one_root(kind: str, root: str) -> None:
    table: dict[str, Any] = doc()[kind]
    problems = []
    for name in table:
        seen: list[str] = []
        current: str | None = name
        while current is not None and current in table:
            if current in seen:
                problems.append(f"{kind} {name}: cycle {' -> '.join([*seen, current])}")
                break
            seen.append(current)
            current = table[current]["base"]
        else:
            if seen[-1] != root:
                problems.append(f"{kind} {name}: chain ends at {seen[-1]!r}, not {root!r}")
    assert not problems, "\n".join(problems)


def test_faults_listed_by_methods_derive_from_method_fault() -> None:
    problems = sorted(
        {
            f"{tname}.{m['name']}: {fault}"
            for tname, m in methods()
            for fault in m["faults"]
            if fault not in data() or not is_fault(fault)
        }
    )
    assert not problems, "\n".join(problems)


def test_types_named_fault_derive_from_method_fault() -> None:
    # The converse does not hold: most faults are not named "...Fault" (InvalidState,
    # NotFound, ...). Names merely containing "Fault" are plain data (FaultsByVM,
    # DvsApplyOperationFaultFaultOnObject). LocalizedMethodFault, the wire wrapper of a fault
    # (TaskInfo.error), is covered by test_localized_method_fault_is_a_wrapper_not_a_fault.
    problems = [
        n for n in data() if n.endswith("Fault") and n != "LocalizedMethodFault" and not is_fault(n)
    ]
    assert not problems, "named ...Fault but not a MethodFault: " + ", ".join(problems)


# pyVmomi's registry has the VMODL view; the extractor writes the WSDL's (localize_faults).
def test_localized_method_fault_is_a_wrapper_not_a_fault() -> None:
    assert data()["LocalizedMethodFault"]["base"] == "DynamicData"
    error = {f["name"]: f for f in data()["TaskInfo"]["fields"]}["error"]
    assert error["type"] == "LocalizedMethodFault"


def test_fault_fields_do_not_collide_with_fault_base_attributes() -> None:
    reserved = {"method_name", "msg"} | set(dir(Exception))
    clashes = [
        f"{n}.{f['name']}"
        for n in data()
        if is_fault(n)
        for f in data()[n]["fields"]
        if f["name"] in reserved
    ]
    assert not clashes, ", ".join(clashes)


# ---------------------------------------------------------------------------------------------
# names


def test_method_names_are_unique() -> None:
    # The SOAP body carries only the method's name, so dispatch (model.METHODS, the
    # simulator) is keyed by it; two types declaring one name would be ambiguous.
    owners: dict[str, list[str]] = {}
    for tname, m in methods():
        owners.setdefault(m["name"], []).append(tname)
    dups = {name: types for name, types in owners.items() if len(types) > 1}
    assert not dups, f"method names declared by more than one type: {dups}"


def test_member_names_are_unique_including_inherited() -> None:
    problems = []
    for n in data():
        names = [f["name"] for f in all_fields(n)]
        if len(names) != len(set(names)):
            problems.append(f"data {n}: duplicate fields")
    for n in managed():
        props = [p["name"] for t in base_chain(n, managed()) for p in managed()[t]["properties"]]
        if len(props) != len(set(props)):
            problems.append(f"managed {n}: duplicate properties")
        for m in managed()[n]["methods"]:
            params = [p["name"] for p in m["params"]]
            if len(params) != len(set(params)):
                problems.append(f"method {n}.{m['name']}: duplicate parameters")
    for n, e in enums().items():
        if len(e["values"]) != len(set(e["values"])) or not e["values"]:
            problems.append(f"enum {n}: empty or duplicate values")
    assert not problems, "\n".join(problems)


def test_task_methods_return_task() -> None:
    problems = []
    for tname, m in methods():
        is_task = m["returns"] == "Task" and m["name"].endswith("_Task")
        if m["task"] != is_task or ("task_result" in m) != m["task"]:
            problems.append(f"{tname}.{m['name']}")
    assert not problems, "task flag, return type and task_result disagree: " + ", ".join(problems)


# ---------------------------------------------------------------------------------------------
# versions


def test_versions_are_unique_and_every_reference_is_listed() -> None:
    versions = doc()["versions"]
    assert versions[0] == "2.0"
    assert len(versions) == len(set(versions))
    # The list is not numerically sortable: pyVmomi 9.1.1.0 defines vim.version.v9_1_0_1 with
    # the opaque wire id "m5CA1EF4D", between 9.1.0.0 and 9.1.1.0. Order is the list's order.
    listed = set(versions)
    problems = [f"{where}: {v!r}" for where, v in versioned() if v not in listed]
    assert not problems, "\n".join(problems)


def test_members_are_not_older_than_their_owner() -> None:
    # True of the whole vSphere model as pyVmomi records it (checked, not assumed): no field,
    # property or method predates its type, no parameter predates its method, and no type
    # predates its base. The session's version checks rely on this: a call that is valid
    # for the server's version never needs a type the server does not know.
    index = {v: i for i, v in enumerate(doc()["versions"])}
    problems = []

    def check(where: str, member: str, owner: str) -> None:
        if index[member] < index[owner]:
            problems.append(f"{where}: {member} is older than its owner's {owner}")

    for n, t in data().items():
        if t["base"] is not None:
            check(f"data {n} (base)", t["version"], data()[t["base"]]["version"])
        for f in t["fields"]:
            check(f"data {n}.{f['name']}", f["version"], t["version"])
    for n, t in managed().items():
        if t["base"] is not None:
            check(f"managed {n} (base)", t["version"], managed()[t["base"]]["version"])
        for p in t["properties"]:
            check(f"managed {n}.{p['name']}", p["version"], t["version"])
        for m in t["methods"]:
            check(f"method {n}.{m['name']}", m["version"], t["version"])
            for p in m["params"]:
                check(f"method {n}.{m['name']}({p['name']})", p["version"], m["version"])
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# known facts


def find_method(tname: str, name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [m for m in managed()[tname]["methods"] if m["name"] == name]
    assert len(matches) == 1, f"{tname}.{name}"
    return matches[0]


def test_known_fact_power_on_is_a_void_task() -> None:
    m = find_method("VirtualMachine", "PowerOnVM_Task")
    assert m["returns"] == "Task"
    assert m["task"] is True
    assert m["task_result"] == "void"
    assert m["changes_state"] is True
    assert m["params"] == [
        {"name": "host", "type": "HostSystem", "version": "2.0", "optional": True}
    ]
    assert "InvalidState" in m["faults"]


def test_known_fact_clone_returns_a_vm_task() -> None:
    m = find_method("VirtualMachine", "CloneVM_Task")
    assert m["task_result"] == "VirtualMachine"
    assert [(p["name"], p["type"], p.get("optional", False)) for p in m["params"]] == [
        ("folder", "Folder", False),
        ("name", "string", False),
        ("spec", "VirtualMachineCloneSpec", False),
    ]


def test_known_fact_retrieve_properties_ex_is_on_property_collector() -> None:
    m = find_method("PropertyCollector", "RetrievePropertiesEx")
    assert m["returns"] == "RetrieveResult"
    assert m["returns_optional"] is True
    assert m["changes_state"] is False
    assert [p["type"] for p in m["params"]] == ["PropertyFilterSpec[]", "RetrieveOptions"]


def test_known_fact_invalid_power_state_hierarchy() -> None:
    assert base_chain("InvalidPowerState", data()) == [
        "InvalidPowerState",
        "InvalidState",
        "VimFault",
        "MethodFault",
        "DynamicData",
        "DataObject",
    ]


def test_known_fact_power_state_enum() -> None:
    assert set(enums()["VirtualMachinePowerState"]["values"]) == {
        "poweredOn",
        "poweredOff",
        "suspended",
    }


def test_known_fact_num_cpus_is_optional_int() -> None:
    fields = {f["name"]: f for f in data()["VirtualMachineConfigSpec"]["fields"]}
    assert fields["numCPUs"]["type"] == "int"
    assert fields["numCPUs"].get("optional") is True


def test_known_fact_managed_hierarchy() -> None:
    assert base_chain("VirtualMachine", managed()) == [
        "VirtualMachine",
        "ManagedEntity",
        "ExtensibleManagedObject",
        "ManagedObject",
    ]
    props = {p["name"]: p for p in managed()["ManagedEntity"]["properties"]}
    assert props["name"]["type"] == "string"


# ---------------------------------------------------------------------------------------------
# the extractor


def test_extractor_reproduces_the_data_file(tmp_path: Path) -> None:
    installed = importlib.metadata.version("pyvmomi")
    assert doc()["source"] == f"pyVmomi {installed}", (
        f"the data file was extracted from {doc()['source']}, but pyVmomi {installed} is "
        "installed: install the version pinned in pyproject.toml, or re-extract on purpose"
    )
    out = tmp_path / "vim25.json"
    proc = subprocess.run(
        [sys.executable, str(EXTRACT), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == DATA_FILE.read_bytes(), (
        "python tools/schema/extract.py no longer reproduces spherekit/schema/vim25.json"
    )


# ---------------------------------------------------------------------------------------------
# the generated modules


def test_generated_modules_are_in_sync_with_the_data_file() -> None:
    generate = load_tool(GENERATE)
    files: dict[Path, str] = generate.render_all()
    stale = [p.name for p, text in files.items() if not p.exists() or p.read_text() != text]
    assert not stale, f"stale: {stale}; run python tools/schema/generate.py"
    strays = {p.name for p in GENERATED_DIR.glob("*.py")} - {p.name for p in files}
    assert not strays, f"files in {GENERATED_DIR} that the generator does not write: {strays}"


@pytest.mark.parametrize("name", sorted(p.stem for p in GENERATED_DIR.glob("[!_]*.py")))
def test_generated_module_imports(name: str) -> None:
    module = importlib.import_module(f"spherekit.schema.vim25.{name}")
    exported = getattr(module, "__all__", [])
    assert all(hasattr(module, n) for n in exported)


def test_generated_enums_match() -> None:
    from spherekit.schema.vim25 import enums as generated

    assert set(generated.ENUMS) == set(enums())
    problems = []
    for name, cls in generated.ENUMS.items():
        if [m.value for m in cls] != enums()[name]["values"]:
            problems.append(f"{name}: members do not match the values")
        # a member named like a str method would shadow it on every member of the enum
        problems += [f"{name}.{m.name}" for m in cls if hasattr(str, m.name)]
    assert not problems, "\n".join(problems)


def test_generated_data_classes_match() -> None:
    from spherekit.schema.vim25 import data as generated
    from spherekit.schema.vim25 import model

    assert set(generated.TYPES) == set(data())
    problems = []
    for name, cls in generated.TYPES.items():
        expected = [f["name"] for f in all_fields(name)]
        if cls._wsdl_name != name:
            problems.append(f"{name}: _wsdl_name {cls._wsdl_name!r}")
        if len(cls._fields) != len(expected) or [f[1] for f in cls._fields] != expected:
            problems.append(f"{name}: _fields {[f[1] for f in cls._fields]} != {expected}")
        if model.VERSIONS[cls._version] != data()[name]["version"]:
            problems.append(f"{name}: _version {cls._version}")
        if issubclass(cls, BaseException) != is_fault(name):
            problems.append(f"{name}: is an exception class: {issubclass(cls, BaseException)}")
    assert not problems, "\n".join(problems)


def test_generated_faults_are_spherekit_errors_and_raisable() -> None:
    from spherekit.schema.vim25 import data as generated

    faults = [name for name in data() if is_fault(name)]
    assert len(faults) > 500
    for name in faults:
        cls = generated.TYPES[name]
        assert issubclass(cls, SpherekitError)
        assert issubclass(cls, FaultBase)
        assert issubclass(cls, generated.MethodFault)
        # the constructor checks nothing at run time; None stands in for required values
        fault = cls(**{f[0]: None for f in cls._fields if not f[3] & OPTIONAL})
        assert isinstance(fault, generated.MethodFault)
        base = generated.TYPES[data()[name]["base"]]
        catch_as = base if issubclass(base, generated.MethodFault) else generated.MethodFault
        with pytest.raises(catch_as) as caught:
            raise fault
        assert caught.value is fault
        assert name in str(fault)


def test_fault_carries_fields_and_is_caught_by_its_wsdl_base() -> None:
    from spherekit.schema.vim25.data import InvalidPowerState, InvalidState, MethodFault
    from spherekit.schema.vim25.enums import VirtualMachinePowerState

    fault = InvalidPowerState(existingState=VirtualMachinePowerState.poweredOff)
    fault.method_name = "PowerOffVM_Task"
    with pytest.raises(InvalidState) as caught:
        raise fault
    assert isinstance(caught.value, InvalidPowerState)
    assert isinstance(caught.value, MethodFault)
    assert caught.value.existingState is VirtualMachinePowerState.poweredOff
    assert caught.value.requestedState is None
    assert str(caught.value) == "PowerOffVM_Task: InvalidPowerState (InvalidPowerState)"


def test_plain_data_objects_are_not_exceptions() -> None:
    from spherekit.schema.vim25.data import VirtualMachineConfigSpec

    spec = VirtualMachineConfigSpec(numCPUs=2, memoryMB=2048)
    assert isinstance(spec, DataObject)
    assert not isinstance(spec, BaseException)
    assert spec.numCPUs == 2
    assert spec.numCoresPerSocket is None
    assert spec == VirtualMachineConfigSpec(numCPUs=2, memoryMB=2048)
    assert spec != VirtualMachineConfigSpec(numCPUs=2)


def test_generated_handles_match() -> None:
    from spherekit.schema.vim25 import managed as generated
    from spherekit.schema.vim25 import model

    assert set(generated.HANDLES) == set(managed())
    assert set(model.METHODS) == {m["name"] for _, m in methods()}
    problems = [
        f"{tname}.{m['name']}"
        for tname, m in methods()
        if not callable(getattr(generated.HANDLES[tname], m["name"], None))
    ]
    assert not problems, "handles without their methods: " + ", ".join(problems)
    for tname, t in managed().items():
        cls = generated.HANDLES[tname]
        if t["base"] is not None:
            assert cls.__mro__[1] is generated.HANDLES[t["base"]], tname


def test_virtual_machine_handle_powers_on_through_the_caller() -> None:
    from spherekit.schema.vim25.managed import HANDLES, Task

    caller = RecordingCaller(answer=MoRef("Task", "task-7"))
    vm_class = HANDLES["VirtualMachine"]
    assert callable(vm_class.PowerOnVM_Task)  # type: ignore[attr-defined]
    vm = vm_class(caller, "vm-1")
    task = vm.PowerOnVM_Task()  # type: ignore[attr-defined]
    assert isinstance(task, Task)
    assert task.ref == MoRef("Task", "task-7")
    assert caller.calls == [(MoRef("VirtualMachine", "vm-1"), "PowerOnVM_Task", {"host": None})]
