#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job on the local lab: a simulated vCenter
# whose state lives in the user's data directory (SPHEREKIT_LAB overrides where). It
# imports an image, creates a group of nodes with cloud-init, waits for their addresses,
# snapshots one, lists them, and tears them down. Progress bars show on a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
sk() { echo "+ spherekit $*" >&2; .venv/bin/spherekit "$@"; }

sk image import tests/sim/data/tiny.ova --name demo-image
sk node create demo-image --group demo --count 3 --user-data examples/cloud-config.yaml
first=$(.venv/bin/spherekit node ls --group demo --json 2>/dev/null |
        .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["moref"])')
sk snapshot create "$first" before-upgrade
sk snapshot tree "$first"
sk node ls --group demo
sk node destroy --group demo
sk journal -n 8
