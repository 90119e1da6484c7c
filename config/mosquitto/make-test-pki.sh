#!/usr/bin/env bash
# Make TEST CAs (ca: broker + stations; central-ca: CNs starting with "central"),
# a broker certificate (CN/SAN localhost, 127.0.0.1) and client certificates
# whose CN is the MQTT username (station ids, central-ingest, central-admin).
# usage: config/mosquitto/make-test-pki.sh OUT_DIR [CLIENT_CN ...]
# default clients: central-ingest central-admin hz-xh-zjg-01
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-config/mosquitto/pki}"
shift || true
clients=("$@")
((${#clients[@]})) || clients=(central-ingest central-admin hz-xh-zjg-01)
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" -m testbed.pki "$out" "${clients[@]}"
