#!/usr/bin/env bash
# README's run command: installs what is missing, builds, and runs the main
# job. Arguments go to the server (for example --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec ./build/examples/hello/fastjson-hello "$@"
