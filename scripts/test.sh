#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check: lint, types, the generated code's sync,
# and all test tiers (unit, interop against vcsim and pyVmomi, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONDONTWRITEBYTECODE=
echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== generated code in sync"; .venv/bin/python tools/schema/generate.py --check
echo "== mypy --strict"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
