#!/usr/bin/env bash
# Runs the local shard from a build dir: masterserver (s2s 7000, player logins
# 7002), chatserver (7001) and gameserver (7777, metrics 9177) with prefixed
# logs ([master] [chat] [game]).  Usage: shard.sh BUILD_DIR [gameserver args].
# Ctrl-C / SIGTERM stops all three (gameserver first, so it saves its players).
#
# The first run creates a persistent dev directory (DEV_DIR, default
# BUILD_DIR/dev, mode 0700): the links' shared secret (s2s.secret), the login
# server's identity (login.key; `masterserver --show-keys` prints it), its
# account store (master.db) with a `dev` account of role gm whose random
# password is in dev.password, the operator's console secret (admin.secret),
# and gameserver.json (auth.mode "dev" with the
# login server's public key, links.secret_file).  Later runs reuse it; delete
# the directory to start over.  LINK_SECRET_FILE=FILE: the links' secret
# from that file instead of s2s.secret (tools/README.md, "Server-to-server
# links").
set -euo pipefail
dir=${1:?usage: shard.sh BUILD_DIR [gameserver args]}; shift
MASTER_PORT=${MASTER_PORT:-7000}
LOGIN_PORT=${LOGIN_PORT:-7002}
CHAT_PORT=${CHAT_PORT:-7001}
GAME_PORT=${GAME_PORT:-7777}
ADMIN_PORT=${ADMIN_PORT:-9178}
DEV_DIR=${DEV_DIR:-$dir/dev}
for b in tools/masterserver/masterserver tools/chatserver/chatserver server/gameserver; do
  [ -x "$dir/$b" ] || { echo "shard.sh: $dir/$b not built" >&2; exit 1; }
done
master_bin=$dir/tools/masterserver/masterserver

