#!/usr/bin/env bash
# Sanitizer runs for CI.
#   scripts/sanitize.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer):
#                              builds the library and every test binary, runs the whole ctest
#                              suite; any report fails the test that caused it.
#   scripts/sanitize.sh tsan   ThreadSanitizer: builds test_concurrency, test_api, test_e2e and
#                              test_reliability and runs the concurrency-relevant tests: all of
#                              test_concurrency (soak, in-place, rollback, unload during execution),
#                              test_api (streams, devices, contexts, executes) and test_e2e, and the
#                              stream fault-injection and C API fuzz replays. (test_runtime builds
#                              Plans with explicit OpenMP thread counts, which TSAN cannot follow
#                              through libgomp.)
# Env: SANITIZE_BUILD_DIR (default build-asan / build-tsan), JOBS (default nproc),
#      SANITIZE_OPT (optimization flags, default "-O1 -g1 -DNDEBUG": a third of the -O3 compile
#      time under the sanitizers, with line numbers in reports), SANITIZE_CMAKE_FLAGS (extra). Exit status 0 only when everything passed clean.
#
# TSAN and OpenMP: libgomp is not built with TSAN, so its barriers look like races. The tsan run
# sets LW_NUM_THREADS=1 and OMP_NUM_THREADS=1 (every OpenMP region runs on the calling thread);
# threads of our own (streams, concurrent executes, updates racing inferences) still run in
# parallel. scripts/sanitize_tsan.supp holds the remaining third-party suppressions.
set -euo pipefail

MODE=${1:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(nproc)}
# ASan builds with clang: half GCC's compile time under the sanitizers here (elementwise.cc
# 115 s against 63 s with the coverage hooks, a test file 28 s against 16 s), and its library
# carries libFuzzer's coverage hooks (LW_FUZZ_COVERAGE), so fuzz/run_fuzz.sh reuses this build
# (FUZZ_BUILD_DIR=build-asan) instead of compiling the library a second time. UB is fatal at
# once (-fno-sanitize-recover), as in the fuzz targets.
case "$MODE" in
  asan) SAN=address,undefined; DEFAULT_DIR=build-asan
        COMPILERS=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLW_FUZZ_COVERAGE=ON
                   "-DCMAKE_CXX_FLAGS=-fno-sanitize-recover=all"
                   "-DCMAKE_C_FLAGS=-fno-sanitize-recover=all") ;;
  tsan) SAN=thread; DEFAULT_DIR=build-tsan; COMPILERS=() ;;
  *) echo "usage: $0 asan|tsan" >&2; exit 2 ;;
esac
BUILD=${SANITIZE_BUILD_DIR:-$ROOT/$DEFAULT_DIR}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

# Python bindings are left out: the interpreter is not built with the sanitizers.
# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLW_SANITIZE=$SAN -DLW_PYTHON=OFF -DLW_CUDA=OFF "${COMPILERS[@]}" \
  -DCMAKE_CXX_FLAGS_RELEASE="${SANITIZE_OPT:--O1 -g1 -DNDEBUG}" -DCMAKE_C_FLAGS_RELEASE="${SANITIZE_OPT:--O1 -g1 -DNDEBUG}" \
  ${SANITIZE_CMAKE_FLAGS:-} >/dev/null

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/scripts/sanitize_ubsan.supp
start=$(date +%s)
if [ "$MODE" = asan ]; then
  cmake --build "$BUILD" -j "$JOBS"
  echo "sanitize asan: build $(( $(date +%s) - start )) s"
  # detect_leaks: LeakSanitizer at exit of every test process. allocator_may_return_null: an
  # absurd malloc returns NULL as glibc does (tests check aclrtMalloc(2^50) is ACL_ERROR_BAD_ALLOC)
  # instead of ASan aborting. The install test links the
  # examples against the instrumented library without instrumenting them; ASan need not come
  # first in their link order for that.
  # clang's OpenMP runtime (libomp) loads the OMPT tool libarcher at its first use, which
  # allocates with operator new under libomp's start-up lock: the reliability tests' injected
  # allocation failure there left the lock held and the next OpenMP call waiting forever.
  export OMP_TOOL=disabled
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1:allocator_may_return_null=1:verify_asan_link_order=0
  export LSAN_OPTIONS=suppressions=$ROOT/scripts/sanitize_lsan.supp:print_suppressions=0
  t0=$(date +%s)
  (cd "$BUILD" && ctest --output-on-failure -j "$JOBS" --timeout 900)
  echo "sanitize asan: ctest $(( $(date +%s) - t0 )) s, total $(( $(date +%s) - start )) s"
else
  cmake --build "$BUILD" -j "$JOBS" --target test_concurrency test_api test_e2e test_reliability
  echo "sanitize tsan: build $(( $(date +%s) - start )) s"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1:suppressions=$ROOT/scripts/sanitize_tsan.supp"
  export LW_NUM_THREADS=1 OMP_NUM_THREADS=1
  t0=$(date +%s)
  # The model files the runtime and e2e tests read.
  (cd "$BUILD" && ctest -R '^make_test_models$' --output-on-failure)
  # Run the binaries directly: ctest would impose the tests' LW_NUM_THREADS=2.
  status=0
  for t in "test_concurrency:*" "test_api:*" "test_e2e:*" \
           "test_reliability:FaultInjection.StreamInference:FuzzRegressions.CApi"; do
    bin=${t%%:*} filter=${t#*:}
    echo "sanitize tsan: $bin --gtest_filter=$filter"
    if ! (cd "$BUILD/tests" && "./$bin" --gtest_filter="$filter" --gtest_brief=1); then status=1; fi
  done
  echo "sanitize tsan: tests $(( $(date +%s) - t0 )) s, total $(( $(date +%s) - start )) s"
  exit $status
fi
