#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian / Raspberry Pi OS machine: system packages
# the project needs (installed only when missing), a virtualenv in .venv, and the
# project installed into it in editable mode with its dev tools, from the hashed lock
# files in requirements/ (scripts/lock.sh makes them).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv python3-dev libzbar0 mosquitto chromium fonts-noto-cjk espeak-ng)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

PY="${PYTHON:-python3}"
# The venv holds exactly the lock (requirements/dev.lock: station, central and dev tools,
# every file checked against its sha256). When a lock changes the venv is built anew, so
# nothing an older lock brought stays behind; a pyproject.toml change reinstalls the project.
# Modules are installed compiled (--compile-bytecode): with PYTHONDONTWRITEBYTECODE set, or a
# venv its user cannot write, every process would otherwise compile them anew at each start.
lock_stamp=.venv/.lock-c-$(cat requirements/build.lock requirements/dev.lock | sha256sum | cut -c1-16)
if [ ! -f "$lock_stamp" ]; then
  "$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
  rm -rf .venv
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --require-hashes -r requirements/build.lock >&2
  # build.lock brings uv (pinned, hashed); uv installs the lock in seconds where pip takes minutes.
  .venv/bin/uv pip install --quiet --python .venv/bin/python --require-hashes --no-build-isolation \
    --compile-bytecode -r requirements/dev.lock >&2
  touch "$lock_stamp"
fi
project_stamp=.venv/.project-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$project_stamp" ]; then
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps --no-build-isolation -e . >&2
  if ! broken=$(.venv/bin/python -m pip check); then
    echo "$broken" >&2
    echo "setup: pyproject.toml asks for what requirements/ does not hold: run scripts/lock.sh" >&2
    exit 1
  fi
  rm -f .venv/.project-*
  touch "$project_stamp"
fi
# The project's own modules, compiled where they are (each test and demo process imports them;
# only what changed since the last run is compiled again).
.venv/bin/python -m compileall -q -j 0 core contract firmware_bridge edge sync central app testbed tests >/dev/null

# Browser-side test tools (axe-core for the accessibility checks, tests/a11y.py), pinned with
# their sha512 in tests/vendor/package-lock.json and installed by npm's own client at set-up
# time, never at test time; the one file the tests load is copied to tests/vendor/axe.min.js.
vendor_stamp=tests/vendor/.installed-$(sha256sum tests/vendor/package-lock.json | cut -c1-16)
if [ ! -f "$vendor_stamp" ] || [ ! -f tests/vendor/axe.min.js ]; then
  if ! command -v npm >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing system package: npm" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >&2
  fi
  npm ci --prefix tests/vendor --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  cp tests/vendor/node_modules/axe-core/axe.min.js tests/vendor/axe.min.js
  rm -f tests/vendor/.installed-*
  touch "$vendor_stamp"
fi
