#!/usr/bin/env bash
# Builds everything and runs the test suite (all labels but gpu unless CUDA is present).
# Extra args go to ctest, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
# The test packages (GoogleTest, Benchmark, clang-format, Debian's Python stack for the parity
# tests) and a build folder configured with tests; then everything is built.
IIS_WITH_TESTS=1 bash scripts/setup.sh
cmake --build build -j "$(nproc)"
args=(--output-on-failure -j "$(nproc)")
if ! build/bin/iis version | grep -q "CUDA available: yes"; then
  args+=(-LE gpu)
fi
ctest --test-dir build "${args[@]}" "$@"
