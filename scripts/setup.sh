#!/usr/bin/env bash
# Installs the Debian packages iis needs and builds the tool in Release into build/.
# Usage: scripts/setup.sh [extra cmake args...]
#   IIS_SKIP_APT=1    skip the install step
#   IIS_WITH_TESTS=1  also install what the tests, benchmarks and parity scripts need
#                     (GoogleTest, Google Benchmark, clang-format, Debian's PyTorch, torchvision,
#                     scikit-image, scikit-learn, Open MPI's mpirun, pybind11 and pytest, Chromium
#                     for the page tests) and configure them with the Python module;
#                     scripts/test.sh sets it
set -euo pipefail
cd "$(dirname "$0")/.."

# What building the tool and running `iis demo` need. Only the three OpenCV modules iis uses:
# libopencv-dev would pull every module (VTK, GDAL, Tesseract, ...) for nothing.
packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread            # LibTorch; OpenBLAS makes its matrix products fast
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev  # decoding, resizing, colour
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libpcre2-dev                                 # Unicode classes of the CLIP tokenizer
  libjpeg-dev libpng-dev                       # JPEG and PNG decoded directly (silent, strict)
  gnuplot-nox                                  # figures of `iis report`
  dataset-fashion-mnist                        # the embedded default dataset
)
# What the tests, benchmarks and parity/export scripts add.
test_packages=(
  libgtest-dev libbenchmark-dev clang-format
  python3 python3-numpy python3-torch python3-torchvision python3-skimage python3-sklearn
  openmpi-bin                                  # mpirun, for the sharded runs' tests (label mpi)
  chromium                                     # headless browser of the page tests (label browser)
  pybind11-dev python3-dev python3-pytest python3-pil  # the Python module (python/) and its tests
)
with_tests=${IIS_WITH_TESTS:-0}
[[ "$with_tests" == 1 ]] && packages+=("${test_packages[@]}")

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if [[ "${IIS_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# Tests and benchmarks are configured when asked for, or when their packages are there; the
# Python module (for /usr/bin/python3, Debian's, which has NumPy) with the tests, or when
# pybind11 is there.
tests=OFF
if [[ "$with_tests" == 1 ]] || { installed libgtest-dev && installed libbenchmark-dev; }; then
  tests=ON
fi
python=OFF
if [[ "$with_tests" == 1 ]] || installed pybind11-dev; then
  python=ON
fi
# Unity build: each area's sources compile as one or two translation units, so LibTorch's
# precompiled headers are loaded 19 times instead of ~80 (on 2026-11-26 a fresh build of the
# tool took 4 min 38 s instead of 8 min 48 s on two cores; with the areas added since, 5 min
# 39 s on 2026-12-06). Pass -DCMAKE_UNITY_BUILD=OFF for faster edits of one file.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
  -DIIS_BUILD_TESTS=$tests -DIIS_BUILD_BENCH=$tests -DIIS_PYTHON=$python "$@"
# The tool only (the tests and benchmarks are built by scripts/test.sh, or IIS_BUILD_ALL=1).
if [[ "${IIS_BUILD_ALL:-0}" == 1 ]]; then
  cmake --build build -j "$(nproc)"
else
  cmake --build build -j "$(nproc)" --target iis_tool  # bin/iis and libexec/iis/iis
fi
echo "built: build/bin/iis"
