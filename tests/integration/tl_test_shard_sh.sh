#!/usr/bin/env bash
# tools/dev/shard.sh supervision (issue 14): killing the chat server or the
# master does not stop the shard -- the game server keeps running, the peer
# is restarted and the game's link comes back up; SIGTERM stops all three;
# the game server exiting ends the script.  Usage: tl_test_shard_sh.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: tl_test_shard_sh.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tl_shard_sh.XXXXXX")
out=$work/shard.out
spid=
fail() { echo "FAIL: $*"; echo "---- shard.sh output"; cat "$out"; exit 1; }
cleanup() {
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# five consecutive free ports (127.0.0.1), from a random base below the
# kernel's ephemeral range (32768-60999 by default), so the servers' own
# outgoing connections cannot take one between this check and the bind
free_base() {
  local base p ok
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 12000)); ok=1 # below the ephemeral range (32768-): no outgoing connection takes them meanwhile
    for p in $(seq "$base" $((base + 4))); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { ok=0; break; }
    done
    [ $ok = 1 ] && { echo "$base"; return 0; }
  done
  return 1
}
wait_for() { # PATTERN COUNT SECONDS: COUNT lines of out matching PATTERN
  local end=$((SECONDS + $3))
  while (( SECONDS <= end )); do
    (( $(grep -c -- "$1" "$out") >= $2 )) && return 0
    sleep 0.1
  done
  fail "no $2 line(s) '$1' within $3 s"
}
base=$(free_base) || fail "no free ports"
cd "$work" || exit 1
MASTER_PORT=$base LOGIN_PORT=$((base + 1)) CHAT_PORT=$((base + 2)) GAME_PORT=$((base + 3)) \
  ADMIN_PORT=$((base + 4)) DEV_DIR=$work/dev RESTART_MAX_S=2 \
  bash "$src/tools/dev/shard.sh" "$build" --metrics-port -1 --set listen.host=127.0.0.1 \
  > "$out" 2>&1 &
spid=$!
wait_for "pids: master" 1 30
read -r mpid cpid gpid < <(sed -n 's/.*pids: master \([0-9]*\), chat \([0-9]*\), game \([0-9]*\).*/\1 \2 \3/p' "$out")
[ -n "$gpid" ] || fail "no pids line"
wait_for "chat link up" 1 10

kill -KILL "$cpid"
wait_for "shard.sh: chat exited" 1 10
wait_for "shard.sh: chat restarted" 1 10
wait_for "chat link up" 2 15
kill -0 "$gpid" || fail "the game server died with the chat server"
grep -q "stopping the others" "$out" && fail "the shard stopped"

kill -TERM "$mpid"
wait_for "shard.sh: master restarted" 1 10
wait_for "master link up" 2 15
kill -0 "$gpid" || fail "the game server died with the master"

kill -TERM "$spid"
wait "$spid"; rc=$?; spid=
[ $rc = 0 ] || fail "shard.sh exited $rc on SIGTERM"
for p in "$gpid" $(sed -n 's/^shard.sh: \(chat\|master\) restarted (pid \([0-9]*\)).*/\2/p' "$out"); do
  kill -0 "$p" 2>/dev/null && fail "pid $p still running after SIGTERM"
done
echo "PASS: chat and master restarted, game kept running, SIGTERM stopped all"
