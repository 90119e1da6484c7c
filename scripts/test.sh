#!/usr/bin/env bash
# The project's test command: set-up, then lint, type check and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The sync tests use the PostgreSQL server CI runs as a service (127.0.0.1:5432); give a
# server that is still starting a moment. Its absence is reported by the tests themselves.
if command -v pg_isready >/dev/null 2>&1; then
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
# Let pytest keep its rewritten test modules and the processes the tests start keep what they
# compile (__pycache__, ignored by git): an environment that sets PYTHONDONTWRITEBYTECODE would
# otherwise have every one of some hundreds of processes compile the same modules again.
unset PYTHONDONTWRITEBYTECODE
.venv/bin/ruff check .
# pytest rewrites the asserts of every test module on import and caches the result beside it
# (tests/__pycache__); on a fresh clone each worker would otherwise rewrite all of them itself
# (about 4 CPU-s each, measured). One collection does it once, on the core mypy leaves idle;
# an error in it is reported by the run below.
.venv/bin/pytest --collect-only -q -p no:cacheprovider >/dev/null 2>&1 &
warm=$!
trap 'kill "$warm" 2>/dev/null || true' EXIT  # mypy failing ends it too
.venv/bin/mypy
wait "$warm" || true
trap - EXIT
# Most tests wait on processes, brokers, browsers and serial ptys rather than compute, so
# six workers keep two cores busy (measured from a fresh clone: 174 s with four, 154 s with
# five, 144 and 149 s with six); PYTEST_WORKERS=0 runs them in one process.
exec .venv/bin/pytest -n "${PYTEST_WORKERS:-6}" --dist loadgroup "$@"
