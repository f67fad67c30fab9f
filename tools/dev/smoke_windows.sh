#!/usr/bin/env bash
# Mixed-platform smoke test: the Windows gameserver.exe (under Wine) serves
# the Linux testclient, and the Linux gameserver serves testclient.exe (under
# Wine): log in, move, chat in the zone, ping, log out; then an orderly stop.
# Then the links (issue 13): the Windows chatserver.exe and masterserver.exe
# authenticate the Linux gameserver with a shared secret file.
# Usage: smoke_windows.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
lin=${1:?usage: smoke_windows.sh LINUX_BUILD WINDOWS_BUILD}
win=${2:?usage: smoke_windows.sh LINUX_BUILD WINDOWS_BUILD}
export WINEPREFIX=${WINEPREFIX:-$PWD/build/wine} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smoke_win.XXXXXX")
gs_pid="" link_pids=()
cleanup() {
  [ -n "$gs_pid" ] && kill -KILL "$gs_pid" 2>/dev/null || true
  for p in "${link_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  if [ -n "${SMOKE_KEEP:-}" ]; then echo "smoke: logs in $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# start_gs NAME CMD...: starts a gameserver on a free port; sets gs_pid, gs_port
# (links off unless GS_LINKS holds extra arguments)
start_gs() {
  local name=$1; shift
  "$@" --port 0 --metrics-port -1 --chat-port 0 --master-port 0 --set auth.mode=dev --db "$tmp/$name.db" \
    ${GS_LINKS:-} >"$tmp/$name.out" 2>"$tmp/$name.err" &
  gs_pid=$!
  for _ in $(seq 300); do
    gs_port=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -n1)
    [ -n "$gs_port" ] && return 0
    kill -0 "$gs_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "smoke: $name did not get ready" >&2; cat "$tmp/$name.err" >&2; return 1
}

stop_gs() { # orderly stop (SIGINT), must exit 0
  local name=$1 rc=0
  kill -INT "$gs_pid"
  for _ in $(seq 100); do kill -0 "$gs_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$gs_pid" || rc=$?
  gs_pid=""
  if [ $rc -ne 0 ]; then
    echo "smoke: $name exited $rc after SIGINT" >&2; tail -5 "$tmp/$name.err" >&2; return 1
  fi
}

# play NAME PLAYER CLIENT...: a scripted session; checks the replies
play() {
  local name=$1 player=$2; shift 2
  printf 'login %s\nmove 503 500\nsay hello from %s\nping\nquit\n' "$player" "$name" |
    timeout 60 "$@" --port "$gs_port" >"$tmp/$name.client" 2>&1 ||
    { echo "smoke: $name client failed" >&2; cat "$tmp/$name.client" >&2; return 1; }
  tr -d '\r' <"$tmp/$name.client" >"$tmp/$name.txt"
  for want in "logged in as $player" "entered zone" "$player: hello from $name" "pong"; do
    grep -qi -- "$want" "$tmp/$name.txt" ||
      { echo "smoke: $name: no '$want' in:" >&2; cat "$tmp/$name.txt" >&2; return 1; }
  done
  echo "smoke: $name ok"
}

start_gs win-server wine "$win/server/gameserver.exe"
play "linux-client-to-windows-server" alice "$lin/tools/testclient/testclient"
stop_gs win-server

start_gs linux-server "$lin/server/gameserver"
play "windows-client-to-linux-server" bob wine "$win/tools/testclient/testclient.exe"
stop_gs linux-server

# start_link NAME EXE: a Windows link server with the secret; sets link_port
start_link() {
  local name=$1 exe=$2
  wine "$exe" --port 0 --secret-file "$tmp/link.secret" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  link_pids+=($!)
  for _ in $(seq 300); do
    link_port=$(tr -d '\r' <"$tmp/$name.out" | sed -n 's/^READY port=\([0-9]*\).*/\1/p' | head -n1)
    [ -n "$link_port" ] && return 0
    sleep 0.1
  done
  echo "smoke: $name did not get ready" >&2; cat "$tmp/$name.err" >&2; return 1
}
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/link.secret")
start_link win-chat "$win/tools/chatserver/chatserver.exe"; chat_port=$link_port
start_link win-master "$win/tools/masterserver/masterserver.exe"; master_port=$link_port
GS_LINKS="--chat-port $chat_port --master-port $master_port --set links.secret_file=$tmp/link.secret" \
  start_gs linux-linked "$lin/server/gameserver"
for want in "chat link up" "master link up"; do
  for _ in $(seq 100); do grep -q "$want" "$tmp/linux-linked.err" && break; sleep 0.1; done
  grep -q "$want" "$tmp/linux-linked.err" ||
    { echo "smoke: no '$want':" >&2; tail -5 "$tmp/linux-linked.err" >&2; exit 1; }
done
echo "smoke: linux-gameserver-links-to-windows-chat-and-master ok"
stop_gs linux-linked
echo "smoke: mixed Windows/Linux session passed"
