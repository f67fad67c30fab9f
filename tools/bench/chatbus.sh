#!/usr/bin/env bash
# Issue 16: cross-shard chat latency and throughput, Redis bus vs the bundled
# chat server, in one run on this machine.  Starts a redis-server and a
# chatserver on free ports, two game servers on each bus, runs
# chatbus_bench against each pair (median of --runs, min-max), stops all.
#   tools/bench/chatbus.sh [BUILD_DIR] [chatbus_bench flags...]
set -euo pipefail
BUILD=${1:-build/release}
shift || true
GS=$BUILD/server/gameserver
CS=$BUILD/tools/chatserver/chatserver
BENCH=$BUILD/tools/bench/chatbus_bench
REDIS=$(command -v redis-server) || { echo "redis-server missing: apt-get install redis-server" >&2; exit 1; }
for b in "$GS" "$CS" "$BENCH"; do [[ -x $b ]] || { echo "missing $b: build it first" >&2; exit 1; }; done
DIR=$(mktemp -d /tmp/chatbus_XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# waits for "READY port=N" in a log; prints N
ready() {
  for _ in $(seq 1 200); do
    if grep -q "READY port=" "$1" 2>/dev/null; then sed -n 's/.*READY port=\([0-9]*\).*/\1/p' "$1" | head -1; return; fi
    sleep 0.05
  done
  echo "no READY in $1" >&2; exit 1
}

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/s2s.secret"; echo >> "$DIR/s2s.secret"
chmod 600 "$DIR/s2s.secret"
RP=$(free_port)
"$REDIS" --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --daemonize no > "$DIR/redis.log" 2>&1 &
PIDS+=($!)
"$CS" --port 0 --secret-file "$DIR/s2s.secret" --log-level warn > "$DIR/chat.log" 2>&1 &
PIDS+=($!)
CP=$(ready "$DIR/chat.log")

COMMON=(--port 0 --metrics-port -1 --master-port 0 --log-level warn --set auth.mode=dev
        --set chat.rate_per_s=1000 --set chat.burst=1000 --set limits.budget_per_s=0)
start_gs() { # name bus
  local name=$1 bus=$2
  local extra=(--chat-port "$CP" --set "links.secret_file=$DIR/s2s.secret")
  [[ $bus == redis ]] && extra=(--chat-port 0 --set chat.bus=redis --set "redis.port=$RP")
  "$GS" "${COMMON[@]}" --db "$DIR/$name.db" --shard "$name" "${extra[@]}" > "$DIR/$name.log" 2>&1 &
  PIDS+=($!)
}
start_gs ca chatserver; start_gs cb chatserver; start_gs ra redis; start_gs rb redis
CA=$(ready "$DIR/ca.log"); CB=$(ready "$DIR/cb.log"); RA=$(ready "$DIR/ra.log"); RB=$(ready "$DIR/rb.log")
echo "# chatbus: chat server on $CP, redis on $RP; $(nproc) CPUs"
"$BENCH" --a "$CA" --b "$CB" --label chatserver "$@"
# whispers cross shards on the Redis bus only (the chat server relays shouts)
"$BENCH" --a "$RA" --b "$RB" --label redis --whispers 200 "$@"
