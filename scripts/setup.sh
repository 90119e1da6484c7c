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
lock_stamp=.venv/.lock-$(cat requirements/build.lock requirements/dev.lock | sha256sum | cut -c1-16)
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
# Bytecode, compiled once here rather than at every start: uv does not compile by default, and a
# process that may not write __pycache__ (PYTHONDONTWRITEBYTECODE, a read-only venv) compiles
# every module it imports from source each time it starts: about 0.4 s of CPU for each CLI
# command and 0.6 s for the station, on each of the suite's hundreds of processes. A venv made
# before this step gets it once (the stamp); the project's own modules are compiled on every
# run (quick when nothing changed; a module edited since is compiled in memory until then).
bytecode_stamp=.venv/.bytecode-$(basename "$lock_stamp")
if [ ! -f "$bytecode_stamp" ]; then
  .venv/bin/python -m compileall -q -j 0 .venv/lib >/dev/null || true  # a few test data files do not parse
  touch "$bytecode_stamp"
fi
.venv/bin/python -m compileall -q -j 0 app central contract core edge firmware_bridge sync testbed tests \
  >/dev/null
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
