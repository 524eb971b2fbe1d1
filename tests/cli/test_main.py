"""The root command: every noun listed in --help, but only the noun being run imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spherekit.cli.main import NOUNS, load, parser
from tests.cli.conftest import Run

NOUN_MODULES = {f"spherekit.cli.{module}" for module, _ in NOUNS.values()}

# runs the CLI in a fresh interpreter, then prints which noun modules it imported
PROBE = """
import json, sys
from spherekit.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("\\n" + json.dumps(sorted(m for m in sys.modules if m.startswith("spherekit."))))
"""


def imported(env: dict[str, str], *argv: str) -> set[str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.strip().splitlines()[-1]))


def subcommand_help(p: object) -> dict[str, str | None]:
    import argparse

    assert isinstance(p, argparse.ArgumentParser)
    (action,) = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    return {a.dest: a.help for a in action._choices_actions}


def test_help_lists_every_noun_and_imports_none(cli: Run, env: dict[str, str]) -> None:
    p = cli("--help")
    assert p.returncode == 0
    for noun, (_, text) in NOUNS.items():
        assert f"    {noun} " in p.stdout
        assert text.split()[0] in p.stdout
    assert not imported(env, "--help") & NOUN_MODULES


def test_a_command_imports_only_its_own_noun(env: dict[str, str]) -> None:
    loaded = imported(env, "--json", "journal")
    assert loaded & NOUN_MODULES == {"spherekit.cli.journal"}
    # no lab, no simulator, for an offline verb (only the parser class of spherekit.sim.command)
    assert not {m for m in loaded if m.startswith("spherekit.sim.")} - {"spherekit.sim.command"}
    loaded = imported(env, "vm", "--help")
    assert "spherekit.cli.vm" in loaded
    assert not loaded & (NOUN_MODULES - {"spherekit.cli.vm", "spherekit.cli.inventory"})


@pytest.mark.parametrize("noun", sorted(NOUNS))
def test_the_table_says_what_each_module_says(noun: str) -> None:
    # the table's help is what --help shows; the module's is what it registers
    listed = subcommand_help(parser())
    real = subcommand_help(parser(noun))
    assert listed[noun] == NOUNS[noun][1]
    assert real[noun] == NOUNS[noun][1], (
        f"spherekit/cli/{NOUNS[noun][0]}.py says {real[noun]!r} for {noun!r}: "
        "update NOUNS in spherekit/cli/main.py"
    )
    assert list(real) == list(listed)  # same nouns, same order
    assert load(noun).__name__ == f"spherekit.cli.{NOUNS[noun][0]}"


def test_unknown_noun_and_flag_are_one_line_usage_errors(cli: Run) -> None:
    for argv in (["bogus"], ["--bogus", "vm", "ls"], []):
        p = cli(*argv)
        assert p.returncode == 2 and p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "invalid choice: 'bogus'" in cli("bogus").stderr
    p = cli("vm", "bogus")
    assert p.returncode == 2 and "invalid choice" in p.stderr
