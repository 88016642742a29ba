#!/usr/bin/env bash
# Load test of examples/tfb per TechEmpower test type, on SQLite.
#
#   benchmarks/tfb/load.sh [--peer BIN]... [BUILD_DIR] [SECONDS] [TESTS...]
#
# The server runs pinned to core 0 with one worker loop (its SQLite threads
# inherit the pinning); wrk -t1 -c64 runs pinned to core 1. Per test: req/s,
# p99 latency, non-2xx count, and server CPU microseconds per response
# (utime+stime of the whole server process from /proc/PID/stat over the run,
# divided by the responses wrk counted). A fresh database is created in a
# temporary directory and the server is warmed up once per test.
#
# --peer BIN (repeatable) also measures a peer built by
# benchmarks/peers/build.sh (e.g. benchmarks/peers/build/db/go-sqlite), started
# as `BIN PORT DB` on its own fresh database, pinned the same way; fastjson
# and the peers take turns per test so drift hits all alike, and each peer's
# CPU per response is also given as a ratio to fastjson's.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers=()
while [ "${1:-}" = --peer ]; do peers+=("$2"); shift 2; done
build=${1:-build}
secs=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(/db "/queries?queries=20" /fortunes "/updates?queries=20")
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A url pid
names=(fastjson)
taskset -c 0 "$build/examples/tfb/fastjson-tfb" --port 0 --threads 1 --db "$tmp/tfb.db" >"$tmp/out" 2>&1 &
pid[fastjson]=$!
pids+=("${pid[fastjson]}")
for _ in $(seq 300); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.1; done
url[fastjson]=$(sed -n 's/^listening on //p' "$tmp/out" | head -n 1)
[ -n "${url[fastjson]}" ] || { cat "$tmp/out"; exit 1; }

for bin in "${peers[@]}"; do
  name=$(basename "$bin")
  port=$(free_port)
  taskset -c 0 "$bin" "$port" "$tmp/$name.db" >"$tmp/$name.out" 2>&1 &
  pid[$name]=$!
  pids+=("${pid[$name]}")
  url[$name]="http://127.0.0.1:$port"
  for _ in $(seq 300); do curl -sf -o /dev/null "${url[$name]}/db" && break; sleep 0.1; done
  curl -sf -o /dev/null "${url[$name]}/db" || { echo "$name did not start:"; cat "$tmp/$name.out"; exit 1; }
  names+=("$name")
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A fj_cpu
printf '%-12s %-24s %12s %10s %8s %14s %12s\n' server test req/s p99 non2xx cpu_us/req vs_fastjson
for t in "${tests[@]}"; do
  for name in "${names[@]}"; do
    u=${url[$name]}
    taskset -c 1 wrk -t1 -c64 -d2s "$u$t" >/dev/null  # warm-up
    c0=$(cpu_ticks "${pid[$name]}")
    taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency "$u$t" >"$tmp/wrk"
    c1=$(cpu_ticks "${pid[$name]}")
    reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
    rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$tmp/wrk")
    cpu_us=$(awk -v d=$((c1 - c0)) -v t="$tck" -v n="$reqs" 'BEGIN { printf "%.1f", d * 1e6 / t / n }')
    [ "$name" = fastjson ] && fj_cpu[$t]=$cpu_us
    ratio=$(awk -v a="$cpu_us" -v b="${fj_cpu[$t]}" 'BEGIN { printf "%.2fx", a / b }')
    printf '%-12s %-24s %12s %10s %8s %14s %12s\n' "$name" "$t" "$rps" "$p99" "${non2xx:-0}" "$cpu_us" "$ratio"
  done
done
