#!/usr/bin/env bash
# Configures and builds fastjson-api into ./build (Release). Extra arguments
# are passed to the CMake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
