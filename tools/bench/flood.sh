#!/usr/bin/env bash
# The hardening issue's flood benchmark: a fresh gameserver, BOTS bots
# spread over zones 1-3 (testclient --bots --spread), WITNESSES pinging
# players alternating between zone 1 (where the flooders are) and zone 3,
# then FLOODERS logged-in clients flooding zone chat, then who (scope 1), as
# fast as TCP takes it.  Repeats RUNS times; prints each run's gs_attack rows
# and, at the end, the median and range of the witnesses' p99 per zone group
# (baseline and during) per class.
#
#   bash tools/bench/flood.sh [BUILD_DIR]     (env BOTS=200 WITNESSES=32
#        FLOODERS=50 RUNS=5 BASELINE=5 DURATION=10 CLASSES=chat_flood,who_flood
#        OUT=flood-out; CHECK=1: exit 1 unless each median p99 during the flood
#        is within max(2x its idle p99, idle p99 + SLACK_MS (25)))
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/gcc}
BOTS=${BOTS:-200} WITNESSES=${WITNESSES:-32} FLOODERS=${FLOODERS:-50} RUNS=${RUNS:-5}
BASELINE=${BASELINE:-5} DURATION=${DURATION:-10} CLASSES=${CLASSES:-chat_flood,who_flood}
OUT=${OUT:-flood-out}
# GS: another gameserver binary to measure (e.g. an older build, the peer of a
# same-run comparison); GS_EXTRA: its extra flags (default: the new-character
# limit raised for the fresh database; set it empty for a build without it)
gs=${GS:-$build/server/gameserver} tc=$build/tools/testclient/testclient atk=$build/tools/bench/gs_attack
read -r -a gs_extra <<<"${GS_EXTRA-"--set limits.new_characters_per_min_global=1000000"}"
for b in "$gs" "$tc" "$atk"; do [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }; done
mkdir -p "$OUT"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

rows=$OUT/rows.md
: >"$rows"
for run in $(seq 1 "$RUNS"); do
  rm -f "$work"/gs.db*
  "$gs" --port 0 --set metrics.port=0 --set chat.port=0 --set master.port=0 \
        --set database.path="$work/gs.db" --set log.level=warn --set auth.mode=dev "${gs_extra[@]}" \
        >"$work/ready" 2>"$work/gs.log" &
  gpid=$!; pids+=("$gpid")
  for _ in $(seq 1 200); do grep -q READY "$work/ready" && break; sleep 0.05; done
  read -r port mport < <(sed -n 's/READY port=\([0-9]*\) metrics_port=\([0-9]*\).*/\1 \2/p' "$work/ready")
  [ -n "${port:-}" ] || { echo "gameserver did not start" >&2; cat "$work/gs.log" >&2; exit 1; }
  # the bots outlive the whole gs_attack run: its baseline, then each class
  # (window + drain/settle, up to ~10 s)
  nclasses=$(tr ',' '\n' <<<"$CLASSES" | wc -l); [ "$CLASSES" = all ] && nclasses=15
  secs=$(( 60 + BASELINE + nclasses * (DURATION + 10) ))
  "$tc" --port "$port" --bots "$BOTS" --spread --duration "$secs" --status-interval 5 \
        >"$work/bots.out" 2>"$work/bots.err" &
  tpid=$!; pids+=("$tpid")
  # the bots are placed (all logged in and spread) before the witnesses start
  for _ in $(seq 1 600); do
    grep -qE "placed $BOTS\b" "$work/bots.err" 2>/dev/null && break; sleep 0.1
  done
  echo "== run $run/$RUNS: $BOTS bots placed; $WITNESSES witnesses, $FLOODERS flooders" >&2
  "$atk" --port "$port" --metrics-port "$mport" --pid "$gpid" --attack "$CLASSES" \
         --attackers "$FLOODERS" --witnesses "$WITNESSES" --witness-zones 1,3 \
         --baseline "$BASELINE" --duration "$DURATION" | tee -a "$rows"
  kill "$tpid" "$gpid" 2>/dev/null || true
  wait "$tpid" "$gpid" 2>/dev/null || true
  pids=()
done

# Summary: median [min-max] over the runs of the witnesses' p99 per zone
# group, baseline and during, and of the ratio during/baseline.
python3 - "$rows" "$BOTS" "$WITNESSES" "$FLOODERS" "${CHECK:-0}" "${SLACK_MS:-25}" <<'PY'
import re, statistics, sys
rows, bots, wit, fl, check, slack = sys.argv[1:7]
bad = []
by = {}
for l in open(rows):
    cells = [c.strip() for c in l.strip().strip('|').split('|')]
    if len(cells) < 5 or not cells[0] or cells[0] in ('attack',) or set(cells[0]) <= set('-'):
        continue
    p99 = lambda cell: [float(g.split('/')[1]) for g in cell.split(';')]
    by.setdefault(cells[0], []).append((p99(cells[3]), p99(cells[4])))
def mr(v):
    return f"{statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]"
print(f"\n{bots} bots, {wit} witnesses (zone 1 with the flooders; zone 3), {fl} flooders;"
      " median [range] over runs, ms")
print("| attack | runs | zone 1 p99 idle | zone 1 p99 during | ratio | zone 3 p99 idle | zone 3 p99 during | ratio |")
print("|---|--:|--:|--:|--:|--:|--:|--:|")
for cls, rs in by.items():
    out = [cls, str(len(rs))]
    for g in range(2):
        b = [r[0][g] for r in rs]; d = [r[1][g] for r in rs]
        out += [mr(b), mr(d), mr([y / x for x, y in zip(b, d)])]
        mb, md = statistics.median(b), statistics.median(d)
        if md > max(2 * mb, mb + float(slack)):
            bad.append(f"{cls} zone group {g + 1}: p99 {md:.2f} ms during vs {mb:.2f} idle")
    print("| " + " | ".join(out) + " |")
if check == "1":
    print(f"bound: during p99 <= max(2 x idle p99, idle p99 + {slack} ms) per zone group")
    for b in bad:
        print("FAILED", b)
    print(f"{0 if bad else 1} passed, {1 if bad else 0} failed")
    sys.exit(1 if bad else 0)
PY
echo "rows: $rows" >&2
