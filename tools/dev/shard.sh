#!/usr/bin/env bash
# Runs the local shard from a build dir: masterserver (7000), chatserver (7001)
# and gameserver (7777, metrics 9177) with prefixed logs ([master] [chat]
# [game]).  Usage: shard.sh BUILD_DIR [gameserver args].  Ctrl-C / SIGTERM
# stops all three (gameserver first, so it saves its players).  The links
# are authenticated with LINK_SECRET_FILE, or a fresh random secret made in
# the run dir (tools/README.md, "Server-to-server links").
set -euo pipefail
dir=${1:?usage: shard.sh BUILD_DIR [gameserver args]}; shift
MASTER_PORT=${MASTER_PORT:-7000}
CHAT_PORT=${CHAT_PORT:-7001}
GAME_PORT=${GAME_PORT:-7777}
for b in tools/masterserver/masterserver tools/chatserver/chatserver server/gameserver; do
  [ -x "$dir/$b" ] || { echo "shard.sh: $dir/$b not built" >&2; exit 1; }
done
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/shard.XXXXXX")
pids=()
secret=${LINK_SECRET_FILE:-$run_dir/link.secret}
if [ -z "${LINK_SECRET_FILE:-}" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret")
fi

# start NAME CMD...: runs CMD with stdout+stderr prefixed "[NAME] ", line
# buffered; stdout is also copied to $run_dir/NAME.out to spot READY.
# Ctrl-C in a terminal signals the whole foreground process group at once;
# the servers get their own session (setsid) and the log pipes ignore SIGINT,
# so only this script sees it and stops them in order: game first (it saves
# its players), then chat, then master.
start() {
  local name=$1; shift
  setsid "$@" > >(trap '' INT; stdbuf -oL tee "$run_dir/$name.out" | sed -u "s/^/[$name] /") \
       2> >(trap '' INT; sed -u "s/^/[$name] /" >&2) &
  pids+=($!)
  echo "$!" > "$run_dir/$name.pid"
}

wait_ready() { # NAME: up to 10 s for its READY line
  local name=$1
  for _ in $(seq 100); do
    grep -q '^READY' "$run_dir/$name.out" 2>/dev/null && return 0
    kill -0 "$(cat "$run_dir/$name.pid")" 2>/dev/null || { echo "shard.sh: $name exited" >&2; return 1; }
    sleep 0.1
  done
  echo "shard.sh: $name not ready after 10 s" >&2; return 1
}

stopping=0
stop_all() { # reverse start order: game, chat, master
  [ $stopping = 1 ] && return; stopping=1
  echo "shard.sh: stopping" >&2
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  rm -rf "$run_dir"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

start master "$dir/tools/masterserver/masterserver" --port "$MASTER_PORT" --secret-file "$secret"
wait_ready master
start chat "$dir/tools/chatserver/chatserver" --port "$CHAT_PORT" --secret-file "$secret"
wait_ready chat
start game "$dir/server/gameserver" --port "$GAME_PORT" \
  --master-port "$MASTER_PORT" --chat-port "$CHAT_PORT" --set links.secret_file="$secret" "$@"
wait_ready game
echo "shard.sh: master :$MASTER_PORT, chat :$CHAT_PORT, game :$GAME_PORT ready." \
     "Connect: $dir/tools/testclient/testclient --port $GAME_PORT   (Ctrl-C stops all)" >&2
echo "shard.sh: shard table: $dir/tools/masterserver/masterserver --list 127.0.0.1:$MASTER_PORT" \
     "--secret-file $secret" >&2
# Any of the three exiting on its own ends the shard.
wait -n "${pids[@]}" || true
echo "shard.sh: a process exited; stopping the others" >&2
