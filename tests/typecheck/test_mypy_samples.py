"""The generated vim25 API, checked statically: samples that must pass or fail ``mypy --strict``.

``samples/good.py`` must type-check with no error. Every other sample puts, above each line
that must fail, one or more comments ``# expect[<error code>]: <part of the message>`` and
must fail with exactly those errors: the right code on the right line, and nothing else.
(Markers sit on their own lines so that ``ruff format`` never moves them off their line.)

mypy runs once over all the samples (they do not import each other, so every error belongs
to the file it is reported in) with a fresh cache. A cold run takes a few seconds, most of
it spent on the generated ``data.py``. ``--follow-imports=silent`` still type-checks what the
samples import but keeps errors inside spherekit itself out of the samples' results; the
project's own mypy run reports those.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from spherekit.schema.base import ManagedObject, MoRef

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(__file__).resolve().parent / "samples"
GOOD = SAMPLES / "good.py"
BAD = sorted(p for p in SAMPLES.glob("*.py") if p != GOOD)
EXPECT = re.compile(r"^\s*#\s*expect\[(?P<code>[a-z-]+)\]:\s*(?P<text>.+?)\s*$")


@dataclass(frozen=True)
class Diagnostic:
    line: int
    severity: str
    code: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.line}: {self.severity}: {self.message}  [{self.code}]"


@dataclass(frozen=True)
class Expectation:
    line: int
    code: str
    text: str


def expectations(path: Path) -> list[Expectation]:
    """The sample's markers, each for the next line that is not blank or a comment."""
    found: list[Expectation] = []
    pending: list[tuple[str, str]] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if m := EXPECT.match(line):
            pending.append((m["code"], m["text"]))
        elif line.strip() and not line.lstrip().startswith("#"):
            found += [Expectation(lineno, code, text) for code, text in pending]
            pending = []
    assert not pending, f"{path.name}: marker after the last line of code"
    return found


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, list[Diagnostic]]:
    """Run mypy once over every sample; its diagnostics by sample file."""
    cache_dir = tmp_path_factory.mktemp("mypy-cache")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--follow-imports=silent",
            "--cache-dir",
            str(cache_dir),
            "--output=json",
            str(GOOD),
            *map(str, BAD),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # 0: no errors, 1: errors; anything else is a crash or a blocking error (e.g. syntax)
    assert proc.returncode in (0, 1), f"mypy failed:\n{proc.stdout}\n{proc.stderr}"
    by_file: dict[Path, list[Diagnostic]] = {}
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        path = (ROOT / record["file"]).resolve()
        by_file.setdefault(path, []).append(
            Diagnostic(record["line"], record["severity"], record["code"], record["message"])
        )
    outside = {str(p) for p in by_file} - {str(p) for p in [GOOD, *BAD]}
    assert not outside, f"diagnostics outside the samples: {outside}"
    return by_file


def errors(diagnostics: dict[Path, list[Diagnostic]], path: Path) -> list[Diagnostic]:
    return [d for d in diagnostics.get(path, []) if d.severity == "error"]


def test_there_are_bad_samples() -> None:
    names = {p.stem for p in BAD}
    assert {"bad_method_name", "bad_arg_type", "bad_missing_arg"} <= names


def test_good_sample_passes_strict(diagnostics: dict[Path, list[Diagnostic]]) -> None:
    assert not expectations(GOOD)
    found = errors(diagnostics, GOOD)
    assert not found, "good.py must type-check:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("sample", BAD, ids=lambda p: p.stem)
def test_bad_sample_fails_with_the_expected_errors(
    sample: Path, diagnostics: dict[Path, list[Diagnostic]]
) -> None:
    expected = expectations(sample)
    assert expected, f"{sample.name} has no '# expect[code]: message' marker"
    found = errors(diagnostics, sample)
    missing = [
        e
        for e in expected
        if not any(d.line == e.line and d.code == e.code and e.text in d.message for d in found)
    ]
    unexpected = [
        d
        for d in found
        if not any(d.line == e.line and d.code == e.code and e.text in d.message for e in expected)
    ]
    report = "mypy said:\n" + "\n".join(map(str, found))
    assert not missing, f"{sample.name}: expected but not reported: {missing}\n{report}"
    assert not unexpected, f"{sample.name}: reported but not expected\n{report}"


# ---------------------------------------------------------------------------------------------
# what type-checks also runs


class RecordingCaller:
    """A Caller that records calls and answers each with a canned value."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[MoRef | ManagedObject, str, dict[str, Any]]] = []

    def call(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any:
        self.calls.append((this, method, params))
        return self.answer


def load_good() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_spherekit_typecheck_good", GOOD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_good_sample_runs() -> None:
    from spherekit.schema.vim25.data import InvalidPowerState
    from spherekit.schema.vim25.enums import VirtualMachinePowerState
    from spherekit.schema.vim25.managed import Task

    good = load_good()
    assert good.config_spec().numCPUs == 2

    caller = RecordingCaller(answer=MoRef("Task", "task-1"))
    task = good.power_on(caller)
    assert isinstance(task, Task)
    assert task.ref == MoRef("Task", "task-1")
    vm = MoRef("VirtualMachine", "vm-1")
    assert caller.calls == [
        (vm, "PowerOnVM_Task", {"host": None}),
        (vm, "PowerOnVM_Task", {"host": ManagedObject(caller, MoRef("HostSystem", "host-1"))}),
        (vm, "PowerOnVM_Task", {"host": MoRef("HostSystem", "host-2")}),
    ]

    caller.calls.clear()
    good.clone(caller)
    [(this, method, params)] = caller.calls
    assert (this, method) == (vm, "CloneVM_Task")
    assert params["name"] == "copy"
    assert params["folder"].ref == MoRef("Folder", "group-v3")

    retrieving = RecordingCaller(answer=None)
    assert good.retrieve(retrieving) is None
    [(this, method, params)] = retrieving.calls
    assert (this, method) == (
        MoRef("PropertyCollector", "propertyCollector"),
        "RetrievePropertiesEx",
    )
    assert params["specSet"][0].objectSet[0].obj == vm

    fault = InvalidPowerState(existingState=VirtualMachinePowerState.poweredOn)
    assert good.fault_state(fault) is VirtualMachinePowerState.poweredOn
    assert good.fault_state(ValueError("not a fault")) is None
