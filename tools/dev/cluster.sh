#!/usr/bin/env bash
# A local realm (issue 16, docs/scale-out.md): one throwaway PostgreSQL
# cluster, one redis-server, two login servers (masterserver) sharing one
# accounts database and one identity file, and three game servers (shards
# shard-a, shard-b, shard-c) with chat.bus "redis".  Each process logs to
# CLUSTER_DIR/logs/NAME.log.  Prints how to connect; Ctrl-C (or SIGTERM)
# stops everything, game servers first (they save their players and delete
# their presence keys), then the login servers, Redis, PostgreSQL.
#
#   cluster.sh                   setup.sh, builds build/release (like run.sh), runs the realm
#   cluster.sh BUILD_DIR         runs the realm from an existing build
#   cluster.sh --check [BUILD_DIR]
#       everything on free ports under a temporary CLUSTER_DIR, then scripted
#       testclients check: both login servers list all three shards; an
#       account registered through login server 1 logs in through login
#       server 2 and plays on shard-a, another through login server 1 on
#       shard-c; a whisper from a player on shard-a reaches a player on
#       shard-c; a shout reaches players on all three shards; an orderly stop
#       leaves no presence key; every process exits 0.  Exit 0 when every
#       check passed, 1 with the reason.
#
# Character store: PostgreSQL (a database per shard: shard_a, shard_b,
# shard_c) when this build's gameserver has `database.driver`, else SQLite
# (CLUSTER_DIR/shard-X.db); the script says which (CHAR_STORE=sqlite|postgres
# forces one).  Registry: every game server registers with both login
# servers (master.port and master.extra), so each lists all three shards
# (docs/scale-out.md).
#
# CLUSTER_DIR (default BUILD_DIR/cluster; --check: a temporary one, removed)
# keeps between runs: the PostgreSQL data (pg/), its superuser password
# (pg.password), Redis's password (redis.password), the links' secret
# (s2s.secret), the login identity (login.key), the operator's console
# secret (admin.secret) and a `dev` account of role gm (dev.password).
# Delete it to start over.  Ports (env): PG_PORT 5433, REDIS_PORT 6380,
# MASTER1_PORT 7000 LOGIN1_PORT 7002, MASTER2_PORT 7010 LOGIN2_PORT 7012,
# game 7777/7787/7797 (GAME_PORT_A/B/C), metrics 9177/9187/9197
# (METRICS_PORT_A/B/C), console 9178/9188/9198 (ADMIN_PORT_A/B/C).  Needs:
# postgresql, redis-server (tools/dev/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."

check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
if [ $# -gt 1 ] || [[ "${1:-}" == -* ]]; then
  echo "usage: cluster.sh [--check] [BUILD_DIR]" >&2; exit 2
fi
if [ $# = 1 ]; then
  dir=$1
else
  bash tools/dev/setup.sh
  cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/release -j"$(nproc)"
  dir=build/release
fi
dir=$(cd "$dir" && pwd)
die() { echo "cluster.sh: $*" >&2; exit 1; }
for b in tools/masterserver/masterserver server/gameserver tools/testclient/testclient; do
  [ -x "$dir/$b" ] || die "$dir/$b not built"
done
master_bin=$dir/tools/masterserver/masterserver
game_bin=$dir/server/gameserver
tc=$dir/tools/testclient/testclient

# ---- the servers' binaries ----
pgbin=${NC_PG_BINDIR:-}
if [ -z "$pgbin" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pgbin=$d; done # glob sorts: newest last
fi
[ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] && [ -x "$pgbin/postgres" ] ||
  die "PostgreSQL not found (initdb, postgres): install the Debian package postgresql (tools/dev/setup.sh does), or set NC_PG_BINDIR"
psql_bin=$(command -v psql || true)
[ -x "$pgbin/psql" ] && psql_bin=$pgbin/psql
[ -n "$psql_bin" ] || die "psql not found (Debian postgresql-client)"
redis_bin=$(command -v redis-server || true)
redis_cli=$(command -v redis-cli || true)
[ -n "$redis_bin" ] && [ -n "$redis_cli" ] ||
  die "redis-server / redis-cli not found: install the Debian package redis-server (tools/dev/setup.sh does)"
# gameserver's key table (its --help) says whether it has the PostgreSQL character store
# (CHAR_STORE=sqlite|postgres forces one)
# (read whole first: with pipefail, grep -q's early exit would SIGPIPE the gameserver and read as "no")
game_help=$("$game_bin" --help 2>/dev/null || true)
if grep -q '^ *database\.driver ' <<<"$game_help"; then char_store=postgres; else char_store=sqlite; fi
case ${CHAR_STORE:-} in
  '') ;;
  sqlite|postgres) char_store=$CHAR_STORE ;;
  *) die "CHAR_STORE must be sqlite or postgres" ;;
