#!/usr/bin/env bash
# Sets up, builds and runs every test: gcc build (all tests), clang
# ASan+UBSan (netcore, protocol, content, integration) and TSan (netcore)
# builds, a bounded libFuzzer run over the decoders and the framing, and the
# Windows cross build with netcore's tests under Wine.  Exit 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh

JOBS=$(nproc)
# step NAME: prints the wall-clock time, the seconds since the suite started
# and the seconds the previous step took, so a log shows where the minutes go
T0=$(date +%s)
TSTEP=$T0
step() {
  local now; now=$(date +%s)
  printf '\n=== [%s +%ds, previous step %ds] %s ===\n' "$(date -u +%H:%M:%S)" \
    $((now - T0)) $((now - TSTEP)) "$*"
  TSTEP=$now
}

configure() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}
build() { # dir, extra cmake args...
  configure "$@"
  cmake --build "$1" -j"$JOBS"
}
# Tests run $JOBS at a time; the ones that measure latency or fairness
# (witness p99 bounds, wait-time bounds, rate windows) carry the RUN_SERIAL
# property (tests/netcore and tests/integration CMakeLists.txt), so ctest
# runs each of them alone.
CTEST_J=(--parallel "$JOBS")
# the netcore tests (the sanitizer and Wine stages build just these)
mapfile -t nc_tests < <(ls tests/netcore/test_*.c | xargs -n1 basename | sed 's/\.c$//')

step "clang-format: the house style (.clang-format)"
git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror

step "gcc build + all tests"
build build/gcc -DCMAKE_C_COMPILER=gcc
step "gcc: tests"
ctest --test-dir build/gcc --output-on-failure "${CTEST_J[@]}"

step "clang ASan+UBSan: netcore, protocol, content and integration tests"
build build/asan -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=address -DNC_BENCH=OFF
step "ASan+UBSan: tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -L 'netcore|protocol|content|integration' \
  "${CTEST_J[@]}"

step "clang TSan: netcore tests"
# only the netcore tests are run here, so only they are built (a test
# whose binary is missing fails ctest: nothing is skipped silently)
configure build/tsan -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=thread -DNC_BENCH=OFF
cmake --build build/tsan -j"$JOBS" --target "${nc_tests[@]}"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan --output-on-failure -L netcore

if [ -f tests/fuzz/run_fuzz.sh ]; then
  step "libFuzzer (ASan+UBSan), bounded"
  # run_fuzz.sh builds the fuzz targets (and only them) itself and runs
  # $JOBS of them at a time.  Two at a time on this shared 2-core machine
  # each ran ~75% of the executions of one alone, so 35 s each (was 25 s one
  # at a time): no fewer executions a target, 70 s instead of 100 s.
  configure build/fuzz -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=address -DNC_FUZZ=ON -DNC_BENCH=OFF
  FUZZ_JOBS=$JOBS bash tests/fuzz/run_fuzz.sh build/fuzz $((JOBS > 1 ? 35 : 25))
fi

# ---- Windows (issue 7): mingw-w64 cross build, netcore tests under Wine ----
step "Windows cross build (mingw-w64) + netcore tests under Wine"
bash tools/dev/setup_windows.sh
export WINEPREFIX="$PWD/build/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# the first start creates the prefix (slow, mostly waiting): once, in the
# background while the dependencies and the cross build compile, finished
# before any timed test
wineboot_pid=
[ -f "$WINEPREFIX/system.reg" ] || { wineboot -i >/dev/null 2>&1 & wineboot_pid=$!; }
bash tools/dev/build_windows_deps.sh build/win-deps/prefix
step "Windows: cross build"
cmake -S . -B build/win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNC_BENCH=OFF \
  -DNC_WIN_DEPS="$PWD/build/win-deps/prefix" >/dev/null
cmake --build build/win -j"$JOBS" --target netcore "${nc_tests[@]}" \
  gameserver chatserver masterserver testclient test_proto_auth test_content_accounts
[ -z "$wineboot_pid" ] || wait "$wineboot_pid" || true
step "Windows: tests under Wine"
ctest --test-dir build/win -L netcore --output-on-failure
# libsodium cross-built (issue 13): the proto_auth vectors, and the game
# server's ticket checks and character ownership, under Wine
ctest --test-dir build/win -R '^(test_proto_auth|test_content_accounts)$' --output-on-failure
# Windows gameserver.exe serves the Linux testclient and vice versa
bash tools/dev/smoke_windows.sh build/gcc build/win
# ---- end Windows ------------------------------------------------------------

step "all test stages passed"
