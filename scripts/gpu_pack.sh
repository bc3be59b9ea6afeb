#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh runs on a GPU machine (issue 8). The GPU machines lent to this
# project run another distribution without oneDNN, FlatBuffers or ONNX's libraries and cannot
# reach a package registry, so the CUDA build is made here and travels as one archive:
#   bin/    test_cuda, test_e2e, test_real_models, lw_conformance, lw_gpu_bench, lw; and for the
#           CPU checks on that machine's CPU (AVX-512, which the build machines lack):
#           test_backends, test_runtime, test_format, lw_bench
#   lib/    the shared libraries they need beyond the C/C++ runtime (oneDNN, protobuf, ...)
#   build/  the test fixtures (test_models, the small real models, the ONNX node tests)
#   models/ ResNet-50 bundles at batch 1 and 32, graph only (--no-init: the benchmark sends the
#           weights), so the archive stays small; MobileNet v2 (ONNX, 14 MB) and its input for
#           the CPU benchmark against ONNX Runtime there
# Usage: scripts/gpu_pack.sh [BUILD_DIR (default build-cuda)] [OUT (default .gpu/payload.tar.xz)]
# Needs a CPU build's fixtures in build/ (make test made them) and bench models from
# bench/export_models.py (made here if missing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-cuda}
OUT=${2:-$ROOT/.gpu/payload.tar.xz}
FIXTURES=${FIXTURES:-$ROOT/build}
PY=/usr/bin/python3

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLW_CUDA=ON -DLW_PYTHON=OFF >/dev/null
fi
grep -q "^LW_CUDA:BOOL=ON" "$BUILD/CMakeCache.txt" || { echo "$BUILD is not a LW_CUDA=ON build" >&2; exit 2; }
cmake --build "$BUILD" -j "$(nproc)" --target test_cuda test_e2e test_real_models lw_conformance lw_gpu_bench lw \
  test_backends test_runtime test_format liveweight

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/build/real_models" "$STAGE/models"
for b in tests/test_cuda tests/test_e2e tests/test_real_models tests/lw_conformance lw_gpu_bench lw \
         tests/test_backends tests/test_runtime tests/test_format; do
  cp "$BUILD/$b" "$STAGE/bin/"
done
g++ -O2 -std=c++20 -I "$ROOT/include" "$ROOT/bench/lw_bench.cc" -o "$STAGE/bin/lw_bench" -L "$BUILD" -lliveweight
# Shared libraries outside the C/C++ runtime, which the GPU machine has in newer versions.
for b in "$STAGE"/bin/*; do ldd "$b"; done | awk '/=> \//{print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|ld-linux*|libpthread.so*|libdl.so*|librt.so*|libz.so*) ;;
    *) cp -L "$lib" "$STAGE/lib/" ;;
  esac
done
cp -r "$FIXTURES/test_models" "$STAGE/build/"
for m in bert encoder encoder17; do cp -r "$FIXTURES/real_models/$m" "$STAGE/build/real_models/"; done
cp -r "$FIXTURES/onnx_node_tests" "$STAGE/build/"
cp "$ROOT/tests/conformance/skip_list.txt" "$STAGE/"

# ResNet-50 with a dynamic batch, exported here (Debian's torch), built graph-only per batch.
WORK=${BENCH_WORK:-/tmp/lw_gpu_bench_models}
mkdir -p "$WORK"
if [ ! -f "$WORK/resnet50_dyn.onnx" ] || [ "$0" -nt "$WORK/resnet50_dyn.onnx" ]; then
  "$PY" - "$WORK/resnet50_dyn.onnx" <<'PYEOF'
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50().eval()
# Freshly initialized BatchNorms fold into identical (zero) conv biases, which the exporter
# shares through Identity nodes; a trained model has distinct ones, so give them distinct values.
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.uniform_(-0.1, 0.1)
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(m, x, sys.argv[1], opset_version=13, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
PYEOF
fi
for n in 1 32; do
  "$BUILD/lw" build "$WORK/resnet50_dyn.onnx" -o "$STAGE/models/resnet50_b$n.om" --no-init \
    --input-shape "input:$n,3,224,224" >/dev/null
done
cp -L "$BUILD/libliveweight.so.0" "$STAGE/lib/"  # lw_bench's (linked without a run path)
# MobileNet v2 for the CPU benchmark: the bench's export (make bench made it), else exported now.
MODELS=${BENCH_MODELS:-/tmp/lwbench2/models}
if [ ! -f "$MODELS/mobilenet_v2.onnx" ]; then
  MODELS=$WORK/bench_models
  "$PY" "$ROOT/bench/export_models.py" "$MODELS" >/dev/null
fi
cp "$MODELS/mobilenet_v2.onnx" "$MODELS/mobilenet_v2.input.npy" "$STAGE/models/"
mkdir -p "$(dirname "$OUT")"
tar -C "$STAGE" -cf - . | xz -T0 -6 > "$OUT"
ls -la "$OUT"
