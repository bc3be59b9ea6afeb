#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) and runs each for
# FUZZ_SECONDS seconds (default 60) on seed corpora generated here plus the kept regressions.
# Usage: fuzz/run_fuzz.sh [seconds] [target...]   (targets: bundle_reader onnx_import c_api)
# Env: FUZZ_BUILD_DIR (default build-fuzz; CI: build-asan), JOBS (default 2), FUZZ_JOBS (parallel fuzz workers
# per target, default 1), FUZZ_SEED (libFuzzer's -seed: the same inputs in the same order on
# every run; CI sets it; unset: a new seed each run). Exit status: 1 when any target found a crash (artifacts are kept
# under $FUZZ_BUILD_DIR/fuzz/artifacts/<target>/; copy them to fuzz/regressions/<target>/ and add
# the fix), 0 otherwise. Prints one "fuzz: <target> runs=<n> ..." line per target.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(bundle_reader onnx_import c_api)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
JOBS=${JOBS:-2}
OUT=$BUILD/fuzz
mkdir -p "$OUT"

# The library, instrumented for coverage and sanitizers. -O1 as libFuzzer recommends; UB aborts.
# An existing build directory must have been configured for it: scripts/sanitize.sh asan's is
# (LW_FUZZ_COVERAGE), and CI fuzzes with that one.
if [ -f "$BUILD/CMakeCache.txt" ] && ! grep -q -e '^LW_FUZZ_COVERAGE:BOOL=ON' -e '^LW_SANITIZE:STRING=fuzzer-no-link' "$BUILD/CMakeCache.txt"; then
  echo "fuzz: $BUILD is not a build for fuzzing (neither LW_FUZZ_COVERAGE=ON nor LW_SANITIZE=fuzzer-no-link,...)" >&2
  exit 2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=all" \
    -DLW_SANITIZE=fuzzer-no-link,address,undefined -DLW_BUILD_TESTS=OFF -DLW_PYTHON=OFF -DLW_CUDA=OFF >"$OUT/configure.log"
fi
ninja -C "$BUILD" -j "$JOBS" lw_static >"$OUT/build.log" || { tail -30 "$OUT/build.log"; exit 2; }

CXXFLAGS=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -Wall -Wextra -Werror -Wno-unused-parameter
  -I"$ROOT/include" -I"$ROOT/src" -I"$ROOT" -I"$BUILD/generated")
LIBS=("$BUILD/liblw_static.a" -ldnnl -lonnx -lonnx_proto -lprotobuf -fopenmp=libomp -lpthread)
build_exe() {  # name, main source
  local exe=$OUT/$1 src=$2
  if [ ! -x "$exe" ] || [ "$src" -nt "$exe" ] || [ "$ROOT/fuzz/fuzz_targets.cc" -nt "$exe" ] ||
     [ "$BUILD/liblw_static.a" -nt "$exe" ]; then
    clang++ "${CXXFLAGS[@]}" "$src" "$ROOT/fuzz/fuzz_targets.cc" "${LIBS[@]}" -o "$exe"
  fi
}
for t in "${TARGETS[@]}"; do build_exe "$t" "$ROOT/fuzz/${t}_fuzz.cc"; done
# The seed writer: the same objects, without libFuzzer's main.
SEED_FLAGS=("${CXXFLAGS[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}")
if [ ! -x "$OUT/make_seeds" ] || [ "$ROOT/fuzz/make_seeds.cc" -nt "$OUT/make_seeds" ] ||
   [ "$BUILD/liblw_static.a" -nt "$OUT/make_seeds" ]; then
  clang++ "${SEED_FLAGS[@]}" "$ROOT/fuzz/make_seeds.cc" "$ROOT/fuzz/fuzz_targets.cc" "${LIBS[@]}" -o "$OUT/make_seeds"
fi

# Seeds: real bundles (small model, digits MLP), real ONNX models, C API call sequences.
SEEDS=$OUT/seeds
mkdir -p "$SEEDS/onnx_import"
ASAN_OPTIONS=detect_leaks=0 "$OUT/make_seeds" "$ROOT" "$SEEDS"
/usr/bin/python3 "$ROOT/fuzz/make_onnx_seeds.py" "$SEEDS/onnx_import"
cp "$ROOT/examples/models/digits.onnx" "$SEEDS/onnx_import/"

status=0
for t in "${TARGETS[@]}"; do
  corpus=$OUT/corpus/$t artifacts=$OUT/artifacts/$t/
  mkdir -p "$corpus" "$artifacts" "$ROOT/fuzz/regressions/$t"
  dict=()
  case $t in
    bundle_reader) dict=(-dict="$ROOT/fuzz/bundle.dict") ;;
    onnx_import) dict=(-dict="$ROOT/fuzz/onnx.dict") ;;
  esac
  seed=()
  [ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
  log=$OUT/$t.log
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LW_NUM_THREADS=1 OMP_NUM_THREADS=1 LW_LOG_LEVEL=error \
    "$OUT/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" "${seed[@]}" \
    "$corpus" "$SEEDS/$t" "$ROOT/fuzz/regressions/$t" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  echo "fuzz: $t runs=${runs:-?} cov=${cov:-?} seconds=$SECONDS_PER_TARGET corpus=$(ls "$corpus" | wc -l) rc=$rc"
  if [ $rc -ne 0 ]; then
    status=1
    echo "fuzz: $t FAILED; artifacts in $artifacts; log $log:"
    grep -E 'ERROR|SUMMARY|#[0-9]+ 0x' "$log" | head -30
  fi
done
exit $status