esac

# ---- ports ----
free_base() { # N: N consecutive free 127.0.0.1 ports below the ephemeral range (32768-)
  local base p ok
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 12000)); ok=1
    for p in $(seq "$base" $((base + $1 - 1))); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && { ok=0; break; }
    done
    [ $ok = 1 ] && { echo "$base"; return 0; }
  done
  return 1
}
SHARDS=(a b c)
declare -A GAME_PORT METRICS_PORT ADMIN_PORT
if [ $check = 1 ]; then
  base=$(free_base 15) || die "no 15 consecutive free ports"
  PG_PORT=$base REDIS_PORT=$((base + 1))
  MASTER1_PORT=$((base + 2)) LOGIN1_PORT=$((base + 3)) MASTER2_PORT=$((base + 4)) LOGIN2_PORT=$((base + 5))
  i=6
  for s in "${SHARDS[@]}"; do
    GAME_PORT[$s]=$((base + i)) METRICS_PORT[$s]=$((base + i + 1)) ADMIN_PORT[$s]=$((base + i + 2))
    i=$((i + 3))
  done
else
  PG_PORT=${PG_PORT:-5433} REDIS_PORT=${REDIS_PORT:-6380}
  MASTER1_PORT=${MASTER1_PORT:-7000} LOGIN1_PORT=${LOGIN1_PORT:-7002}
  MASTER2_PORT=${MASTER2_PORT:-7010} LOGIN2_PORT=${LOGIN2_PORT:-7012}
  GAME_PORT=([a]=${GAME_PORT_A:-7777} [b]=${GAME_PORT_B:-7787} [c]=${GAME_PORT_C:-7797})
  METRICS_PORT=([a]=${METRICS_PORT_A:-9177} [b]=${METRICS_PORT_B:-9187} [c]=${METRICS_PORT_C:-9197})
  ADMIN_PORT=([a]=${ADMIN_PORT_A:-9178} [b]=${ADMIN_PORT_B:-9188} [c]=${ADMIN_PORT_C:-9198})
fi

# ---- the cluster directory: secrets, identity, configs ----
if [ $check = 1 ]; then
  CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cluster-check.XXXXXX")
  chmod 755 "$CLUSTER_DIR" # the PostgreSQL user (root runs) must reach pg/
else
  CLUSTER_DIR=${CLUSTER_DIR:-$dir/cluster}
  mkdir -p "$CLUSTER_DIR"
  CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
