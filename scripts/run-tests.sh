#!/usr/bin/env bash
# Runs the whole test suite. Starts a throw-away PostgreSQL cluster on a free loopback port
# for the service tests and stops it afterwards, whatever the outcome.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pg-throwaway.sh
pg_start
trap pg_stop EXIT
.venv/bin/python -m pytest "$@"
