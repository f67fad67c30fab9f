#!/usr/bin/env bash
# Crowds (issue 15): the README's bots against a whole shard (masterserver,
# chatserver, gameserver linked to both, as tools/dev/shard.sh runs it), for
# one or more builds, several runs each, interleaved (A B A B ...) so that
# every build sees the same machine load.  Per run: the bots' round trip
# (p50/p99 over the run, p99 of the pings sent once every bot was in (placed),
# p99 of the first and last third of the windows to
# see growth), errors, packets and positions received, the gameserver's and
# the testclient's CPU (utime+stime from /proc and /usr/bin/time), and the
# load average when the run started.
#
#   bash tools/bench/crowd.sh NAME=DIR [NAME=DIR ...]
#     DIR is a build dir (server/gameserver, tools/...) or a flat dir with
#     gameserver, testclient, chatserver, masterserver.
# env: BOTS (1000), DURATION (60 s), RUNS (5), SPREAD (0: one spot; 1: --spread),
#      TC (a testclient binary used for every build; default each build's own),
#      HASH_<NAME> (protocol hash to send to build NAME, hex, with TC),
#      TC_ARGS (extra testclient args, e.g. "--threads 2"), GS_ARGS (every build),
#      GS_ARGS_<NAME> (build NAME only), OUT (crowd-out),
#      WITNESS (1: a second testclient, one player "wit0001" at zone 1's spawn,
#      in the crowd, pinging at 20 Hz for the whole run: its round trip is a
#      light client's view of the server, without the bots' own queueing)
# The same DIR may appear under two NAMEs (e.g. with different GS_ARGS_<NAME>).
# Output: $OUT/runs.csv (one row per run), $OUT/summary.md (median [min-max]).
set -euo pipefail
cd "$(dirname "$0")/../.."
(($# > 0)) || { echo "usage: crowd.sh NAME=DIR [NAME=DIR ...]" >&2; exit 2; }
BOTS=${BOTS:-1000}; DURATION=${DURATION:-60}; RUNS=${RUNS:-5}; SPREAD=${SPREAD:-0}
OUT=${OUT:-crowd-out}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
names=(); dirs=()
for a in "$@"; do names+=("${a%%=*}"); dirs+=("${a#*=}"); done
bin() { # DIR PROG -> path
  local d=$1 p=$2
  for c in "$d/$p" "$d/server/$p" "$d/tools/$p/$p"; do [ -x "$c" ] && { echo "$c"; return; }; done
  echo "crowd.sh: $p not found in $d" >&2; exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/crowd.XXXXXX")
pids=()
stop_all() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true; wait "${pids[$i]}" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT
wait_ready() { # FILE PID
  for _ in $(seq 200); do
    grep -q '^READY' "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
hz=$(getconf CLK_TCK)
# the links' shared secret (issue 13), one for every run; dev-mode logins
secret=$work/s2s.secret
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$secret"; echo >>"$secret")
# this invocation's start: it names the per-run logs, so a second
# invocation into the same OUT keeps the first one's
stamp=$(date -u +%Y%m%dT%H%M%S)
csv=$OUT/runs.csv
header="build,run,bots,spread,duration,load1,p50_ms,p99_ms,p99_first_ms,p99_last_ms,max_ms,errors,logins,pkts_in_per_s,positions_in_per_s,gs_cpu_core,tc_cpu_core,gs_notifications,gs_bytes_out,tc_warn,update_pkts_per_bot_s,tick_overruns,witness_p50_ms,witness_p99_ms,p99_all_in_ms,nearest_age_p99_ms,nearest_unseen_pct"
if [ -f "$csv" ] && [ "$(head -1 "$csv")" != "$header" ]; then # an older crowd.sh's columns
  csv=$OUT/runs-$stamp.csv
  echo "crowd.sh: $OUT/runs.csv has other columns; writing $csv" >&2
fi
[ -f "$csv" ] || echo "$header" >"$csv"
spread_arg=; ((SPREAD)) && spread_arg=--spread
for ((r = 1; r <= RUNS; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    name=${names[$k]}; d=${dirs[$k]}
    gs=$(bin "$d" gameserver); cs=$(bin "$d" chatserver); ms=$(bin "$d" masterserver)
    tc=${TC:-$(bin "$d" testclient)}
    hvar=HASH_$name; hash_arg=; [ -n "${!hvar:-}" ] && hash_arg="--proto-hash ${!hvar}"
    avar=GS_ARGS_$name; gs_args="${GS_ARGS:-} ${!avar:-}"
    rd=$work/$name.$r; mkdir -p "$rd"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    "$ms" --port 0 --login-port 0 --db "$rd/ms.db" --secret-file "$secret" >"$rd/ms.out" 2>"$rd/ms.err" & pids+=($!)
    wait_ready "$rd/ms.out" $! || { echo "crowd.sh: masterserver not ready" >&2; exit 1; }
    mport=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$rd/ms.out")
    "$cs" --port 0 --secret-file "$secret" >"$rd/cs.out" 2>"$rd/cs.err" & pids+=($!)
    wait_ready "$rd/cs.out" $! || { echo "crowd.sh: chatserver not ready" >&2; exit 1; }
    cport=$(sed -n 's/^READY port=\([0-9]*\).*/\1/p' "$rd/cs.out")
    "$gs" --port 0 --metrics-port 0 --db "$rd/gs.db" --chat-port "$cport" --master-port "$mport" \
          --log-level warn --set limits.new_characters_per_min_global=1000000 \
          --set auth.mode=dev --set links.secret_file="$secret" $gs_args \
          >"$rd/gs.out" 2>"$rd/gs.err" & gs_pid=$!; pids+=($gs_pid)
    wait_ready "$rd/gs.out" $gs_pid || { echo "crowd.sh: gameserver not ready" >&2; exit 1; }
    read -r port mtport < <(sed -n 's/^READY port=\([0-9]*\) metrics_port=\([0-9]*\).*/\1 \2/p' "$rd/gs.out")
    cmd="$tc --port $port --bots $BOTS --duration $DURATION --ramp 200 $spread_arg ${TC_ARGS:-} $hash_arg"
    echo "crowd.sh: [$name run $r] load $load1: gameserver $gs_args; $cmd" >&2
    t0=$(awk '{print $14 + $15}' "/proc/$gs_pid/stat"); s0=$(date +%s.%N)
    wpid=
    if ((${WITNESS:-0})); then
      $tc --port "$port" --bots 1 --bot-prefix wit --ping-hz 20 --duration "$DURATION" $hash_arg \
          >"$rd/wit.sum" 2>"$rd/wit.err" & wpid=$!
    fi
    /usr/bin/time -f '%U %S %e' -o "$rd/tc.time" $cmd >"$rd/tc.sum" 2>"$rd/tc.err" || true
    [ -n "$wpid" ] && { wait "$wpid" || true; }
    t1=$(awk '{print $14 + $15}' "/proc/$gs_pid/stat"); s1=$(date +%s.%N)
    metrics=$(curl -s --max-time 5 "http://127.0.0.1:$mtport/metrics" || true)
    printf '%s\n' "$metrics" >"$rd/metrics.txt"
    notif=$(awk '/^gs_zone_notifications_total\{/{s += $2} END{printf "%.0f", s}' <<<"$metrics")
    bout=$(awk '/^gs_bytes_total\{dir="out"\}/{print $2}' <<<"$metrics")
    # the new build's interest metrics (empty for an older server): update
    # packets per bot per second (the tick rate = every tick) and overruns
    upk=$(awk '/^gs_zone_update_packets_total\{/{s += $2; n++} END{if (n) printf "%.0f", s}' <<<"$metrics")
    ovr=$(awk '/^gs_zone_tick_overruns_total\{/{s += $2; n++} END{if (n) printf "%.0f", s}' <<<"$metrics")
    upr=; [ -n "$upk" ] && upr=$(awk -v u="$upk" -v b="$BOTS" -v d="$DURATION" 'BEGIN{printf "%.1f", u / b / d}')
    stop_all
    # the run's status lines: p99 of the first and last third (after the ramp)
    read -r pf pl < <(grep '^\[bots' "$rd/tc.err" | awk '{for (i = 1; i <= NF; i++) if ($i == "p99") v[n++] = $(i+1)}
        END { s = int(n / 3); a = 0; b = 0; for (i = 0; i < s; i++) { if (v[s + i] > a) a = v[s + i]; if (v[n - 1 - i] > b) b = v[n - 1 - i] }
              print a + 0, b + 0 }')
    read -r p50 p99 pmax < <(awk '/round trip +[0-9]/{for (i = 1; i <= NF; i++) { if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1); if ($i == "max") c = $(i+1) }} END{print a + 0, b + 0, c + 0}' "$rd/tc.sum")
    read -r s99 < <(awk '/round trip, all in/{for (i = 1; i <= NF; i++) if ($i == "p99") b = $(i+1)} END{print b + 0}' "$rd/tc.sum")
    # the watched bots' true nearest 64: position age p99 (of those seen), unseen share
    read -r n99 nun < <(awk '/^  nearest [0-9]+  by true position/{for (i = 1; i <= NF; i++) { if ($i == "p99") a = $(i+1); if ($i == "unseen") b = $(i+1) }} END{print a + 0, b + 0}' "$rd/tc.sum")
    read -r w50 w99 < <(awk '/round trip +[0-9]/{for (i = 1; i <= NF; i++) { if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1) }} END{print a + 0, b + 0}' "$rd/wit.sum" 2>/dev/null || echo "0 0")
    errs=$(awk '/^  errors/{print $2}' "$rd/tc.sum"); logins=$(awk '/^  logins/{print $2}' "$rd/tc.sum")
    pin=$(awk '/^  packets in/{gsub(/[()\/s]/, "", $4); print $4}' "$rd/tc.sum")
    posin=$(awk '/^  positions in/{gsub(/[()\/s]/, "", $4); print $4}' "$rd/tc.sum")
    tcw=$(grep -c 'warning: testclient CPU' "$rd/tc.err" || true)
    links=$(grep -c 'link down' "$rd/gs.err" || true) # chat/master refused or lost: say so
    ((links == 0)) || echo "crowd.sh: WARNING: $links chat/master link-down lines in the gameserver log" >&2
    gcpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN{printf "%.3f", (b - a) / hz / (s1 - s0)}')
    tcpu=$(tail -1 "$rd/tc.time" | awk '{printf "%.3f", ($1 + $2) / ($3 > 0 ? $3 : 1)}')
    row="$name,$r,$BOTS,$SPREAD,$DURATION,$load1,$p50,$p99,$pf,$pl,$pmax,${errs:-?},${logins:-?},${pin:-0},${posin:-},$gcpu,$tcpu,${notif:-},${bout:-},$tcw,${upr:-},${ovr:-},${w50:-},${w99:-},${s99:-},${n99:-},${nun:-}"
    echo "$row" >>"$csv"
    echo "crowd.sh: $row" >&2
    lg=$OUT/logs/$name.$BOTS.$SPREAD.$stamp.$r
    mkdir -p "$OUT/logs"; cp "$rd/tc.sum" "$lg.sum"; cp "$rd/tc.err" "$lg.err"
    cp "$rd/gs.err" "$lg.gs.err"
    cp "$rd/metrics.txt" "$lg.metrics"
    [ -f "$rd/wit.sum" ] && cp "$rd/wit.sum" "$lg.wit.sum"
    [ -f "$rd/wit.err" ] && cp "$rd/wit.err" "$lg.wit.err"
    rm -rf "$rd"
  done
done
# median [min-max] per build for this BOTS/SPREAD
{
  echo "### $BOTS bots, spread=$SPREAD, ${DURATION} s, $RUNS runs ($(date -u +%FT%TZ))"
  echo
  echo "| build | p50 ms | p99 ms | p99 first third | p99 last third | errors | pkts in/s | positions in/s | gameserver core | testclient core | load1 | updates/bot/s | overruns | witness p50 | witness p99 | p99 all in | nearest 64 age p99 ms | unseen % |"
  echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for name in "${names[@]}"; do
    awk -F, -v n="$name" -v b="$BOTS" -v s="$SPREAD" '
      function med(col,   k, i, j, t, a) { k = 0; for (i = 0; i < N; i++) a[k++] = V[i, col] + 0
        for (i = 0; i < k; i++) for (j = i + 1; j < k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return sprintf("%g [%g-%g]", (k % 2) ? a[int(k / 2)] : (a[k / 2 - 1] + a[k / 2]) / 2, a[0], a[k - 1]) }
      NR > 1 && $1 == n && $3 == b && $4 == s { for (c = 1; c <= NF; c++) V[N + 0, c] = $c; N++ }
      END { if (N) printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, med(7), med(8), med(9), med(10), med(12), med(14), med(15), med(16), med(17), med(6), med(21), med(22), med(23), med(24), med(25), med(26), med(27) }' "$csv"
  done
  echo
} | tee -a "$OUT/summary.md"
