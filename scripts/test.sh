#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: lint, types, the generated code's sync,
# and all test tiers (unit, interop against vcsim and pyVmomi, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONDONTWRITEBYTECODE=
# the compiled bulk-read scanner is optional for users, not here: fail if it was not built
export SPHEREKIT_REQUIRE_SCAN=1
echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== generated code in sync"; .venv/bin/python tools/schema/generate.py --check
echo "== mypy --strict"; .venv/bin/mypy
echo "== docs/simulator.md in sync"; .venv/bin/python tools/sim/coverage.py --check
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
# the simulator and compute suites again, against the simulator served over HTTPS
echo "== pytest (simulator served)"
SPHEREKIT_SIM_MODE=served .venv/bin/python -m pytest -q tests/sim tests/compute "$@"
