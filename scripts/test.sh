#!/usr/bin/env bash
# Builds everything and runs the test suite (all labels but gpu unless CUDA is present).
# Extra args go to ctest, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j "$(nproc)"  # tests and benchmarks (setup.sh builds only the tool)
args=(--output-on-failure -j "$(nproc)")
if ! build/bin/iis version | grep -q "CUDA available: yes"; then
  args+=(-LE gpu)
fi
ctest --test-dir build "${args[@]}" "$@"
