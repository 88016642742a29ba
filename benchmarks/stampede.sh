#!/usr/bin/env bash
# Cache stampede: mw::response_cache with and without request coalescing.
#
#   benchmarks/stampede.sh [BUILD_DIR] [SECONDS] [ROUNDS] [KEYS] [HANDLER_MS]
#
# Runs BUILD_DIR/benchmarks/stampede_server (one worker, pinned to CPU 0)
# with coalescing on and with --no-coalesce, alternating, ROUNDS times; wrk
# (-t1 -c64, pinned to CPU 1) spreads GETs over KEYS items whose entries
# expire every second, behind a handler of HANDLER_MS. Per run: req/s, p99,
# server CPU microseconds per response, and how many times the handler ran
# (every run starts a fresh server). Servers are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
secs=${2:-5}
rounds=${3:-3}
keys=${4:-4}
handler_ms=${5:-5}
bin=$build/benchmarks/stampede_server
[[ -x $bin ]] || { echo "missing $bin (build the stampede_server target)" >&2; exit 1; }
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

printf '%-12s %10s %8s %11s %13s\n' mode req/s p99 cpu_us/req handler_runs
for r in $(seq "$rounds"); do
  for mode in coalesce no-coalesce; do
    args=(--port 0 --threads 1 --handler-ms "$handler_ms")
    [[ $mode == no-coalesce ]] && args+=(--no-coalesce)
    taskset -c 0 "$bin" "${args[@]}" >"$tmp/out" 2>&1 &
    pid=$!
    for _ in $(seq 50); do grep -q 'http://' "$tmp/out" && break; sleep 0.1; done
    url=$(grep -o 'http://[^ ]*' "$tmp/out")
    before=$(awk '{print $14+$15}' /proc/$pid/stat)
    taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency -s benchmarks/wrk/items.lua "$url" -- "$keys" >"$tmp/wrk"
    after=$(awk '{print $14+$15}' /proc/$pid/stat)
    runs=$(curl -s "$url/calls")
    kill -INT "$pid"; wait "$pid" || true; pid=
    n=$(awk '/requests in/ {print $1}' "$tmp/wrk")
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk")
    p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk")
    us=$(python3 -c "print(f'{($after-$before)/$tck*1e6/max(1,$n):.2f}')")
    printf '%-12s %10s %8s %11s %13s\n' "$mode" "$rps" "$p99" "$us" "$runs"
  done
done
