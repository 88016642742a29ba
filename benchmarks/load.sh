#!/usr/bin/env bash
# Load test of examples/hello against peers measured in the same run.
#
#   benchmarks/load.sh [BUILD_DIR] [ROUNDS] [SECONDS]
#
# Each server runs pinned to core 0 with one worker; wrk (-t1 -c64) runs
# pinned to core 1. Per run: req/s, p99, and server CPU microseconds per
# response (utime+stime of the server's processes from /proc over the run,
# divided by the responses wrk counted). /json is unpipelined; /plaintext is
# pipelined x16. Rounds interleave the servers so drift hits all alike.
# Peers: nginx (static return bodies, if installed) and, when built by
# benchmarks/peers/build.sh, whatever binaries benchmarks/peers/build/ holds
# (each started as `BIN PORT`). After the rounds, each server's resident set
# (VmRSS from /proc, summed over its processes) is recorded. With
# LOAD_RESULTS=FILE set, the raw per-run lines ("NAME TEST REQ/S P99 CPU_US")
# and "NAME rss KB" lines are also written to FILE (benchmarks/run-peers).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
secs=${3:-10}
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A port pidlist
start_hello() {
  taskset -c 0 "$build/examples/hello/fastjson-hello" --port 0 --threads 1 >"$tmp/hello.out" 2>&1 &
  local p=$!; pids+=("$p")
  for _ in $(seq 50); do grep -q 'http://' "$tmp/hello.out" 2>/dev/null && break; sleep 0.1; done
  port[fastjson]=$(grep -o 'http://[^ ]*' "$tmp/hello.out" | sed 's/.*://')
  pidlist[fastjson]=$p
}
start_nginx() {
  command -v nginx >/dev/null || return 0
  local p; p=$(free_port)
  mkdir -p "$tmp/nginx"
  cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$p reuseport;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
  }
}
CONF
  taskset -c 0 nginx -c "$tmp/nginx/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
  local m=$!; pids+=("$m")
  sleep 0.5
  port[nginx]=$p
  pidlist[nginx]="$m $(pgrep -P "$m" | tr '\n' ' ' || true)"
}
start_peer_bins() {
  [ -d benchmarks/peers/build ] || return 0
  for bin in benchmarks/peers/build/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    local name; name=$(basename "$bin"); local p; p=$(free_port)
    taskset -c 0 "$bin" "$p" >/dev/null 2>&1 &
    local m=$!; pids+=("$m")
    sleep 0.7
    port[$name]=$p
    pidlist[$name]="$m $(pgrep -P "$m" | tr '\n' ' ' || true)"
  done
}
rss_kb() { local t=0 k; for p in $1; do k=$(awk '/^VmRSS:/ {print $2}' /proc/$p/status 2>/dev/null || true); t=$((t + ${k:-0})); done; echo $t; }
cpu_ticks() { local t=0; for p in $1; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }

run_one() { # name test
  local name=$1 test=$2 url="http://127.0.0.1:${port[$1]}"
  local args=(-t1 -c64 -d"${secs}s" --latency)
  if [ "$test" = plaintext ]; then args+=(-s benchmarks/wrk/pipeline.lua "$url" -- /plaintext 16); else args+=("$url/json"); fi
  local before; before=$(cpu_ticks "${pidlist[$name]}")
  taskset -c 1 wrk "${args[@]}" >"$tmp/wrk.out" 2>&1
  local after; after=$(cpu_ticks "${pidlist[$name]}")
  local reqs rps p99
  reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
  rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$tmp/wrk.out")
  local us; us=$(python3 -c "print(f'{($after-$before)/$tck*1e6/max(1,$reqs):.2f}')")
  printf '%-12s %-10s %12s %10s %10s\n' "$name" "$test" "$rps" "$p99" "$us"
  echo "$name $test $rps $p99 $us" >>"$tmp/results"
}

start_hello
start_nginx
start_peer_bins
echo "server       test              req/s        p99  cpu_us/req"
for r in $(seq "$rounds"); do
  for test in json plaintext; do
    for name in "${!port[@]}"; do run_one "$name" "$test"; done
  done
done
for name in "${!port[@]}"; do echo "$name rss $(rss_kb "${pidlist[$name]}")" >>"$tmp/rss"; done
if [ -n "${LOAD_RESULTS:-}" ]; then cat "$tmp/results" "$tmp/rss" >"$LOAD_RESULTS"; fi
echo
echo "medians over $rounds rounds (cpu_us/req = server CPU per response; lower is better)"
python3 - "$tmp/results" "$tmp/rss" <<'PY'
import sys, statistics as st, collections
rss = dict((l.split()[0], int(l.split()[2])) for l in open(sys.argv[2]))
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, t, rps, p99, us = line.split()
    rows[(n, t)].append((float(rps), p99, float(us)))
base = {t: st.median(u for _, _, u in rows[("fastjson", t)]) for (n, t) in rows if n == "fastjson"}
print(f"{'server':12} {'test':10} {'req/s':>12} {'cpu_us/req':>11} {'vs fastjson':>12} {'rss_MiB':>8}")
for (n, t), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    us = st.median(x[2] for x in v)
    print(f"{n:12} {t:10} {st.median(x[0] for x in v):12.0f} {us:11.2f} {us / base[t]:11.2f}x {rss.get(n, 0) / 1024:8.1f}")
PY
