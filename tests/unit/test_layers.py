"""The architecture, enforced: import direction between layers, complete ``__all__``s, lazy import.

DESIGN.md: dependencies point one way, each layer using only those below it (schema, then
wire, session, property, task/find, compute/transfer, cli on top); ``sim/`` may use
``schema/`` and ``wire/`` but never ``compute/`` or ``cli/``. The scan reads every
module's source (imports under ``TYPE_CHECKING`` and inside functions count too: a
type-level dependency is still a dependency), so it needs none of the packages to exist
yet; a self-test on a synthetic tree proves each rule still bites for packages that have
not been written.
"""

from __future__ import annotations
import __future__

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

import spherekit
import spherekit.errors
import spherekit.faults
from spherekit.schema import registry

ROOT = Path(__file__).resolve().parents[2] / "spherekit"

#: everything above the wire layer
_ABOVE_WIRE = {"session", "property", "task", "find", "compute", "transfer", "cli", "sim"}
#: layer -> layers (top-level parts of spherekit) it must never import. "spherekit" is the
#: package's own __init__, which imports the session and everything above it.
FORBIDDEN: dict[str, set[str]] = {
    "errors": {"*"},
    "schema": _ABOVE_WIRE | {"wire", "spherekit"},
    "wire": _ABOVE_WIRE | {"spherekit"},
    "session": {"property", "task", "find", "compute", "transfer", "cli", "sim"},
    "property": {"task", "find", "compute", "transfer", "cli", "sim"},
    "task": {"compute", "transfer", "cli", "sim"},
    "find": {"compute", "transfer", "cli", "sim"},
    "compute": {"cli", "sim"},
    "transfer": {"cli", "sim"},
    "sim": {"compute", "cli"},
}


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(root: Path, module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_module(root: Path, dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:]) if "." in dotted else Path()
    base = root / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(root: Path, path: Path) -> set[str]:
    """Every spherekit module ``path`` imports (absolute names), however it does it."""
    pkg = root.name
    module = _module_name(root, path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(root, module, is_package, node)
            # from spherekit import session -> spherekit.session; a name that is not a
            # submodule comes from the package's __init__ itself
            subs = {f"{base}.{a.name}" for a in node.names if a.name != "*"}
            subs = {sub for sub in subs if _is_module(root, sub)}
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(base)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            value = arg.value if isinstance(arg, ast.Constant) else None
            if name in ("import_module", "__import__") and isinstance(value, str):
                found.add(value)
    return {m for m in found if m == pkg or m.startswith(pkg + ".")}


def layer_of(dotted: str) -> str:
    """The top-level part of spherekit a module belongs to (``spherekit`` for the root)."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def scan(root: Path) -> dict[str, set[str]]:
    """Module name -> the spherekit modules it imports, for every module under ``root``."""
    return {_module_name(root, p): imports_of(root, p) for p in sorted(root.rglob("*.py"))}


def violations(tree: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, imports in sorted(tree.items()):
        layer = layer_of(module)
        forbidden = FORBIDDEN.get(layer, set())
        for imported in sorted(imports):
            target = layer_of(imported)
            if target == layer:
                continue
            if "*" in forbidden or target in forbidden:
                problems.append(f"{module} imports {imported} ({layer}/ must not use {target})")
    return problems


@cache
def _real_tree_imports() -> dict[str, set[str]]:
    return scan(ROOT)


# ---------------------------------------------------------------------------------------
# import direction


def test_layers_import_only_downwards() -> None:
    problems = violations(_real_tree_imports())
    assert problems == [], "import direction broken (see DESIGN.md, Layers):\n" + "\n".join(
        problems
    )


def test_the_scan_sees_the_real_tree() -> None:
    imports = _real_tree_imports()
    # the layers that exist today are all scanned ...
    assert {"spherekit.wire.codec", "spherekit.session", "spherekit.schema.registry"} <= set(
        imports
    )
    # ... and their imports are read (TYPE_CHECKING and relative ones: see the self-test)
    assert "spherekit.schema.registry" in imports["spherekit.wire.codec"]
    assert "spherekit.wire.codec" in imports["spherekit.session"]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root.parent).parents:
        init = root.parent / parent / "__init__.py"
        if parent != Path() and not init.exists():
            init.write_text("")
    path.write_text(text)


def test_the_rules_bite_on_packages_that_do_not_exist_yet(tmp_path: Path) -> None:
    root = tmp_path / "spherekit"
    _write(root, "session.py", "")
    _write(root, "schema/base.py", "from spherekit.errors import SpherekitError\n")
    _write(root, "schema/bad.py", "from ..wire import codec\n")
    _write(root, "wire/codec.py", "from spherekit.schema import base\n")
    _write(root, "wire/bad.py", "if TYPE_CHECKING:\n    from spherekit.session import Session\n")
    _write(root, "wire/worse.py", "def f():\n    import spherekit.cli.main\n")
    _write(root, "wire/facade.py", "import spherekit\n")
    _write(
        root, "sim/ok.py", "from spherekit.wire import codec\nfrom spherekit.schema import base\n"
    )
    _write(root, "sim/bad.py", "from spherekit import compute\n")
    _write(root, "sim/dyn.py", "import importlib\nimportlib.import_module('spherekit.cli.vm')\n")
    _write(root, "compute/__init__.py", "")
    _write(root, "cli/vm.py", "from spherekit.compute import nodes\nfrom spherekit.sim import ok\n")
    _write(root, "cli/main.py", "")
    _write(root, "errors.py", "from spherekit import session\n")
    problems = violations(scan(root))
    assert problems == [
        "spherekit.errors imports spherekit.session (errors/ must not use session)",
        "spherekit.schema.bad imports spherekit.wire.codec (schema/ must not use wire)",
        "spherekit.sim.bad imports spherekit.compute (sim/ must not use compute)",
        "spherekit.sim.dyn imports spherekit.cli.vm (sim/ must not use cli)",
        "spherekit.wire.bad imports spherekit.session (wire/ must not use session)",
        "spherekit.wire.facade imports spherekit (wire/ must not use spherekit)",
        "spherekit.wire.worse imports spherekit.cli.main (wire/ must not use cli)",
    ]


# ---------------------------------------------------------------------------------------
# public names


def _public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType | __future__._Feature)
    }


@pytest.mark.parametrize("module", [spherekit, spherekit.faults, spherekit.errors])
def test_all_is_complete_and_exact(module: ModuleType) -> None:
    listed = list(module.__all__)
    assert len(listed) == len(set(listed)), "duplicates in __all__"
    missing = sorted(n for n in listed if not hasattr(module, n))
    assert missing == [], f"{module.__name__}.__all__ lists names it does not define"
    unlisted = sorted(_public_names(module) - set(listed))
    assert unlisted == [], f"{module.__name__} defines public names missing from __all__"


@pytest.mark.parametrize("module", ["spherekit", "spherekit.faults", "spherekit.errors"])
def test_star_import_gives_exactly_all(module: str) -> None:
    ns: dict[str, object] = {}
    exec(f"from {module} import *", ns)
    ns.pop("__builtins__", None)
    assert set(ns) == set(sys.modules[module].__all__)


def test_faults_namespace_has_every_exception() -> None:
    from spherekit.schema.vim25.data import TYPES, MethodFault

    fault_types = {n for n, c in TYPES.items() if issubclass(c, MethodFault)}
    assert fault_types - set(spherekit.faults.__all__) == set()
    assert set(spherekit.errors.__all__) <= set(spherekit.faults.__all__)
    for name in spherekit.faults.__all__:
        value = getattr(spherekit.faults, name)
        assert isinstance(value, type) and issubclass(value, spherekit.errors.SpherekitError), name


def test_errors_derive_from_the_one_root() -> None:
    for name in spherekit.errors.__all__:
        cls = getattr(spherekit.errors, name)
        assert issubclass(cls, spherekit.errors.SpherekitError), name


# ---------------------------------------------------------------------------------------
# lazy loading


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
        cwd=ROOT.parent,
    )
    return set(json.loads(out.stdout))


HEAVY = {
    "spherekit.schema.vim25.data",
    "spherekit.schema.vim25.enums",
    "spherekit.schema.vim25.managed",
    "spherekit.schema.vim25.faults",
}


def test_import_spherekit_does_not_load_the_generated_classes() -> None:
    loaded = _modules_after("import spherekit")
    assert "spherekit.session" in loaded  # the probe works
    assert loaded & HEAVY == set()
    assert "spherekit.schema.vim25.model" in loaded  # the small tables are enough
    # control: the typed API does load them, so the names above are the right ones
    assert {"spherekit.schema.vim25.data", "spherekit.schema.vim25.managed"} <= _modules_after(
        "import spherekit.vim"
    )


def test_registry_lookups_load_the_classes_on_first_use() -> None:
    cls = registry.data_class("VirtualMachineConfigSpec")
    assert cls is not None and cls.__module__ == "spherekit.schema.vim25.data"
    assert registry.data_class("NoSuchType") is None
