#!/usr/bin/env bash
# Serving benchmark (issue 6): ResNet-50 inference p50/p99 with and without an updater
# refreshing every weight every 50 ms, copy-on-write and in-place, plus peak extra memory.
#   bench/serving_run.sh BUILD_DIR [WORK_DIR] [SECONDS] [THREADS]
# Needs BUILD_DIR/libliveweight.so and BUILD_DIR/lw; exports resnet50 with export_models.py
# (into WORK_DIR/models, skipped when present). Prints one JSON line per mode.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$(cd "$1" && pwd)
WORK=${2:-/tmp/lw_serving_bench}
SECONDS_PER_PHASE=${3:-10}
THREADS=${4:-2}
mkdir -p "$WORK/lib"
cp "$(realpath "$BUILD/libliveweight.so")" "$WORK/lib/libliveweight.so"
cp "$WORK/lib/libliveweight.so" "$WORK/lib/libliveweight.so.0"
g++ -O2 -std=c++20 -I "$ROOT/include" "$HERE/serving_bench.cc" -o "$WORK/serving_bench" -L "$WORK/lib" -lliveweight \
  -Wl,-rpath,"$WORK/lib" -pthread
[ -f "$WORK/models/resnet50.onnx" ] || /usr/bin/python3 "$HERE/export_models.py" "$WORK/models"
[ -f "$WORK/resnet50.om" ] || "$BUILD/lw" build "$WORK/models/resnet50.onnx" -o "$WORK/resnet50.om"
export LW_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
"$WORK/serving_bench" "$WORK/resnet50.om" "$SECONDS_PER_PHASE"
"$WORK/serving_bench" "$WORK/resnet50.om" "$SECONDS_PER_PHASE" in_place
