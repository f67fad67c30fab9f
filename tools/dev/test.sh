#!/usr/bin/env bash
# Sets up, builds and runs every test: gcc build (all tests), clang
# ASan+UBSan and TSan builds (netcore and protocol tests), and a bounded
# libFuzzer run over the decoders and the framing.  Exit 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh

JOBS=$(nproc)
step() { printf '\n=== %s ===\n' "$*"; }

build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
}

step "gcc build + all tests"
build build/gcc -DCMAKE_C_COMPILER=gcc
ctest --test-dir build/gcc --output-on-failure

step "clang ASan+UBSan: netcore and protocol tests"
build build/asan -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=address -DNC_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -L 'netcore|protocol'

step "clang TSan: netcore tests"
build build/tsan -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=thread -DNC_BENCH=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan --output-on-failure -L netcore

if [ -f tests/fuzz/run_fuzz.sh ]; then
  step "libFuzzer (ASan+UBSan), bounded"
  build build/fuzz -DCMAKE_C_COMPILER=clang -DNC_SANITIZE=address -DNC_FUZZ=ON -DNC_BENCH=OFF
  bash tests/fuzz/run_fuzz.sh build/fuzz 25
fi

step "all test stages passed"
