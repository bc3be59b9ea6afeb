#!/usr/bin/env bash
# Runs the command only where an NVIDIA GPU is present; otherwise exits 77, which CTest reports
# as "skipped" (SKIP_RETURN_CODE) for the CUDA variants of the test suites.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  echo "no NVIDIA GPU here (nvidia-smi -L lists none): skipped"
  exit 77
fi
exec "$@"
