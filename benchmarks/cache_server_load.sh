#!/usr/bin/env bash
# Load test: fastjson-cache GET hits vs fastjson-hello /plaintext, same core.
#
#   benchmarks/cache_server_load.sh BUILD_DIR [KEYS] [DURATION] [ROUNDS] [VALUE_BYTES]
#   e.g. benchmarks/cache_server_load.sh build-cs 1000 10s 3 13
#
# Builds nothing. Starts both servers with --threads 1 pinned to CPU 0
# (taskset -c 0), preloads KEYS values of VALUE_BYTES bytes (default 13, the
# size of "Hello, World!") into the cache, then runs wrk (-t1 -c64, pinned to
# CPU 1, no pipelining) against each, alternating, ROUNDS times. Prints req/s,
# p50 and p99 per run, the averages, and the ratio cache/hello. Servers are
# stopped by PID. Needs wrk, taskset and python3.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [KEYS] [DURATION] [ROUNDS] [VALUE_BYTES]}
keys=${2:-1000}
duration=${3:-10s}
rounds=${4:-3}
value_bytes=${5:-13}
here=$(cd "$(dirname "$0")" && pwd)
cache_bin=$build/examples/cache_server/fastjson-cache
hello_bin=$build/examples/hello/fastjson-hello
for b in "$cache_bin" "$hello_bin"; do
  [[ -x $b ]] || { echo "missing $b (build the fastjson-cache and fastjson-hello targets)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME BIN ARGS... : starts a pinned server, sets $port and records its PID.
start() {
  local name=$1; shift
  taskset -c 0 "$@" --port 0 --threads 1 >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's#^listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$tmp/$name.out")
    [[ -n $port ]] && return 0
    sleep 0.05
  done
  echo "$name did not start:" >&2; cat "$tmp/$name.err" >&2; exit 1
}

start cache "$cache_bin"; cache_port=$port
start hello "$hello_bin"; hello_port=$port

# Preload over one keep-alive connection, 32 pipelined PUTs per batch.
python3 - "$cache_port" "$keys" "$value_bytes" <<'PY'
import socket, sys
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
value = (b"Hello, World!" * (size // 13 + 1))[:size]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(10)
ok = 0
for first in range(1, n + 1, 32):
    batch = range(first, min(first + 32, n + 1))
    s.sendall(b"".join(b"PUT /v1/cache/key-%d HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (k, len(value), value) for k in batch))
    buf = b""
    while buf.count(b"\r\n\r\n") < len(batch):
        chunk = s.recv(65536)
        if not chunk: sys.exit("preload: connection closed")
        buf += chunk
    ok += buf.count(b"HTTP/1.1 201") + buf.count(b"HTTP/1.1 204")
if ok != n: sys.exit(f"preload: {ok} of {n} PUTs succeeded")
PY
curl -sf "http://127.0.0.1:$cache_port/v1/cache/key-1" >/dev/null

# to_us "1.23ms" -> microseconds
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
                         else if (v ~ /s$/) print n * 1000000; else print n }'
}

# run NAME URL [LUA] : one wrk run; appends "name rps p50us p99us" to results.
run() {
  local name=$1 url=$2 lua=${3:-}
  local out=$tmp/wrk.txt
  if [[ -n $lua ]]; then
    KEYS=$keys taskset -c 1 wrk -t1 -c64 -d"$duration" --latency -s "$lua" "$url" >"$out"
  else
    taskset -c 1 wrk -t1 -c64 -d"$duration" --latency "$url" >"$out"
  fi
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")
  errs=$(grep -E "Non-2xx|Socket errors" "$out" || true)
  [[ -n $errs ]] && echo "  warning ($name): $errs" >&2
  printf "%-6s %-6s %12.0f %10.0f %10.0f\n" "$round" "$name" "$rps" "$p50" "$p99"
  echo "$name $rps $p50 $p99" >>"$tmp/results"
}

echo "# fastjson-cache GET (${keys} keys, ${value_bytes}-byte values) vs fastjson-hello /plaintext"
echo "# servers: --threads 1 on CPU 0; wrk -t1 -c64 -d$duration --latency on CPU 1; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %-6s %12s %10s %10s\n" round target "req/s" "p50 us" "p99 us"
for round in $(seq "$rounds"); do
  run cache "http://127.0.0.1:$cache_port/" "$here/cache_server_get.lua"
  run hello "http://127.0.0.1:$hello_port/plaintext"
done
awk '{ n[$1]++; r[$1] += $2; p50[$1] += $3; p99[$1] += $4; if ($4 > m99[$1]) m99[$1] = $4 }
     END {
       for (t in n) printf "mean   %-6s %12.0f %10.0f %10.0f   (worst p99 %.0f us)\n", t, r[t]/n[t], p50[t]/n[t], p99[t]/n[t], m99[t]
       printf "ratio cache/hello req/s: %.2f\n", (r["cache"]/n["cache"]) / (r["hello"]/n["hello"])
     }' "$tmp/results"
curl -s "http://127.0.0.1:$cache_port/v1/stats"; echo
