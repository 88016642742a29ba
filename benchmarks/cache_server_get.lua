-- wrk script for benchmarks/cache_server_load.sh: GET hits over the keys
-- key-1 .. key-N preloaded into fastjson-cache. N comes from the KEYS
-- environment variable (default 1000). No pipelining: one request per
-- round trip, like the /plaintext run it is compared with.
local n = tonumber(os.getenv("KEYS") or "1000")
local i = 0
local paths = {}
for k = 1, n do paths[k] = "/v1/cache/key-" .. k end

request = function()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end

local non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", non200))
end
