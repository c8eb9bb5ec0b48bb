#!/usr/bin/env bash
# Run here (the Debian machine) before a GPU check: copies what a GPU node with only a CUDA
# LibTorch lacks — the header-only libraries and GoogleTest's sources — into .gpu-deps/
# (ignored by git), which the device call carries. See scripts/gpu/check.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu-deps
mkdir -p .gpu-deps/include
cp -r /usr/include/nlohmann /usr/include/CLI .gpu-deps/include/
cp -r /usr/src/googletest .gpu-deps/googletest
du -sh .gpu-deps
