#!/usr/bin/env bash
# Regenerate the hashed lock files in requirements/ from pyproject.toml (uv pip compile).
#
#   scripts/lock.sh              keep the current pins, add/remove what pyproject.toml changed
#   scripts/lock.sh --upgrade    take the newest versions pyproject.toml allows
#
# One universal resolution for Linux (x86_64 for developers and CI, aarch64 for the Pi
# kiosks), from Python 3.11 up, one version per package; every line carries the sha256 of
# every file PyPI has for that version, so the same lock installs on both architectures.
# dev.lock is resolved first; station.lock and central.lock are constrained to its pins, so
# a kiosk runs exactly the versions the tests ran. Needs the dev venv (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
[ -x "$UV" ] || { echo "lock: $UV missing: run scripts/setup.sh first" >&2; exit 1; }
compile() {  # compile OUTPUT [uv args...]
  local out="$1"; shift
  "$UV" pip compile --quiet --universal --python-version 3.11 --fork-strategy fewest \
    --generate-hashes --custom-compile-command "scripts/lock.sh" -o "$out" "$@"
}
compile requirements/build.lock requirements/build.in "$@"
compile requirements/dev.lock pyproject.toml --extra central --extra dev "$@"
for out in central station; do  # dev's pins are the preferences: the same versions, a subset
  cp requirements/dev.lock "requirements/$out.lock"
done
compile requirements/central.lock pyproject.toml --extra central
compile requirements/station.lock pyproject.toml
echo "lock: wrote requirements/{build,station,central,dev}.lock; run scripts/setup.sh to install" >&2