# ---- the dev directory: secret, login identity, dev account, game config ----
die() { echo "shard.sh: $*" >&2; exit 1; }
random_text() { # N random bytes as hex
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}
setup_dev() {
  mkdir -p "$DEV_DIR" && chmod 700 "$DEV_DIR"
  DEV_DIR=$(cd "$DEV_DIR" && pwd)
  umask 077
  SECRET=${LINK_SECRET_FILE:-$DEV_DIR/s2s.secret}
  [ -z "${LINK_SECRET_FILE:-}" ] || [ -s "$LINK_SECRET_FILE" ] || die "LINK_SECRET_FILE $LINK_SECRET_FILE is empty or missing"
  SECRET=$(cd "$(dirname "$SECRET")" && pwd)/$(basename "$SECRET")
  if [ -z "${LINK_SECRET_FILE:-}" ] && [ ! -s "$DEV_DIR/s2s.secret" ]; then
    random_text 32 > "$DEV_DIR/s2s.secret.tmp" && echo >> "$DEV_DIR/s2s.secret.tmp"
    mv "$DEV_DIR/s2s.secret.tmp" "$DEV_DIR/s2s.secret"
  fi
  local keys
  keys=$("$master_bin" --show-keys --key-file "$DEV_DIR/login.key") ||
    die "masterserver --show-keys failed"
  SIGN_PK=$(awk '$1 == "sign_pk" { print $2 }' <<<"$keys")
  KX_PK=$(awk '$1 == "kx_pk" { print $2 }' <<<"$keys")
  [ ${#SIGN_PK} = 64 ] && [ ${#KX_PK} = 64 ] || die "unexpected --show-keys output: $keys"
  if [ ! -s "$DEV_DIR/admin.secret" ]; then # the operator's console (server/README.md)
    random_text 24 > "$DEV_DIR/admin.secret.tmp" && echo >> "$DEV_DIR/admin.secret.tmp"
    mv "$DEV_DIR/admin.secret.tmp" "$DEV_DIR/admin.secret"
  fi
  DEV_PASSWORD_NEW=
  if [ ! -s "$DEV_DIR/dev.password" ]; then
    random_text 12 > "$DEV_DIR/dev.password.tmp" && echo >> "$DEV_DIR/dev.password.tmp"
    "$master_bin" --db "$DEV_DIR/master.db" --key-file "$DEV_DIR/login.key" \
      --add-account dev --role gm < "$DEV_DIR/dev.password.tmp" >/dev/null ||
      die "cannot create the dev account (an old $DEV_DIR/master.db? delete $DEV_DIR to start over)"
    mv "$DEV_DIR/dev.password.tmp" "$DEV_DIR/dev.password"
    DEV_PASSWORD_NEW=$(head -n1 "$DEV_DIR/dev.password")
  fi
  cat > "$DEV_DIR/gameserver.json" <<JSON
{
  "auth": {"mode": "dev", "login_public_key": "$SIGN_PK"},
  "links": {"secret_file": "$SECRET"},
  "admin": {"secret_file": "$DEV_DIR/admin.secret", "port": $ADMIN_PORT}
}
JSON
  umask 022
}
setup_dev

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/shard.XXXXXX")
declare -A pid_of=() up_since=() delay=() due=() cmd_of=()
RESTART_PEERS=${RESTART_PEERS:-1}    # 0: a dead master/chat stays down
RESTART_MAX_S=${RESTART_MAX_S:-30}   # back-off ceiling (1 s doubling)

# start NAME CMD...: runs CMD with stdout+stderr prefixed "[NAME] ", line
# buffered; stdout is also copied to $run_dir/NAME.out to spot READY.
# Ctrl-C in a terminal signals the whole foreground process group at once;
# the servers get their own session (setsid) and the log pipes ignore SIGINT,
# so only this script sees it and stops them in order: game first (it saves
# its players), then chat, then master.
start() {
  local name=$1; shift
  cmd_of[$name]=$(printf '%q ' "$@")
  setsid "$@" > >(trap '' INT; stdbuf -oL tee "$run_dir/$name.out" | sed -u "s/^/[$name] /") \
       2> >(trap '' INT; sed -u "s/^/[$name] /" >&2) &
  pid_of[$name]=$!
  up_since[$name]=$SECONDS
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
stop_all() { # game first (it saves its players), then chat, then master
  [ $stopping = 1 ] && return; stopping=1
  echo "shard.sh: stopping" >&2
  local name
  for name in game chat master; do
    [ -n "${pid_of[$name]:-}" ] || continue
    kill -TERM "${pid_of[$name]}" 2>/dev/null || true
    wait "${pid_of[$name]}" 2>/dev/null || true
  done
  rm -rf "$run_dir"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

secret=$SECRET
start master "$master_bin" --port "$MASTER_PORT" --login-port "$LOGIN_PORT" \
  --db "$DEV_DIR/master.db" --key-file "$DEV_DIR/login.key" --open-registration \
  --secret-file "$secret"
wait_ready master
start chat "$dir/tools/chatserver/chatserver" --port "$CHAT_PORT" --secret-file "$secret"
wait_ready chat
start game "$dir/server/gameserver" --config "$DEV_DIR/gameserver.json" --port "$GAME_PORT" \
  --master-port "$MASTER_PORT" --chat-port "$CHAT_PORT" "$@"
wait_ready game
METRICS_PORT=$(sed -n 's/^READY .*metrics_port=\([0-9]*\).*/\1/p' "$run_dir/game.out" | head -n1)
tc=$dir/tools/testclient/testclient
{
  echo "shard.sh: master :$MASTER_PORT (player logins :$LOGIN_PORT), chat :$CHAT_PORT," \
       "game :$GAME_PORT ready (Ctrl-C stops all). Dev files: $DEV_DIR"
  echo "  name-only login (auth.mode dev):  $tc --port $GAME_PORT     then: login NAME"
  echo "  with an account:  $tc --login 127.0.0.1:$LOGIN_PORT --password-file $DEV_DIR/dev.password"
  echo "                    then: login dev    play NAME      (register NAME: open registration)"
  echo "  login server key (the client pins it on first use): $KX_PK"
  echo "  operator's console: $tc --admin 127.0.0.1:$ADMIN_PORT --admin-secret-file $DEV_DIR/admin.secret status"
  if [ -n "$METRICS_PORT" ] && [ "$METRICS_PORT" != 0 ]; then
    echo "  status page: http://127.0.0.1:$METRICS_PORT/status"
  fi
  echo "  shard table: $master_bin --list 127.0.0.1:$MASTER_PORT --secret-file $secret"
  if [ -n "$DEV_PASSWORD_NEW" ]; then
    echo "  created account 'dev' (role gm), password: $DEV_PASSWORD_NEW (in $DEV_DIR/dev.password)"
  fi
  echo "  pids: master ${pid_of[master]}, chat ${pid_of[chat]}, game ${pid_of[game]} (in $run_dir)"
} >&2

# Supervision.  The game server exiting ends the shard (with its exit code).
# The master or the chat server exiting does not: the game server keeps
# running (its links reconnect with back-off), and this script restarts the
# peer after 1 s, doubling up to RESTART_MAX_S while it keeps dying (reset
# once it has stayed up for a minute); RESTART_PEERS=0 leaves it down.
# Polling (0.2 s): `wait -n` cannot say which child ended.
while :; do
  for name in game chat master; do
    pid=${pid_of[$name]:-}
    [ -n "$pid" ] || continue
    kill -0 "$pid" 2>/dev/null && continue
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    pid_of[$name]=
    if [ "$name" = game ]; then
      echo "shard.sh: game exited (status $rc); stopping the others" >&2
      stop_all; trap - EXIT; exit "$rc"
    fi
    if [ "$RESTART_PEERS" = 0 ]; then
      echo "shard.sh: $name exited (status $rc); left down (RESTART_PEERS=0), the game goes on" >&2
      continue
    fi
    if (( SECONDS - ${up_since[$name]} >= 60 )); then delay[$name]=1; fi
    d=${delay[$name]:-1}
    due[$name]=$((SECONDS + d))
    delay[$name]=$(( d * 2 > RESTART_MAX_S ? RESTART_MAX_S : d * 2 ))
    echo "shard.sh: $name exited (status $rc); restarting it in $d s, the game goes on" >&2
  done
  for name in chat master; do
    [ -n "${due[$name]:-}" ] && (( SECONDS >= ${due[$name]} )) || continue
    due[$name]=
    eval "start $name ${cmd_of[$name]}"
    echo "shard.sh: $name restarted (pid ${pid_of[$name]})" >&2
  done
  sleep 0.2
done
