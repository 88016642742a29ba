#!/usr/bin/env bash
# Load test of examples/tfb per TechEmpower test type, on SQLite.
#
#   benchmarks/tfb/load.sh [BUILD_DIR] [SECONDS] [TESTS...]
#
# The server runs pinned to core 0 with one worker loop (its SQLite threads
# inherit the pinning); wrk -t1 -c64 runs pinned to core 1. Per test: req/s,
# p99 latency, non-2xx count, and server CPU microseconds per response
# (utime+stime of the whole server process from /proc/PID/stat over the run,
# divided by the responses wrk counted). A fresh database is created in a
# temporary directory and the server is warmed up once per test.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
secs=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(/db "/queries?queries=20" /fortunes "/updates?queries=20")
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

taskset -c 0 "$build/examples/tfb/fastjson-tfb" --port 0 --threads 1 --db "$tmp/tfb.db" >"$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/out" | head -n 1)
[ -n "$url" ] || { cat "$tmp/out"; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

printf '%-24s %12s %10s %8s %14s\n' test req/s p99 non2xx cpu_us/req
for t in "${tests[@]}"; do
  taskset -c 1 wrk -t1 -c64 -d2s "$url$t" >/dev/null  # warm-up
  c0=$(cpu_ticks)
  taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency "$url$t" >"$tmp/wrk"
  c1=$(cpu_ticks)
  reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
  rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk")
  cpu_us=$(awk -v d=$((c1 - c0)) -v t="$tck" -v n="$reqs" 'BEGIN { printf "%.1f", d * 1e6 / t / n }')
  printf '%-24s %12s %10s %8s %14s\n' "$t" "$rps" "$p99" "${non2xx:-0}" "$cpu_us"
done
