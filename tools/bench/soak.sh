#!/usr/bin/env bash
# Soak: a gameserver, `testclient --bots N --spread` for a long run, and every
# INTERVAL seconds the server's RSS and CPU and the bots' round-trip p50/p99
# into a CSV, then a PNG plot (gnuplot; apt-get install -y gnuplot-nox).
#   bash tools/bench/soak.sh [BUILD_DIR]                (default build/release)
# env: BOTS (1000), DURATION (600 s), INTERVAL (10 s), WARMUP (60 s, left out
# of the flatness verdict), OUT (soak-out), GS_ARGS, BOT_ARGS (extra args).
# Bots' p50/p99 per sample: testclient --status-interval INTERVAL prints one
# status line per interval whose p50/p99 are over that interval's pings.
# RSS is VmRSS of /proc/PID/status.  Verdict: after the warm-up, RSS
# (max - min) / min within 5 %, and the p99 samples' max vs their median.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/release}
gs=$dir/server/gameserver; tc=$dir/tools/testclient/testclient
for b in "$gs" "$tc"; do [ -x "$b" ] || { echo "soak.sh: $b not built" >&2; exit 1; }; done
BOTS=${BOTS:-1000}; DURATION=${DURATION:-600}; INTERVAL=${INTERVAL:-10}; WARMUP=${WARMUP:-60}
OUT=${OUT:-soak-out}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
gs_pid=; tc_pid=
cleanup() {
  [ -n "$tc_pid" ] && kill "$tc_pid" 2>/dev/null && wait "$tc_pid" 2>/dev/null
  [ -n "$gs_pid" ] && kill -TERM "$gs_pid" 2>/dev/null && wait "$gs_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# a fresh database: every bot is a new character (the global new-character
# limit, 1,200 a minute, would refuse a larger ramp)
"$gs" --port 0 --metrics-port 0 --db "$work/gs.db" --chat-port 0 --master-port 0 \
      --log-level warn --set limits.new_characters_per_min_global=1000000 --set auth.mode=dev ${GS_ARGS:-} >"$work/gs.out" 2>"$OUT/gameserver.log" &
gs_pid=$!
for _ in $(seq 100); do grep -q '^READY' "$work/gs.out" && break; sleep 0.1; done
read -r port mport < <(sed -n 's/^READY port=\([0-9]*\) metrics_port=\([0-9]*\).*/\1 \2/p' "$work/gs.out")
[ -n "${port:-}" ] || { echo "soak.sh: gameserver not ready" >&2; exit 1; }
echo "soak.sh: gameserver pid $gs_pid port $port; $BOTS bots for $DURATION s, sample every $INTERVAL s" >&2

"$tc" --port "$port" --bots "$BOTS" --spread --duration "$DURATION" \
      --status-interval "$INTERVAL" ${BOT_ARGS:-} >"$OUT/bots.summary" 2>"$OUT/bots.log" &
tc_pid=$!
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gs_pid/stat"; }
csv=$OUT/soak.csv
echo "t_s,rss_kib,cpu_pct,online,bots_p50_ms,bots_p99_ms" >"$csv"
last_ticks=$(cpu_ticks); last_t=0; seen=0
# One sample per testclient status line (one per INTERVAL): its p50/p99 are
# over that window's pings; RSS, CPU and online players are read right then.
while kill -0 "$tc_pid" 2>/dev/null; do
  n=$(grep -c '^\[bots' "$OUT/bots.log" || true)
  if (( n <= seen )); then sleep 0.2; continue; fi
  seen=$n
  read -r t p50 p99 < <(grep '^\[bots' "$OUT/bots.log" | tail -1 | awk '{
      e = $2; sub(/s\]$/, "", e)
      for (i = 1; i <= NF; i++) { if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1) }
      print e + 0, a + 0, b + 0 }')
  rss=$(awk '/^VmRSS:/{print $2}' "/proc/$gs_pid/status")
  ticks=$(cpu_ticks)
  cpu=$(awk -v d="$((ticks - last_ticks))" -v hz="$hz" -v dt="$t" -v l="$last_t" \
        'BEGIN{printf "%.1f", (dt > l ? 100 * d / hz / (dt - l) : 0)}')
  last_ticks=$ticks; last_t=$t
  online=$(curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk '/^gs_online_players /{print $2}')
  echo "$t,$rss,$cpu,${online:-},$p50,$p99" >>"$csv"
  echo "[soak ${t}s] RSS ${rss} KiB  CPU ${cpu}%  online ${online:-?}  bots p50 ${p50} ms p99 ${p99} ms" >&2
done
wait "$tc_pid" && tc_rc=0 || tc_rc=$?
tc_pid=
tail -12 "$OUT/bots.summary" >&2

# verdict after the warm-up
p99s=$(awk -F, -v w="$WARMUP" 'NR > 1 && $1 > w {print $6}' "$csv" | sort -n)
ns=$(grep -c . <<<"$p99s" || true)
if (( ns == 0 )); then
  echo "soak: no samples after the $WARMUP s warm-up" | tee "$OUT/verdict.txt"
else
  med=$(sed -n "$(( (ns + 1) / 2 ))p" <<<"$p99s"); pmax=$(tail -1 <<<"$p99s")
  awk -F, -v w="$WARMUP" -v med="$med" -v pm="$pmax" 'NR > 1 && $1 > w { n++
      if (!mn || $2 < mn) mn = $2; if ($2 > mx) mx = $2 }
    END { spread = 100 * (mx - mn) / mn
          printf "soak: %d samples after %d s warm-up: RSS %d..%d KiB (spread %.1f %%, %s); " \
                 "bots p99 median %.2f ms, max %.2f ms (%s)\n", n, w, mn, mx, spread,
                 spread <= 5 ? "flat within 5 %" : "NOT flat", med, pm,
                 pm <= 2 * med ? "max within 2x median" : "max over 2x median" }' \
    "$csv" | tee "$OUT/verdict.txt"
fi

if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 1000,500 noenhanced
set output "$OUT/soak.png"
set datafile separator ","
set title "soak: $BOTS bots (--spread), $DURATION s; gameserver RSS and bots' round trip"
set xlabel "seconds"
set ylabel "RSS (MiB)"
set y2label "round trip (ms)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key outside bottom center horizontal
set grid
plot "$csv" using 1:(\$2/1024) skip 1 with linespoints title "gameserver RSS (MiB)" axes x1y1, \
     "$csv" using 1:6 skip 1 with linespoints title "bots p99 (ms)" axes x1y2, \
     "$csv" using 1:5 skip 1 with lines title "bots p50 (ms)" axes x1y2
GP
  echo "soak.sh: wrote $csv and $OUT/soak.png" >&2
else
  echo "soak.sh: wrote $csv (no gnuplot: apt-get install -y gnuplot-nox for the PNG)" >&2
fi
exit "$tc_rc"
