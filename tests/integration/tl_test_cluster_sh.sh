#!/usr/bin/env bash
# tools/dev/cluster.sh --check (issue 16): a real local realm -- PostgreSQL,
# Redis, two login servers on one accounts database, three game servers on
# the Redis bus -- started on free ports, checked with scripted testclients
# (both login servers list all three shards; an account registered through
# login server 1 logs in through login server 2 and plays on shard-a,
# another through login server 1 on shard-c; a whisper from shard-a reaches
# shard-c; a shout reaches all three shards; an orderly stop leaves no
# presence key; every process exits 0),
# then stopped.  Passes only when cluster.sh exits 0 having reported every
# check ok, within the deadline, and none of its processes is left running.
# Usage: tl_test_cluster_sh.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: tl_test_cluster_sh.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
DEADLINE_S=${DEADLINE_S:-150}
work=$(mktemp -d "${TMPDIR:-/tmp}/tl_cluster_sh.XXXXXX")
chmod 755 "$work" # the PostgreSQL user (when root) reaches the cluster under it
out=$work/cluster.out
fail() { echo "FAIL: $*"; echo "---- cluster.sh output"; cat "$out"; exit 1; }
trap 'rm -rf "$work"' EXIT

rc=0
TMPDIR=$work timeout -k 10 "$DEADLINE_S" bash "$src/tools/dev/cluster.sh" --check "$build" > "$out" 2>&1 || rc=$?
[ $rc != 124 ] && [ $rc != 137 ] || fail "cluster.sh --check did not finish within $DEADLINE_S s"
# nothing it started may outlive it, whatever the outcome
pids=$(sed -n 's/^cluster.sh: pids: //p' "$out" | tr ',' '\n' | awk '{ print $2 }')
for p in $pids; do
  kill -0 "$p" 2>/dev/null && { kill -KILL "$p" 2>/dev/null; fail "pid $p still running after cluster.sh exited"; }
done
[ $rc = 0 ] || fail "cluster.sh --check exited $rc"
[ -n "$pids" ] || fail "no pids line"
grep -q '^cluster.sh: PASS' "$out" || fail "no PASS line"
# built with NC_POSTGRES (this test is): the shards keep characters on PostgreSQL
grep -q "^cluster.sh: PASS: .*(character store: postgres)" "$out" || fail "the character store was not PostgreSQL"
grep -q 'CHECK FAILED' "$out" && fail "a check failed but the exit code was 0"
n=$(grep -c '^cluster.sh: check ok:' "$out")
[ "$n" = 8 ] || fail "$n checks reported ok, 8 expected"
left=$(find "$work" -mindepth 1 -maxdepth 1 ! -name cluster.out)
[ -z "$left" ] || fail "cluster.sh left files: $left"
grep '^cluster.sh: \(check ok\|character store\)' "$out"
echo "PASS: cluster.sh --check"
