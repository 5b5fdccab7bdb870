# Sourced by run-tests.sh: pg_start / pg_stop for a throw-away PostgreSQL cluster.
# Exports STATCODER_TEST_POSTGRES_URL for the tests.
pg_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bindir" ] || { echo "PostgreSQL is not installed (bash scripts/system-deps.sh)" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/statcoder-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR" 2>/dev/null || { useradd -r postgres 2>/dev/null; chown postgres "$PG_DIR"; }
    run_as=(runuser -u postgres --)
  fi
  PG_RUN_AS=("${run_as[@]}")
  PG_BINDIR=$bindir
  "${run_as[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U statcoder --auth=trust -E UTF8 >/dev/null || return 1
  "${run_as[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
     -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || return 1
  "${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$PG_PORT" -U statcoder statcoder_test || return 1
  export STATCODER_TEST_POSTGRES_URL="postgresql+psycopg://statcoder@127.0.0.1:$PG_PORT/statcoder_test"
  echo "throw-away PostgreSQL on 127.0.0.1:$PG_PORT"
}
pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$PG_DIR"
}
