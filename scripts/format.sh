#!/usr/bin/env bash
# Applies .clang-format to every C++ file of the project.
set -euo pipefail
cd "$(dirname "$0")/.."
find src tools tests bench fuzz python \( -name '*.cpp' -o -name '*.hpp' -o -name '*.inc' \) -print0 | xargs -0 clang-format -i
