#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job against the local lab. Until spherekit's
# own simulator lands, the lab is govmomi's vcsim, built from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
vcsim=$(bash tools/vcsim/build.sh)
out=$(mktemp)
"$vcsim" >"$out" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
url=$(head -n1 "$out")
hostport=${url#*@}; hostport=${hostport%%/*}
# pin the lab's certificate by its SHA-256 thumbprint (TLS stays verified)
thumb=$(.venv/bin/python - "$hostport" <<'PY'
import hashlib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, int(port))))
print(":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()))
PY
)
.venv/bin/python examples/tour.py "$url" --thumbprint "$thumb"
