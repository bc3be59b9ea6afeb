#!/usr/bin/env bash
# Installs every system package liveweight needs to build, test, demo, benchmark and fuzz (clang
# with its sanitizer/libFuzzer runtime and OpenMP for the fuzz targets).
# Debian 12 packages only (plus ONNX Runtime from npm for the benchmarks, see bench/).
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev
  flatbuffers-compiler libflatbuffers-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest
  python3-onnx python3-torch python3-torchvision python3-sklearn
  # An optimized BLAS for PyTorch and numpy (the benchmark's PyTorch peer, the tests' torch
  # references): without it Debian's torch runs every Linear/MatMul on the reference BLAS,
  # 30-70x slower than ONNX Runtime on the MLP and transformer benchmarks. The OpenMP build
  # shares torch's thread pool (the pthreads build oversubscribes the cores).
  libopenblas0-openmp
  clang libclang-rt-14-dev libomp-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "liveweight needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
