#!/usr/bin/env bash
# README's test command: installs what is missing, builds everything and runs
# the whole test suite with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"
