#!/usr/bin/env bash
# `make demo`: build a bundle from the digits classifier kept in the repo and run the pyACL
# guide's weight-update flow on it through the C API (examples/c/weight_update.c).
set -euo pipefail
build_dir=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$build_dir/demo"
mkdir -p "$out"

echo "== lw build examples/models/digits.onnx -o $out/digits.om"
"$build_dir/lw" build "$root/examples/models/digits.onnx" -o "$out/digits.om"
echo
echo "== lw inspect $out/digits.om"
"$build_dir/lw" inspect "$out/digits.om"
echo
echo "== $build_dir/weight_update $out/digits.om examples/models"
"$build_dir/weight_update" "$out/digits.om" "$root/examples/models"
