"""spherekit.sim depends only on schema, wire and errors (and itself)."""

from __future__ import annotations

import ast
from pathlib import Path

import spherekit.sim

ALLOWED = ("spherekit.schema", "spherekit.wire", "spherekit.errors", "spherekit.sim")
#: nothing in spherekit.sim is exempt (the pytest plugin, which uses the client as well,
#: lives in spherekit/pytest_plugin.py)
EXEMPT: set[tuple[str, str]] = set()


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_sim_imports_only_lower_layers() -> None:
    package = Path(spherekit.sim.__file__).parent
    wrong = []
    for path in sorted(package.glob("**/*.py")):
        for name in imports(path):
            if (path.name, name) in EXEMPT:
                continue
            if name.startswith("spherekit") and not name.startswith(ALLOWED):
                wrong.append(f"{path.name}: {name}")
            if name == "spherekit":
                wrong.append(f"{path.name}: import spherekit (the client's top level)")
    assert wrong == []


def test_modules_stay_small() -> None:
    package = Path(spherekit.sim.__file__).parent
    big = {p.name: n for p in package.glob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert big == {}
