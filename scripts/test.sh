#!/usr/bin/env bash
# Sets everything up and runs the whole test suite:
#   1. the regular build (RelWithDebInfo) and every test;
#   2. the suite built with AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the concurrency tests built with ThreadSanitizer.
# scripts/test.sh --fast runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="$(nproc)"
FAST=0
[ "${1:-}" = "--fast" ] && FAST=1

run_ctest() {  # build_dir [ctest args...]
  local dir="$1"; shift
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@"
}

scripts/setup.sh build
run_ctest build

if [ "$FAST" = 0 ]; then
  scripts/setup.sh build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DKPIDB_SANITIZE=address,undefined -DKPIDB_BUILD_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan

  scripts/setup.sh build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DKPIDB_SANITIZE=thread -DKPIDB_BUILD_BENCH=OFF -DKPIDB_BUILD_SERVER=OFF
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_ctest build-tsan -L concurrency
fi
