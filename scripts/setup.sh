#!/usr/bin/env bash
# Set up a fresh machine for spherekit: Debian packages for the vcsim peer, a virtualenv
# with spherekit and its test dependencies, and the vcsim binary. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)  # builds spherekit/wire/_scan.c
command -v go >/dev/null 2>&1 || need_apt+=(golang-go)
[ -d /usr/share/gocode/src/github.com/vmware/govmomi ] || need_apt+=(golang-github-vmware-govmomi-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
log=$(mktemp)
if ! .venv/bin/python -m pip install -q -e '.[test]' >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
rm -f "$log"
bash tools/vcsim/build.sh >/dev/null
