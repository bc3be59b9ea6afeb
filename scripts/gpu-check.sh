#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU (issue 8): the CUDA tests, the
# seed flow and real models on CUDA against their PyTorch references, the ONNX node tests on
# the CUDA backend, the CUDA kernels with cuDNN switched off (the own convolution kernels), and
# the GPU benchmark against PyTorch eager on the same GPU. Then the CPU backend on that machine's
# CPU, which has AVX-512 where the build machines have AVX2 only: the kernel, runtime and format
# tests, the seed flow, the real models and the ONNX node tests, and MobileNet v2 against ONNX
# Runtime's Python package on two cores. Made to finish in under 8 minutes.
#
# Usage: scripts/gpu-check.sh [PAYLOAD (default .gpu/payload.tar.xz)]
# PAYLOAD comes from scripts/gpu_pack.sh (the GPU machines here cannot build the project: see
# there). Results (logs, the conformance report, bench JSON) go to /tmp/gpu-check-out, and as
# one archive gpu-check-results.tgz into $OUT when that is set (the device tool's folder).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAYLOAD=${1:-$ROOT/.gpu/payload.tar.xz}
RESULTS=/tmp/gpu-check-out
W=/tmp/lw_gpu
mkdir -p "$W" "$RESULTS"
start=$(date +%s)
tar -C "$W" -xJf "$PAYLOAD" || { echo "cannot unpack $PAYLOAD"; exit 2; }

# cuBLAS and cuDNN of this machine: the CUDA toolkit's, or the Python environment's nvidia/*
# packages (liveweight also searches these itself; the loader path makes cuDNN's own
# sub-libraries findable).
PYLIBS=$(python3 - <<'PYEOF' 2>/dev/null
import importlib
dirs = []
for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime", "nvidia.cu13"):
    try:
        m = importlib.import_module(name)
        for p in m.__path__:
            dirs.append(p + "/lib")
    except Exception:
        pass
print(":".join(dirs))
PYEOF
)
export LD_LIBRARY_PATH="$W/lib:${PYLIBS}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export LW_TEST_BINARY_DIR="$W/build" LW_NUM_THREADS=8 OMP_NUM_THREADS=8
mkdir -p "$W/build/test_scratch"
nvidia-smi -L 2>&1 | tee "$RESULTS/gpu.txt"

status=0
step() {  # step NAME TIMEOUT COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@" >"$RESULTS/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc ($(( $(date +%s) - t0 )) s)"
  grep -E "FAIL|Failure|rror|PASSED|SKIPPED \]|pass|worst|cuda:|actual|ms/run|profile|\"" "$RESULTS/$name.log" | head -n 50
  [ $rc -eq 0 ] || status=1
}

step test_cuda 100 "$W/bin/test_cuda"
step test_cuda_repeat 60 "$W/bin/test_cuda" --gtest_filter='CudaBundle.*' --gtest_repeat=5
step test_cuda_no_cudnn 45 env LW_DISABLE_CUDNN=1 "$W/bin/test_cuda" --gtest_filter='CudaParity.*Conv*'
step test_cuda_no_cublas 45 env LW_DISABLE_CUBLAS=1 "$W/bin/test_cuda" --gtest_filter='CudaParity.*Gemm*:CudaParity.*MatMul*:CudaParity.Float16*'
step e2e_on_cuda 60 env LW_BACKEND=cuda "$W/bin/test_e2e"
step real_models_on_cuda 60 env LW_BACKEND=cuda "$W/bin/test_real_models" \
  --gtest_filter='Models/RealModel.*/3:Models/RealModel.*/4:Models/RealModel.*/5:DynamicShapes.*'
step conformance_on_cuda 120 env LW_CONFORMANCE_BACKEND=cuda "$W/bin/lw_conformance" \
  "$W/build/onnx_node_tests/node" "$W/skip_list.txt" "$RESULTS/conformance_cuda.tsv"
for n in 1 32; do
  step "bench_b$n" 40 "$W/bin/lw_gpu_bench" "$W/models/resnet50_b$n.om"
  step "bench_b${n}_tf32" 40 "$W/bin/lw_gpu_bench" "$W/models/resnet50_b$n.om" --tf32
done
step profile_b1 40 env LW_CUDA_PROFILE=1 "$W/bin/lw_gpu_bench" "$W/models/resnet50_b1.om" --runs 20
step profile_b1_no_cudnn 60 env LW_CUDA_PROFILE=1 LW_DISABLE_CUDNN=1 "$W/bin/lw_gpu_bench" "$W/models/resnet50_b1.om" --runs 10
step torch_bench 90 python3 "$ROOT/bench/gpu_torch_bench.py"

# The CPU backend on this CPU, two intra-op threads as on the build machines.
{ lscpu | grep -E "Model name|^CPU\(s\)"; echo "AVX-512 etc.: $(grep -o -w -E 'avx512f|avx512bw|avx512_vnni|vpclmulqdq|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"; } | tee "$RESULTS/cpu.txt"
export LW_NUM_THREADS=2 OMP_NUM_THREADS=2
step cpu_backends 120 "$W/bin/test_backends"
step cpu_runtime 120 "$W/bin/test_runtime"
step cpu_format 30 "$W/bin/test_format"
step cpu_e2e 60 "$W/bin/test_e2e"
step cpu_real_models 60 "$W/bin/test_real_models" --gtest_filter='Models/RealModel.*/3:Models/RealModel.*/4:Models/RealModel.*/5:DynamicShapes.*'
step cpu_conformance 180 "$W/bin/lw_conformance" "$W/build/onnx_node_tests/node" "$W/skip_list.txt" "$RESULTS/conformance_cpu.tsv"
# MobileNet v2 at batch 1, liveweight and ONNX Runtime (pip's) alternating, pinned to CPUs 0-1.
"$W/bin/lw" build "$W/models/mobilenet_v2.onnx" -o "$W/models/mobilenet_v2.om" >/dev/null
for round in 1 2 3; do
  step "cpu_bench_lw_$round" 60 taskset -c 0,1 "$W/bin/lw_bench" memory "$W/models/mobilenet_v2.om" "$W/models/mobilenet_v2.input.npy" 50
  step "cpu_bench_ort_$round" 60 taskset -c 0,1 python3 "$ROOT/bench/ort_python_bench.py" "$W/models/mobilenet_v2.onnx" "$W/models/mobilenet_v2.input.npy" 2 50
done
python3 - "$RESULTS" <<'PYEOF'
import json, statistics, sys, os
r = sys.argv[1]
def med(name):
    with open(os.path.join(r, name + ".log")) as f:
        lines = [l for l in f if l.startswith("{")]
    return statistics.median(json.loads(lines[-1])["infer_ms"]) if lines else float("nan")
for i in (1, 2, 3):
    lw, ort = med(f"cpu_bench_lw_{i}"), med(f"cpu_bench_ort_{i}")
    print(f"cpu bench round {i}: mobilenet_v2 2 threads liveweight {lw:.3f} ms, onnxruntime {ort:.3f} ms, ratio {lw / ort:.3f}")
PYEOF
echo "gpu-check: done in $(( $(date +%s) - start )) s, status $status"
if [ -n "${OUT:-}" ]; then tar -C "$RESULTS" -czf "$OUT/gpu-check-results.tgz" .; fi
exit $status
