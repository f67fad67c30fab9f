#!/usr/bin/env bash
# Idle sessions: user-space bytes per session of the gameserver.
#   bash tools/bench/idle_sessions.sh [BUILD_DIR]      (default build/release)
# env: SESSIONS (20000), MODES ("login tcp"), GS_ARGS (extra gameserver args).
# For each mode a fresh gameserver (so freed memory of an earlier run is not
# reused), then gs_idle_sessions (see tools/bench/idle_sessions.c for the
# method: server VmRSS delta / sessions).  The fd limit caps SESSIONS: the
# server needs its own ~20 fds besides the sessions.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/release}
gs=$dir/server/gameserver; tool=$dir/tools/bench/gs_idle_sessions
for b in "$gs" "$tool"; do [ -x "$b" ] || { echo "idle_sessions.sh: $b not built" >&2; exit 1; }; done
ulimit -n "$(ulimit -Hn)"
want=${SESSIONS:-20000}
max=$(( $(ulimit -n) - 64 ))
if (( want > max )); then
  echo "idle_sessions.sh: fd limit $(ulimit -n) (hard): $want sessions do not fit in one server, using $max" >&2
  want=$max
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/idle.XXXXXX")
gs_pid=
cleanup() { [ -n "$gs_pid" ] && kill "$gs_pid" 2>/dev/null && wait "$gs_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# the pre-login limits would close tcp-only sessions, and the new-character
# limit would refuse 20,000 fresh names a minute: raised for the measurement
relax=(--set limits.login_timeout_ms=3600000 --set limits.max_prelogin=$((want + 100))
       --set limits.new_characters_per_min_global=1000000)
for mode in ${MODES:-login tcp}; do
  rm -f "$work"/gs.db*
  "$gs" --port 0 --metrics-port 0 --db "$work/gs.db" --chat-port 0 --master-port 0 \
        --log-level warn --set listen.max_sessions=$((want + 100)) \
        --set listen.idle_timeout_ms=600000 --set auth.mode=dev "${relax[@]}" ${GS_ARGS:-} >"$work/out" 2>"$work/err" &
  gs_pid=$!
  for _ in $(seq 100); do grep -q '^READY' "$work/out" && break; sleep 0.1; done
  read -r port mport < <(sed -n 's/^READY port=\([0-9]*\) metrics_port=\([0-9]*\).*/\1 \2/p' "$work/out")
  [ -n "${port:-}" ] || { echo "idle_sessions.sh: gameserver not ready" >&2; cat "$work/err" >&2; exit 1; }
  echo "== mode $mode: $want sessions"
  "$tool" --port "$port" --metrics-port "$mport" --pid "$gs_pid" --sessions "$want" --mode "$mode" || true
  kill -TERM "$gs_pid"; wait "$gs_pid" || true; gs_pid=
done
