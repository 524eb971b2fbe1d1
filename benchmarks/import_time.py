"""Import time: ``import spherekit`` in fresh interpreters, against its peers in the same run.

    python -m benchmarks.import_time [--repeat 15]

Each sample is a new ``python -c`` process that times one import statement with
``time.perf_counter`` (interpreter start-up is reported separately, as the wall time of a
process that imports nothing). Bytecode is compiled first: this environment sets
``PYTHONDONTWRITEBYTECODE=1``, which would otherwise make every sample compile spherekit
from source, so the benchmark runs ``compileall`` on the package and one untimed import of
every target with that variable removed (writing ``__pycache__`` for the dependencies too).
The targets run interleaved, in rotating order. Results go to
``benchmarks/results/import_time.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks._report import ROOT, add_json_flag, environment, save, summary, table

TARGETS = {
    "spherekit": "import spherekit",
    "spherekit.vim (every generated class)": "import spherekit.vim",
    "pyVmomi": "import pyVmomi",
    "pyVmomi, as used (pyVim.connect, vim)": "from pyVim.connect import SmartConnect\n"
    "from pyVmomi import vim\nvim.VirtualMachine",
    "httpx + lxml.etree (spherekit's dependencies)": "import httpx, lxml.etree",
}
LIMIT_MS = 150.0  # the goal for `import spherekit`

_PROBE = """\
import time
t = time.perf_counter()
{statement}
t = time.perf_counter() - t
print(repr(t))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_bytecode(python: str) -> None:
    """Write __pycache__ for spherekit and (by importing each target once) its peers."""
    subprocess.run(
        [python, "-m", "compileall", "-q", str(ROOT / "spherekit")],
        cwd=ROOT, env=_env(), check=True,
    )  # fmt: skip
    for statement in TARGETS.values():
        subprocess.run([python, "-c", statement], cwd=ROOT, env=_env(), check=True)


def sample(python: str, statement: str) -> tuple[float, float]:
    """(seconds the import took, seconds the whole process took)."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [python, "-c", _PROBE.format(statement=statement)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    return float(done.stdout.strip().splitlines()[-1]), wall


def run(repeat: int, python: str) -> dict[str, Any]:
    compile_bytecode(python)
    names = list(TARGETS)
    imports: dict[str, list[float]] = {n: [] for n in names}
    walls: dict[str, list[float]] = {n: [] for n in names}
    startup: list[float] = []
    for rep in range(repeat):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            t, wall = sample(python, TARGETS[name])
            imports[name].append(t)
            walls[name].append(wall)
        startup.append(sample(python, "pass")[1])
    floor = statistics.median(imports["httpx + lxml.etree (spherekit's dependencies)"])
    sk = statistics.median(imports["spherekit"])
    return {
        "benchmark": "import_time",
        "repeat": repeat,
        "python": python,
        "environment": environment(),
        "import_seconds": {n: summary(v) for n, v in imports.items()},
        "process_seconds": {n: summary(v) for n, v in walls.items()},
        "interpreter_startup_seconds": summary(startup),
        "statements": TARGETS,
        "ratios": {
            "spherekit_over_dependencies": sk / floor,
            "spherekit_over_pyvmomi": sk / statistics.median(imports["pyVmomi"]),
        },
        "limit_ms": LIMIT_MS,
        "within_limit": sk * 1000 <= LIMIT_MS,
    }


def report(record: dict[str, Any]) -> str:
    imp, proc = record["import_seconds"], record["process_seconds"]
    rows = [
        [n, f"{imp[n]['median'] * 1000:.0f} ms", f"{imp[n]['min'] * 1000:.0f} ms",
         f"{proc[n]['median'] * 1000:.0f} ms"]
        for n in imp
    ]  # fmt: skip
    start = record["interpreter_startup_seconds"]["median"] * 1000
    sk = imp["spherekit"]["median"] * 1000
    r = record["ratios"]
    verdict = "within" if record["within_limit"] else "OVER"
    return "\n".join(
        [
            f"import time, fresh interpreters ({record['repeat']} repetitions, interleaved)",
            "",
            table(["", "import (median)", "min", "whole process"], rows),
            "",
            f"interpreter start-up alone: {start:.0f} ms",
            f"import spherekit: {sk:.0f} ms, {verdict} the {record['limit_ms']:.0f} ms limit; "
            f"{r['spherekit_over_dependencies']:.2f}x its dependencies, "
            f"{r['spherekit_over_pyvmomi']:.2f}x import pyVmomi",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=15, help="repetitions (default 15)")
    add_json_flag(parser, "import_time")
    args = parser.parse_args(argv)
    record = run(args.repeat, sys.executable)
    print(report(record))
    save(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
