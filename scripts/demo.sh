#!/usr/bin/env bash
# Runs the station demo on simulated devices (no hardware needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/acceptance-station demo "$@"
