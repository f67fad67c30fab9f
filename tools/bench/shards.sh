#!/usr/bin/env bash
# Issue 16: 3 shards x N bots on this machine, with cross-shard whispers over
# the Redis chat bus.  Per run it starts (fresh) a redis-server, a
# masterserver (registry + login server), three gameservers a, b, c
# (chat.bus redis, registered with the master, dev auth), then one testclient
# per shard at once (--threads 2, bots a0001.., b0001.., c0001..), each bot
# whispering the other two shards' bots (--whisper-hz) besides walking,
# chatting and pinging.  Reports per shard: ping p50/p99, whisper round trip
# p50/p99 (sender -> target on another shard -> answer back, both legs
# through Redis), whispers sent/answered/not found, errors, the gameserver's
# CPU (utime+stime from /proc over the run), the testclient's
# (/usr/bin/time) and redis-server's (the same run), and the load average
# when the run started.
#
#   bash tools/bench/shards.sh [BUILD_DIR]      (default build/release)
# env: BOTS (300 per shard), DURATION (60 s), RUNS (5), WHISPER_HZ (0.2 per
#      bot), CHAT_HZ (0.2), THREADS (2, testclient --threads), NICE (-5: the
#      started processes run at this niceness to stand apart from other
#      work on the machine; empty = unchanged; below 0 needs root),
#      LOGIN (0: dev auth; 1: the bots get accounts and tickets from the
#      masterserver, --login), OUT (shards-out), GS_ARGS (extra gameserver args)
# Output: $OUT/runs.csv (one row per shard per run), $OUT/summary.md
# (median [min-max] per shard and over all shards).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build/release}
BOTS=${BOTS:-300}; DURATION=${DURATION:-60}; RUNS=${RUNS:-5}
WHISPER_HZ=${WHISPER_HZ:-0.2}; CHAT_HZ=${CHAT_HZ:-0.2}; THREADS=${THREADS:-2}
NICE=${NICE--5}; LOGIN=${LOGIN:-0}; OUT=${OUT:-shards-out}
GS=$BUILD/server/gameserver; MS=$BUILD/tools/masterserver/masterserver
TC=$BUILD/tools/testclient/testclient
REDIS=$(command -v redis-server) || { echo "shards.sh: redis-server missing: apt-get install redis-server" >&2; exit 1; }
for b in "$GS" "$MS" "$TC"; do [[ -x $b ]] || { echo "shards.sh: missing $b: build it first" >&2; exit 1; }; done
[[ -x /usr/bin/time ]] || { echo "shards.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
RUNNER=(); [[ -n $NICE ]] && RUNNER=(nice -n "$NICE")
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
SHARDS=(a b c)
work=$(mktemp -d "${TMPDIR:-/tmp}/shards.XXXXXX")
pids=()
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # FILE PID: a READY line within 10 s while PID lives
  for _ in $(seq 200); do
    grep -q '^READY' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
wait_redis() { # PORT
  for _ in $(seq 200); do
    redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  return 1
}
hz=$(getconf CLK_TCK)
csv=$OUT/runs.csv
[ -f "$csv" ] || echo "run,shard,bots,duration,load1,ping_p50_ms,ping_p99_ms,whisper_p50_ms,whisper_p99_ms,whispers_sent,whispers_answered,whispers_notfound,errors,logins,gs_cpu_core,tc_cpu_core,tc_warn,redis_cpu_core" >"$csv"
started=$(date -u +%FT%TZ)
for ((r = 1; r <= RUNS; r++)); do
  rd=$work/run$r; mkdir -p "$rd"
  load1=$(cut -d' ' -f1 /proc/loadavg)
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$rd/s2s.secret"; echo >>"$rd/s2s.secret"
  chmod 600 "$rd/s2s.secret"
  rp=$(free_port)
  "${RUNNER[@]}" "$REDIS" --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$rd/redis.log" 2>&1 & redis_pid=$!; pids+=($!)
  wait_redis "$rp" || { echo "shards.sh: redis-server not ready" >&2; exit 1; }
  "${RUNNER[@]}" "$MS" --port 0 --login-port 0 --db "$rd/ms.db" --secret-file "$rd/s2s.secret" \
    --open-registration --log-level warn >"$rd/ms.out" 2>"$rd/ms.err" & ms_pid=$!; pids+=($ms_pid)
  wait_ready "$rd/ms.out" $ms_pid || { echo "shards.sh: masterserver not ready" >&2; exit 1; }
  read -r mport lport < <(sed -n 's/^READY port=\([0-9]*\) login_port=\([0-9]*\).*/\1 \2/p' "$rd/ms.out")
  auth=(--set auth.mode=dev)
  if ((LOGIN)); then
    key=$(sed -n 's/^sign_pk \([0-9a-f]*\)$/\1/p' "$rd/ms.out")
    auth=(--set auth.mode=ticket --set "auth.login_public_key=$key")
  fi
  declare -A gport gpid
  for s in "${SHARDS[@]}"; do
    "${RUNNER[@]}" "$GS" --port 0 --metrics-port -1 --db "$rd/$s.db" --shard "$s" --master-port "$mport" \
      --chat-port 0 --set chat.bus=redis --set "redis.port=$rp" --set "links.secret_file=$rd/s2s.secret" \
      --set chat.rate_per_s=5 --set chat.burst=20 --set limits.new_characters_per_min_global=1000000 \
      "${auth[@]}" --log-level warn ${GS_ARGS:-} >"$rd/$s.out" 2>"$rd/$s.err" & gpid[$s]=$!; pids+=($!)
  done
  for s in "${SHARDS[@]}"; do
    wait_ready "$rd/$s.out" "${gpid[$s]}" || { echo "shards.sh: gameserver $s not ready (see $rd/$s.err)" >&2; cat "$rd/$s.err" >&2; exit 1; }
    gport[$s]=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$rd/$s.out")
  done
  declare -A t0 tpid
  s0=$(date +%s.%N)
  r0=$(awk '{print $14 + $15}' "/proc/$redis_pid/stat")
  for s in "${SHARDS[@]}"; do
    t0[$s]=$(awk '{print $14 + $15}' "/proc/${gpid[$s]}/stat")
    targets=; for o in "${SHARDS[@]}"; do [[ $o == "$s" ]] || targets+="${targets:+,}$o:$BOTS"; done
    where=(--port "${gport[$s]}")
    ((LOGIN)) && where=(--login "127.0.0.1:$lport" --shard "$s" --known-hosts "$rd/known_$s")
    cmd=("$TC" "${where[@]}" --bots "$BOTS" --duration "$DURATION" --ramp 200 --threads "$THREADS"
         --chat-hz "$CHAT_HZ" --bot-prefix "$s" --whisper-hz "$WHISPER_HZ" --whisper-targets "$targets")
    echo "shards.sh: [run $r shard $s] load $load1: ${cmd[*]}" >&2
    "${RUNNER[@]}" /usr/bin/time -f '%U %S %e' -o "$rd/tc_$s.time" "${cmd[@]}" >"$rd/tc_$s.sum" 2>"$rd/tc_$s.err" &
    tpid[$s]=$!
  done
  for s in "${SHARDS[@]}"; do wait "${tpid[$s]}" || true; done
  s1=$(date +%s.%N)
  declare -A t1
  for s in "${SHARDS[@]}"; do t1[$s]=$(awk '{print $14 + $15}' "/proc/${gpid[$s]}/stat"); done
  r1=$(awk '{print $14 + $15}' "/proc/$redis_pid/stat")
  rcpu=$(awk -v a="$r0" -v b="$r1" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.3f", (b - a) / hz / (s1 - s0)}')
  stop_all
  for s in "${SHARDS[@]}"; do
    f=$rd/tc_$s.sum
    read -r p50 p99 < <(awk '/^  round trip/{for (i = 1; i <= NF; i++) { if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1) }} END{print a + 0, b + 0}' "$f")
    read -r w50 w99 < <(awk '/^  whisper rtt/{for (i = 1; i <= NF; i++) { if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1) }} END{print a + 0, b + 0}' "$f")
    read -r wsent wans wnf < <(awk '/^  whispers /{gsub(/[,;]/, ""); for (i = 1; i <= NF; i++) { if ($i == "sent" && !sa) { a = $(i+1); sa = 1 }; if ($i == "answered") b = $(i+1); if ($i == "found") c = $(i+1) }} END{print a + 0, b + 0, c + 0}' "$f")
    errs=$(awk '/^  errors/{print $2}' "$f"); logins=$(awk '/^  logins/{print $2}' "$f")
    tcw=$(grep -c 'warning: testclient CPU' "$rd/tc_$s.err" || true)
    gcpu=$(awk -v a="${t0[$s]}" -v b="${t1[$s]}" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.3f", (b - a) / hz / (s1 - s0)}')
    tcpu=$(tail -1 "$rd/tc_$s.time" | awk '{printf "%.3f", ($1 + $2) / ($3 > 0 ? $3 : 1)}')
    row="$r,$s,$BOTS,$DURATION,$load1,$p50,$p99,$w50,$w99,$wsent,$wans,$wnf,${errs:-?},${logins:-?},$gcpu,$tcpu,$tcw,$rcpu"
    echo "$row" >>"$csv"
    echo "shards.sh: $row" >&2
    mkdir -p "$OUT/logs"
    cp "$f" "$OUT/logs/run$r.$s.sum"; cp "$rd/tc_$s.err" "$OUT/logs/run$r.$s.tc.err"; cp "$rd/$s.err" "$OUT/logs/run$r.$s.gs.err"
  done
  rm -rf "$rd"
done
# median [min-max] per shard, and over every shard's row
{
  echo "### 3 shards x $BOTS bots, ${DURATION} s, $RUNS runs, whisper ${WHISPER_HZ}/s per bot, chat ${CHAT_HZ}/s (started $started, nice ${NICE:-0})"
  echo
  echo "| shard | ping p50 ms | ping p99 ms | whisper p50 ms | whisper p99 ms | whispers sent | answered | not found | errors | logins | gameserver core | testclient core | redis core | load1 |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for s in "${SHARDS[@]}" all; do
    awk -F, -v n="$s" -v b="$BOTS" -v d="$DURATION" '
      function med(col,   k, i, j, t, a) { k = 0; for (i = 0; i < N; i++) a[k++] = V[i, col] + 0
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return sprintf("%g [%g-%g]", (k % 2) ? a[int(k / 2)] : (a[k / 2 - 1] + a[k / 2]) / 2, a[0], a[k - 1]) }
      NR > 1 && (n == "all" || $2 == n) && $3 == b && $4 == d { for (c = 1; c <= NF; c++) V[N + 0, c] = $c; N++ }
      END { if (N) printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, med(6), med(7), med(8), med(9), med(10), med(11), med(12), med(13), med(14), med(15), med(16), med(18), med(5) }' "$csv"
  done
  echo
} | tee -a "$OUT/summary.md"
