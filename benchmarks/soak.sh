#!/usr/bin/env bash
# Soak test of the todos service (not run by CI).
#
#   benchmarks/soak.sh [MINUTES] [BUILD_DIR] [CONNECTIONS]
#
# Starts ./BUILD_DIR/examples/todos/fastjson-todos --port 0 on a temporary
# database, runs wrk for MINUTES (default 10) with a POST/GET mix (one POST
# /api/todos in 10 requests, the rest GET /api/todos/:id of ids already
# created and GET /api/todos?limit=20), and prints the server's RSS and open
# fd count every 10 s. A leak shows as a trend in either column once the
# SQLite page cache has warmed up (the first minute). 127.0.0.1 only; the
# server is stopped by its PID (SIGTERM, then SIGKILL after 10 s).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
build=${2:-build}
conns=${3:-64}
bin=$build/examples/todos/fastjson-todos
[[ -x $bin ]] || { echo "soak: $bin not built (cmake --build $build --target fastjson-todos)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "soak: wrk not installed (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=""
wrk_pid=""
cleanup() {
  [[ -n $wrk_pid ]] && kill "$wrk_pid" 2>/dev/null || true
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$bin" --port 0 --host 127.0.0.1 --db "$tmp/soak.db" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$tmp/server.out" | head -1)
[[ -n $url ]] || { echo "soak: server did not start" >&2; cat "$tmp/server.err" >&2; exit 1; }
echo "soak: todos at $url (pid $server_pid), $minutes min, $conns connections"

# Seed a few todos so GETs by id hit.
for i in $(seq 20); do
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"title\":\"seed $i\"}" "$url/api/todos"
done

cat >"$tmp/mix.lua" <<'LUA'
-- 10% POST /api/todos, 70% GET /api/todos/:id (ids 1..max seen), 20% list.
local counter, max_id = 0, 20
request = function()
  counter = counter + 1
  local r = counter % 10
  if r == 0 then
    return wrk.format("POST", "/api/todos", {["Content-Type"] = "application/json"},
                      '{"title":"soak ' .. counter .. '","done":false}')
  elseif r <= 2 then
    return wrk.format("GET", "/api/todos?limit=20&offset=" .. (counter % 100))
  else
    return wrk.format("GET", "/api/todos/" .. (counter % max_id + 1))
  end
end
response = function(status, headers, body)
  local loc = headers["Location"]
  if loc then
    local id = tonumber(string.match(loc, "(%d+)$"))
    if id and id > max_id then max_id = id end
  end
end
LUA

secs=$((minutes * 60))
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$tmp/mix.lua" "$url" >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
fds() { ls "/proc/$server_pid/fd" | wc -l; }
printf '%8s %12s %6s\n' "t(s)" "rss(KiB)" "fds"
start=$(date +%s)
while kill -0 "$wrk_pid" 2>/dev/null; do
  kill -0 "$server_pid" 2>/dev/null || { echo "soak: server died" >&2; cat "$tmp/server.err" >&2; exit 1; }
  printf '%8d %12s %6s\n' "$(( $(date +%s) - start ))" "$(rss)" "$(fds)"
  for _ in $(seq 10); do kill -0 "$wrk_pid" 2>/dev/null || break; sleep 1; done
done
wait "$wrk_pid" || true
wrk_pid=""
sleep 1
printf '%8s %12s %6s   (after the load, connections closed)\n' "end" "$(rss)" "$(fds)"
cat "$tmp/wrk.out"