fi
LOGS=$CLUSTER_DIR/logs
mkdir -p "$LOGS"
random_text() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
secret_file() { # FILE BYTES: a random hex line, mode 0600, kept if present
  [ -s "$1" ] && return 0
  (umask 077; random_text "$2" > "$1.tmp" && echo >> "$1.tmp" && mv "$1.tmp" "$1")
}
secret_file "$CLUSTER_DIR/s2s.secret" 32
secret_file "$CLUSTER_DIR/admin.secret" 24
secret_file "$CLUSTER_DIR/pg.password" 16
secret_file "$CLUSTER_DIR/redis.password" 24
keys=$("$master_bin" --show-keys --key-file "$CLUSTER_DIR/login.key") || die "masterserver --show-keys failed"
SIGN_PK=$(awk '$1 == "sign_pk" { print $2 }' <<<"$keys")
KX_PK=$(awk '$1 == "kx_pk" { print $2 }' <<<"$keys")
[ ${#SIGN_PK} = 64 ] && [ ${#KX_PK} = 64 ] || die "unexpected --show-keys output: $keys"
PG_USER=cluster
# libpq's password file (0600: libpq ignores one others can read); the password never on argv
(umask 077; printf '127.0.0.1:%s:*:%s:%s\n' "$PG_PORT" "$PG_USER" "$(head -n1 "$CLUSTER_DIR/pg.password")" \
  > "$CLUSTER_DIR/pgpass")
pg_url() { echo "host=127.0.0.1 port=$PG_PORT dbname=$1 user=$PG_USER passfile=$CLUSTER_DIR/pgpass"; }

# ---- processes ----
declare -A pid_of=() exit_of=()
ORDER=() # start order; stopped in reverse groups (see stop_all)
start() { # NAME CMD...: own session (a terminal's Ctrl-C reaches only this script), log file
  local name=$1; shift
  [ -f "$LOGS/$name.log" ] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
  setsid "$@" > "$LOGS/$name.log" 2>&1 < /dev/null &
  pid_of[$name]=$!
  ORDER+=("$name")
}
alive() { [ -n "${pid_of[$1]:-}" ] && kill -0 "${pid_of[$1]}" 2>/dev/null; }
wait_log() { # NAME PATTERN SECONDS: the pattern in NAME's log, while NAME runs
  local end=$((SECONDS + $3))
  while (( SECONDS <= end )); do
    grep -q -- "$2" "$LOGS/$1.log" 2>/dev/null && return 0
    alive "$1" || { echo "cluster.sh: $1 exited; its log ($LOGS/$1.log) ends:" >&2; tail -n 15 "$LOGS/$1.log" >&2; return 1; }
    sleep 0.1
  done
  echo "cluster.sh: no '$2' from $1 within $3 s; its log ($LOGS/$1.log) ends:" >&2
  tail -n 15 "$LOGS/$1.log" >&2
  return 1
}
stop_one() { # NAME SIGNAL: signal, wait up to 40 s (a game server saves its players), then SIGKILL
  local name=$1 pid=${pid_of[$1]:-}
  [ -n "$pid" ] || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  local end=$((SECONDS + 40))
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < end )); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "cluster.sh: $name did not stop within 40 s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  exit_of[$name]=$rc
  pid_of[$name]=
}
stop_games() { # all three at once, each saves its players; then wait for each
  local s
  for s in "${SHARDS[@]}"; do
    [ -n "${pid_of[game-$s]:-}" ] && kill -TERM "${pid_of[game-$s]}" 2>/dev/null || true
  done
  for s in "${SHARDS[@]}"; do stop_one "game-$s" 0; done # signalled above
}
stopping=0
stop_all() { # games (save, presence keys deleted), login servers, Redis, PostgreSQL (fast shutdown)
  [ $stopping = 1 ] && return; stopping=1
  echo "cluster.sh: stopping" >&2
  stop_games
  stop_one master-2 TERM
  stop_one master-1 TERM
  stop_one redis TERM
  stop_one postgres INT
}
on_exit() {
  stop_all
  if [ $check = 1 ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$CLUSTER_DIR"; fi
}
trap 'exit $((check ? 130 : 0))' INT # exit runs on_exit
trap 'exit $((check ? 143 : 0))' TERM
trap on_exit EXIT

# run CMD as the PostgreSQL user when root (postgres refuses to run as root)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  pg_user=postgres
  id -u postgres >/dev/null 2>&1 || pg_user=nobody
  as_pg=(setpriv --reuid="$pg_user" --regid="$(id -g "$pg_user")" --clear-groups --)
fi

# ---- PostgreSQL ----
pgdir=$CLUSTER_DIR/pg
if [ ! -s "$pgdir/data/PG_VERSION" ]; then
  rm -rf "$pgdir"; mkdir -p "$pgdir"; chmod 700 "$pgdir"
  (umask 077; head -n1 "$CLUSTER_DIR/pg.password" > "$pgdir/initdb.pw")
  [ ${#as_pg[@]} = 0 ] || chown -R "$pg_user:$(id -g "$pg_user")" "$pgdir"
  if [ ${#as_pg[@]} != 0 ] && ! "${as_pg[@]}" test -x "$pgdir"; then
    rm -f "$pgdir/initdb.pw"
    die "the user $pg_user cannot reach $pgdir (a parent directory closed to others?): set CLUSTER_DIR elsewhere"
  fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U "$PG_USER" --auth-local=trust \
    --auth-host=scram-sha-256 --pwfile="$pgdir/initdb.pw" -E UTF8 --no-locale --no-sync \
    > "$LOGS/initdb.log" 2>&1 || { rm -f "$pgdir/initdb.pw"; cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pgdir/initdb.pw"
fi
pg_opts=(-c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=50)
[ $check = 1 ] && pg_opts+=(-c fsync=off -c full_page_writes=off)
start postgres "${as_pg[@]}" "$pgbin/postgres" -D "$pgdir/data" -p "$PG_PORT" "${pg_opts[@]}"
psql_do() { # DB SQL: one statement over TCP with the password file
  PGPASSFILE=$CLUSTER_DIR/pgpass PGCONNECT_TIMEOUT=3 "$psql_bin" -X -q -tA -v ON_ERROR_STOP=1 \
    "host=127.0.0.1 port=$PG_PORT dbname=$1 user=$PG_USER" -c "$2"
}
pg_end=$((SECONDS + 30))
until psql_do postgres 'SELECT 1' >/dev/null 2>&1; do
  alive postgres || { tail -n 15 "$LOGS/postgres.log" >&2; die "postgres exited"; }
  (( SECONDS < pg_end )) || { tail -n 15 "$LOGS/postgres.log" >&2; die "postgres not ready within 30 s"; }
  sleep 0.1
done
ensure_db() {
  [ "$(psql_do postgres "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ] ||
    psql_do postgres "CREATE DATABASE $1" || die "cannot create database $1"
}
ensure_db accounts
if [ $char_store = postgres ]; then for s in "${SHARDS[@]}"; do ensure_db "shard_$s"; done; fi

# ---- Redis (password in its config file, never on argv) ----
mkdir -p "$CLUSTER_DIR/redis"
(umask 077; cat > "$CLUSTER_DIR/redis/redis.conf" <<CONF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
save ""
appendonly no
daemonize no
dir $CLUSTER_DIR/redis
requirepass $(head -n1 "$CLUSTER_DIR/redis.password")
CONF
)
start redis "$redis_bin" "$CLUSTER_DIR/redis/redis.conf"
wait_log redis "Ready to accept connections" 15 || exit 1
rcli() { REDISCLI_AUTH=$(head -n1 "$CLUSTER_DIR/redis.password") "$redis_cli" -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# ---- two login servers: one accounts database, one identity, one link secret ----
hash_cost=
[ $check = 1 ] && hash_cost=', "hash_ops": 1, "hash_mem_kib": 8' # the checks time logins, not Argon2
cat > "$CLUSTER_DIR/master.json" <<JSON
{"accounts": {"driver": "postgres", "url": "$(pg_url accounts)", "open_registration": true$hash_cost}}
JSON
if [ ! -s "$CLUSTER_DIR/dev.password" ]; then # a gm account in the shared store, once
  (umask 077; random_text 12 > "$CLUSTER_DIR/dev.password.tmp" && echo >> "$CLUSTER_DIR/dev.password.tmp")
  "$master_bin" --config "$CLUSTER_DIR/master.json" --key-file "$CLUSTER_DIR/login.key" \
    --add-account dev --role gm < "$CLUSTER_DIR/dev.password.tmp" > "$LOGS/add-account.log" 2>&1 ||
    { cat "$LOGS/add-account.log" >&2; die "cannot create the dev account (delete $CLUSTER_DIR to start over)"; }
  mv "$CLUSTER_DIR/dev.password.tmp" "$CLUSTER_DIR/dev.password"
fi
for m in 1 2; do
  mp=MASTER${m}_PORT lp=LOGIN${m}_PORT
  start "master-$m" "$master_bin" --port "${!mp}" --login-port "${!lp}" --config "$CLUSTER_DIR/master.json" \
    --db "$CLUSTER_DIR/master-$m.db" --key-file "$CLUSTER_DIR/login.key" \
    --secret-file "$CLUSTER_DIR/s2s.secret"
  wait_log "master-$m" '^READY' 15 || exit 1
done

# ---- three game servers ----
for s in "${SHARDS[@]}"; do
  if [ $char_store = postgres ]; then
    db="\"driver\": \"postgres\", \"url\": \"$(pg_url "shard_$s")\""
  else
    db="\"path\": \"$CLUSTER_DIR/shard-$s.db\""
  fi
  cat > "$CLUSTER_DIR/shard-$s.json" <<JSON
{
  "shard": {"name": "shard-$s", "public_host": "127.0.0.1"},
  "listen": {"host": "127.0.0.1", "port": ${GAME_PORT[$s]}},
  "metrics": {"port": ${METRICS_PORT[$s]}},
  "auth": {"mode": "ticket", "login_public_key": "$SIGN_PK"},
  "links": {"secret_file": "$CLUSTER_DIR/s2s.secret"},
  "admin": {"secret_file": "$CLUSTER_DIR/admin.secret", "port": ${ADMIN_PORT[$s]}},
  "master": {"host": "127.0.0.1", "port": $MASTER1_PORT, "extra": "127.0.0.1:$MASTER2_PORT"},
  "chat": {"bus": "redis"},
  "redis": {"host": "127.0.0.1", "port": $REDIS_PORT, "password_file": "$CLUSTER_DIR/redis.password"},
  "database": {$db}
}
JSON
  start "game-$s" "$game_bin" --config "$CLUSTER_DIR/shard-$s.json"
done
for s in "${SHARDS[@]}"; do
  wait_log "game-$s" '^READY' 30 || exit 1
done
for s in "${SHARDS[@]}"; do # the realm is up when every shard has its bus and its master
  wait_log "game-$s" 'redis chat bus up' 15 || exit 1
  wait_log "game-$s" 'master link up' 15 || exit 1
done
listed_up() { # MASTER_PORT SHARD: the registry lists SHARD up (a ticket for it can be had)
  "$master_bin" --list "127.0.0.1:$1" --secret-file "$CLUSTER_DIR/s2s.secret" 2>/dev/null |
    awk -v s="$2" '$1 == s && $4 == "up" { f = 1 } END { exit !f }'
}
for s in "${SHARDS[@]}"; do # every shard on both registries (master.port + master.extra)
  for mp in "$MASTER1_PORT" "$MASTER2_PORT"; do
    reg_end=$((SECONDS + 15))
    until listed_up "$mp" "shard-$s"; do
      (( SECONDS < reg_end )) || die "shard-$s not listed up by the master on :$mp within 15 s"
      sleep 0.1
    done
  done
done
if [ $char_store = postgres ]; then
  store_text="PostgreSQL 127.0.0.1:$PG_PORT, databases shard_a, shard_b, shard_c (database.driver postgres)"
else
  store_text="SQLite per shard ($CLUSTER_DIR/shard-{a,b,c}.db)"
  [ -n "${CHAR_STORE:-}" ] || store_text+=": this build's gameserver has no database.driver"
fi
echo "cluster.sh: character store: $store_text" >&2
echo "cluster.sh: pids: $(for n in "${ORDER[@]}"; do printf '%s %s, ' "$n" "${pid_of[$n]}"; done | sed 's/, $//')" >&2

# =============================== --check ===================================
if [ $check = 1 ]; then
  work=$CLUSTER_DIR/check
  mkdir -p "$work"
  (umask 077; echo "check-password-$(random_text 6)" > "$work/password")
  fails=0
  result() { # OK? TEXT
    if [ "$1" = 0 ]; then echo "cluster.sh: check ok: $2"; else echo "cluster.sh: CHECK FAILED: $2"; fails=$((fails + 1)); fi
  }
  tcl() { # NAME LOGIN_PORT SCRIPT: a scripted testclient on a login server (bounded)
    timeout -k 5 90 "$tc" --login "127.0.0.1:$2" --known-hosts "$work/known_logins" \
      --password-file "$work/password" --script "$3" > "$work/$1.out" 2>&1
  }
  show() { echo "---- testclient $1:"; sed 's/^/  | /' "$work/$1.out"; }
  wait_presence() { # NAME SHARD SECONDS: the player's presence key names SHARD
    local end=$((SECONDS + $3))
    while (( SECONDS <= end )); do
      [ "$(rcli GET "mmo.presence.$1" 2>/dev/null)" = "$2" ] && return 0
      sleep 0.1
    done
    return 1
  }
  # each login server lists every shard (each shard registers with both)
  rc=0; missing=
  for mp in "$MASTER1_PORT" "$MASTER2_PORT"; do
    for s in "${SHARDS[@]}"; do listed_up "$mp" "shard-$s" || { rc=1; missing+=" shard-$s@:$mp"; }; done
  done
  result $rc "both login servers (registries :$MASTER1_PORT, :$MASTER2_PORT) list shard-a, shard-b and shard-c up${missing:+; not:$missing}"
  # registered through login server 1; alice and bob then log in through login server 2
  for a in carol alice bob; do printf 'register check-%s\n' "$a" > "$work/reg-$a.tc"; done
  rc=0
  for a in carol alice bob; do tcl "reg-$a" "$LOGIN1_PORT" "$work/reg-$a.tc" || { rc=1; show "reg-$a"; }; done
  result $rc "accounts check-carol, check-alice, check-bob registered through login server 1 (:$LOGIN1_PORT)"
  cat > "$work/carol.tc" <<'TC'
login check-carol
play carol shard-c
expect world_entered 10000
expect chat_deliver {"channel": 2, "sender": "alice", "text": "whisper from shard-a"} 30000
expect chat_deliver {"channel": 1, "sender": "alice", "shard": "shard-a", "text": "shout to every shard"} 30000
TC
  cat > "$work/bob.tc" <<'TC'
login check-bob
play bob shard-b
expect world_entered 10000
expect chat_deliver {"channel": 1, "sender": "alice", "shard": "shard-a", "text": "shout to every shard"} 30000
TC
  cat > "$work/alice.tc" <<'TC'
login check-alice
play alice shard-a
expect world_entered 10000
whisper carol whisper from shard-a
# the sender's echo: the whisper was delivered on carol's shard
expect chat_deliver {"channel": 2, "text": "whisper from shard-a"} 10000
shout shout to every shard
expect chat_deliver {"channel": 1, "sender": "alice", "text": "shout to every shard"} 10000
TC
  tcl carol "$LOGIN1_PORT" "$work/carol.tc" & carol_pid=$!
  tcl bob "$LOGIN2_PORT" "$work/bob.tc" & bob_pid=$!
  rc=0
  wait_presence carol shard-c 20 || rc=1
  result $rc "check-carol logged in through login server 1 (:$LOGIN1_PORT) and plays carol on shard-c (listed by both login servers)"
  wait_presence bob shard-b 20 || result 1 "bob is not online on shard-b"
  arc=0; tcl alice "$LOGIN2_PORT" "$work/alice.tc" || arc=$?
  rc=0
  [ $arc = 0 ] && grep -q '^\* logged in as alice' "$work/alice.out" || rc=1
  result $rc "check-alice (registered through login server 1) logged in through login server 2 (:$LOGIN2_PORT) and played alice on shard-a"
  crc=0; wait "$carol_pid" || crc=$?
  brc=0; wait "$bob_pid" || brc=$?
  wrc=0 # alice's script saw the delivery echo; carol printed the whisper
  [ $arc = 0 ] && grep -q '^\[whisper\] alice: whisper from shard-a' "$work/carol.out" || wrc=1
  result $wrc "a whisper from alice on shard-a reached carol on shard-c"
  src_=0
  [ $arc = 0 ] && [ $brc = 0 ] && [ $crc = 0 ] || src_=1
  result $src_ "a shout from alice on shard-a reached alice (shard-a), bob (shard-b) and carol (shard-c)"
  if [ $arc != 0 ] || [ $brc != 0 ] || [ $crc != 0 ]; then show alice; show bob; show carol; fi
  # an orderly stop deletes the shards' presence keys at once (not after the ttl)
  rc=0
  rcli SET mmo.presence.zz-probe shard-x EX 600 >/dev/null || rc=1 # a probe: the scan below must see keys
  [ "$(rcli --scan --pattern 'mmo.presence.*' | wc -l)" -ge 1 ] || rc=1
  rcli DEL mmo.presence.zz-probe >/dev/null || rc=1
  # players still online at the stop: carol again, on shard-c, left connected
  printf 'login check-carol\nplay carol shard-c\nexpect world_entered 10000\nexpect pong 600000\n' > "$work/stay.tc"
  tcl stay "$LOGIN1_PORT" "$work/stay.tc" & stay_pid=$!
  wait_presence carol shard-c 20 || rc=1
  stop_games
  left=$(rcli --scan --pattern 'mmo.presence.*' | tr '\n' ' ')
  [ -z "$left" ] || rc=1
  wait "$stay_pid" 2>/dev/null || true
  result $rc "the game servers stopped in order and left no presence key in Redis${left:+ (left: $left)}"
  stop_all
  rc=0; bad=
  for n in "${ORDER[@]}"; do
    [ "${exit_of[$n]:-none}" = 0 ] || { rc=1; bad+=" $n:${exit_of[$n]:-none}"; }
  done
  result $rc "every process stopped cleanly (exit 0)${bad:+; not:$bad}"
  if [ $fails = 0 ]; then
    echo "cluster.sh: PASS: all checks passed (character store: $char_store)"; exit 0
  fi
  for f in "$LOGS"/*.log; do echo "---- last lines of $(basename "$f"):"; tail -n 20 "$f" | sed 's/^/  | /'; done
  echo "cluster.sh: FAIL: $fails check(s) failed (KEEP=1 keeps $CLUSTER_DIR and its logs)"; exit 1
fi

# =========================== interactive =================================
{
  echo "cluster.sh: realm up; Ctrl-C stops all. Files: $CLUSTER_DIR  logs: $LOGS/"
  echo "  accounts: PostgreSQL 127.0.0.1:$PG_PORT database accounts, shared by both login servers"
  echo "  characters: $store_text"
  echo "  chat bus: redis 127.0.0.1:$REDIS_PORT (prefix mmo.)"
  echo "  login server 1: 127.0.0.1:$LOGIN1_PORT (registry :$MASTER1_PORT): shard-a, shard-b, shard-c"
  echo "  login server 2: 127.0.0.1:$LOGIN2_PORT (registry :$MASTER2_PORT): shard-a, shard-b, shard-c"
  for s in "${SHARDS[@]}"; do
    echo "  shard-$s: players 127.0.0.1:${GAME_PORT[$s]}, status http://127.0.0.1:${METRICS_PORT[$s]}/status, console :${ADMIN_PORT[$s]}"
  done
  echo "  connect (both login servers have one key, pinned on first use: $KX_PK):"
  echo "    $tc --login 127.0.0.1:$LOGIN1_PORT --password-file $CLUSTER_DIR/dev.password"
  echo "        then: login dev    play NAME shard-a   (or shard-b, shard-c; register NAME: open registration)"
  echo "    $tc --login 127.0.0.1:$LOGIN2_PORT --password-file $CLUSTER_DIR/dev.password"
  echo "        then: login dev    play NAME shard-c   (any shard: the same accounts, the same shards)"
  echo "    in game: shout TEXT (every shard), whisper NAME TEXT (any shard)"
  echo "  console: $tc --admin 127.0.0.1:${ADMIN_PORT[a]} --admin-secret-file $CLUSTER_DIR/admin.secret status"
} >&2

# Supervision: report a process that exits (the others go on: the game
# servers reconnect to Redis and their master by themselves; restart the
# missing one by hand or stop and start the realm).  Polling: `wait -n`
# cannot say which child ended.
declare -A reported=()
while :; do
  for n in "${ORDER[@]}"; do
    [ -n "${pid_of[$n]:-}" ] && [ -z "${reported[$n]:-}" ] || continue
    kill -0 "${pid_of[$n]}" 2>/dev/null && continue
    rc=0; wait "${pid_of[$n]}" 2>/dev/null || rc=$?
    reported[$n]=1
    echo "cluster.sh: $n exited (status $rc; log $LOGS/$n.log); the others go on" >&2
  done
  sleep 0.5
done
