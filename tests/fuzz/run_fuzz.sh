#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time with ASan+UBSan and fails on
# any crash.  Usage: tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS_PER_TARGET
# BUILD_DIR is configured here if needed (clang, NC_FUZZ=ON, NC_SANITIZE=address).
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
secs=$2
targets="fuzz_proto fuzz_framing fuzz_json fuzz_zones"

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=address \
        -DNC_FUZZ=ON >/dev/null || exit 1
fi
mkdir -p "$build/fuzz-work"
cmake --build "$build" --target $targets fuzz_seeds -- -j2 >"$build/fuzz-work/build.log" 2>&1 || {
    tail -30 "$build/fuzz-work/build.log" >&2
    echo "run_fuzz: build failed (configure with -DNC_FUZZ=ON -DCMAKE_C_COMPILER=clang)" >&2
    exit 1
}
fuzzdir=$build/tests/fuzz
work=$build/fuzz-work
rm -rf "$work/seeds"
mkdir -p "$work/seeds/fuzz_proto" "$work/seeds/fuzz_framing" "$work/seeds/fuzz_json" \
    "$work/seeds/fuzz_zones" "$work/artifacts"
cp "$root/content/data/zones.json" "$work/seeds/fuzz_zones/" || exit 1
"$fuzzdir/fuzz_seeds" "$work/seeds/fuzz_proto" "$work/seeds/fuzz_framing" \
    "$work/seeds/fuzz_json" || exit 1

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# FUZZ_JOBS targets run at a time (default 1): each libFuzzer run is one
# process on one core, so on N free cores N of them get the same executions
# per second as one alone, in 1/N of the wall time.
jobs=${FUZZ_JOBS:-1}
case $jobs in '' | *[!0-9]* | 0) echo "run_fuzz: FUZZ_JOBS must be a positive integer" >&2; exit 2 ;; esac

# fuzz_one TARGET: runs it; its row of the table goes to $work/TARGET.row,
# its exit status to $work/TARGET.rc.
fuzz_one() {
    local t=$1 corpus=$work/corpus/$1 log=$work/$1.log start rc elapsed execs result eps
    mkdir -p "$corpus"
    start=$(date +%s)
    "$fuzzdir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
        "$corpus" "$work/seeds/$t" >"$log" 2>&1
    rc=$?
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    result=ok
    if [ $rc -ne 0 ]; then
        result="FAILED (rc $rc, see $log)"
    fi
    eps=$(( ${execs:-0} / (elapsed > 0 ? elapsed : 1) ))
    printf '%-14s %8s %12s %10s  %s\n' "$t" "$elapsed" "${execs:-?}" "$eps" "$result" >"$work/$t.row"
    echo "$rc" >"$work/$t.rc"
}

status=0
running=0
for t in $targets; do
    rm -f "$work/$t.row" "$work/$t.rc"
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
printf '%-14s %8s %12s %10s  %s\n' target seconds execs exec/s result
for t in $targets; do
    rc=$(cat "$work/$t.rc" 2>/dev/null || echo missing)
    if [ -f "$work/$t.row" ]; then cat "$work/$t.row"; else echo "$t: no result"; fi
    if [ "$rc" != 0 ]; then
        status=1
        grep -m5 -E 'ERROR|SUMMARY|runtime error|deadly' "$work/$t.log" >&2
    fi
done
exit $status
