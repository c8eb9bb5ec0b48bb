#!/usr/bin/env bash
# The CUDA check, run on a GPU node from the repository root (after scripts/gpu/prepare.sh
# here; .gpu-deps/ travels with it). Builds the fit-only subset against the node's CUDA
# LibTorch, runs the CUDA-against-CPU tests (a failing one again under cuda-gdb for a
# backtrace), then the default sweep at ImageNet size on generated features. Logs go to $OUT
# (or build-gpu/).
#   bash scripts/gpu/check.sh [sweep epochs, default 30; 0 skips the benchmarks] [--all-tests]
set -uo pipefail
epochs=${1:-30}
all_tests=${2:-}
out=${OUT:-build-gpu}
mkdir -p "$out"
exec > >(tee -a "$out/check.log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
stamp configure
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g \
  -DIIS_FIT_ONLY=ON -DCMAKE_PREFIX_PATH="$prefix" -DIIS_HEADERS_DIR="$PWD/.gpu-deps/include" \
  -DIIS_GTEST_SOURCE_DIR="$PWD/.gpu-deps/googletest" > "$out/configure.log" 2>&1 ||
  { tail -40 "$out/configure.log"; exit 1; }
stamp build
targets="fit_bench fit_cuda_test heads_test"
[ -n "$all_tests" ] && targets=all
ninja -C build-gpu -j16 $targets > "$out/build.log" 2>&1 ||
  { grep -m5 -A12 "error" "$out/build.log"; tail -20 "$out/build.log"; exit 1; }

# Runs a test binary; when it fails, runs it again under cuda-gdb and prints the backtrace.
run_test() {
  "$@" && return 0
  echo "FAILED: $*"
  if command -v cuda-gdb > /dev/null; then
    timeout 300 cuda-gdb -q -batch -ex run -ex "bt 30" -ex "info threads" --args "$@" 2>&1 |
      grep -v "^\[New Thread\|^\[Thread .* exited" | tail -80
  fi
  return 1
}
stamp "fit_cuda_test (CUDA against CPU)"
run_test build-gpu/tests/fit/fit_cuda_test
stamp "heads_test (LibTorch $(python3 -c 'import torch; print(torch.__version__)'))"
run_test build-gpu/tests/heads/heads_test --gtest_brief=1
if [ -n "$all_tests" ]; then
  stamp "every CPU test of the fit-only subset"
  for t in build-gpu/tests/*/*_test; do
    [ "$(basename "$t")" = fit_cuda_test ] && continue
    run_test "$t" --gtest_brief=1 || true
  done
fi
if [ "$epochs" -gt 0 ]; then
  stamp "heads at ImageNet-like size: naive, shipped, floor"
  build-gpu/bench/fit_bench --threads 16 --device cuda --skip-sweep --epochs 2
  stamp "sweep at ImageNet size, $epochs epochs"
  build-gpu/bench/fit_bench --threads 16 --device cuda --skip-large --sweep-in-memory \
    --sweep-n 1281167 --sweep-val-n 50000 --sweep-d 2048 --sweep-classes 1000 \
    --sweep-epochs "$epochs"
fi
stamp done
