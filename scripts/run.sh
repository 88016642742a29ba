#!/usr/bin/env bash
# README's run command: installs what is missing, builds, and runs the main
# job. Arguments go to the server (for example --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The todos service keeps its data in ./todos.db unless --db says otherwise.
exec ./build/examples/todos/fastjson-todos "$@"
