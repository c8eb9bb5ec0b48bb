#!/usr/bin/env bash
# The CUDA check, run on a GPU node from the repository root (after scripts/gpu/prepare.sh
# here; .gpu-deps/ travels with it). Builds the fit-only subset against the node's CUDA
# LibTorch, runs the CUDA-against-CPU tests, then the default sweep at ImageNet size on
# generated features. Logs go to $OUT (or build-gpu/).
#   bash scripts/gpu/check.sh [sweep epochs, default 30]
set -uo pipefail
epochs=${1:-30}
out=${OUT:-build-gpu}
mkdir -p "$out"
exec > >(tee -a "$out/check.log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
stamp configure
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DIIS_FIT_ONLY=ON \
  -DCMAKE_PREFIX_PATH="$prefix" -DIIS_HEADERS_DIR="$PWD/.gpu-deps/include" \
  -DIIS_GTEST_SOURCE_DIR="$PWD/.gpu-deps/googletest" > "$out/configure.log" 2>&1 ||
  { tail -40 "$out/configure.log"; exit 1; }
stamp build
ninja -C build-gpu -j16 fit_bench fit_cuda_test heads_test > "$out/build.log" 2>&1 ||
  { grep -m5 -A12 "error" "$out/build.log"; tail -20 "$out/build.log"; exit 1; }
stamp "fit_cuda_test (CUDA against CPU)"
build-gpu/tests/fit/fit_cuda_test
stamp "heads_test (LibTorch $(python3 -c 'import torch; print(torch.__version__)'))"
build-gpu/tests/heads/heads_test --gtest_brief=1
stamp "heads at ImageNet-like size: naive, shipped, floor"
build-gpu/bench/fit_bench --threads 16 --device cuda --skip-sweep --epochs 2
stamp "sweep at ImageNet size, $epochs epochs"
build-gpu/bench/fit_bench --threads 16 --device cuda --skip-large --sweep-in-memory \
  --sweep-n 1281167 --sweep-val-n 50000 --sweep-d 2048 --sweep-classes 1000 \
  --sweep-epochs "$epochs"
stamp done
