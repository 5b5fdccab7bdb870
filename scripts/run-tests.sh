#!/usr/bin/env bash
# Runs the whole test suite. Starts a throw-away PostgreSQL cluster on a free loopback port
# for the service tests and stops it afterwards, whatever the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
# The linter first, with the project's configuration (pyproject.toml): findings fail the run.
.venv/bin/ruff check src tests benchmarks || { echo "error: ruff found problems (see above)" >&2; exit 1; }
source scripts/pg-throwaway.sh
trap pg_stop EXIT
# The service tests run against PostgreSQL too; without it they fail under CI=true, so say why now.
pg_start || { echo "error: could not start the throw-away PostgreSQL (see scripts/pg-throwaway.sh)" >&2; exit 1; }
.venv/bin/python -m pytest "$@"
