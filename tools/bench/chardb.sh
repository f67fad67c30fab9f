#!/usr/bin/env bash
# Issue 16: character save throughput, SQLite vs PostgreSQL, in one run on
# this machine.  Makes a throwaway PostgreSQL cluster (initdb under a temp
# dir, run as the user postgres when root, listening on 127.0.0.1 only, trust
# authentication for its one local test user; fsync and synchronous_commit
# on, as a deployment), runs bench_db --url against it (SQLite synchronous
# FULL in the same process, runs alternating), stops and removes it.
#   tools/bench/chardb.sh [BUILD_DIR] [bench_db flags...]   (default: --runs 5 --ops 2000)
set -euo pipefail
BUILD=${1:-build/release}
shift || true
BENCH=$BUILD/tools/bench/bench_db
[[ -x $BENCH ]] || { echo "chardb.sh: $BENCH not built" >&2; exit 1; }
BIN=${NC_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x $BIN/initdb ]] || { echo "chardb.sh: no PostgreSQL binaries (apt-get install postgresql)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR=$(mktemp -d /tmp/chardb_XXXXXX)
AS=()
if [[ $(id -u) == 0 ]]; then
  chown postgres: "$DIR"
  AS=(runuser -u postgres --)
fi
STARTED=0
cleanup() {
  if [[ $STARTED == 1 ]]; then "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
PORT=$(free_port)
"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U bench --auth=trust -E UTF8 --no-locale >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null
STARTED=1
"${AS[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U bench -d postgres -qc "CREATE DATABASE chardb"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (TCP), data in $DIR (fsync on)"
if [[ $# -eq 0 ]]; then set -- --runs 5 --ops 2000; fi
"$BENCH" --url "host=127.0.0.1 port=$PORT user=bench dbname=chardb" "$@"
