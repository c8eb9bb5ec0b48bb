#!/usr/bin/env bash
# Builds everything and runs the test suite (all labels but gpu unless CUDA is present).
# Extra args go to ctest, e.g. scripts/test.sh -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Under CI (CI set, as CI services do, or .ci/run), a missing dataset fails the tests that need
# it instead of skipping them; run locally, they skip (IIS_REQUIRE_DATA=1 makes them fail).
if [[ -n "${CI:-}" && "${CI}" != "false" ]]; then
  export IIS_REQUIRE_DATA="${IIS_REQUIRE_DATA:-1}"
fi
# The test packages (GoogleTest, Benchmark, clang-format, Debian's Python stack for the parity
# tests) and a build folder configured with tests; then everything is built.
IIS_WITH_TESTS=1 bash scripts/setup.sh
cmake --build build -j "$(nproc)"
args=(--output-on-failure -j "$(nproc)")
if ! build/bin/iis version | grep -q "CUDA available: yes"; then
  args+=(-LE gpu)
fi
ctest --test-dir build "${args[@]}" "$@"
