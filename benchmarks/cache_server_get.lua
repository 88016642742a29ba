-- wrk script for benchmarks/cache_server_load.sh: GET hits over the keys
-- key-1 .. key-N preloaded into fastjson-cache. N comes from the KEYS
-- environment variable (default 1000). No pipelining: one request per
-- round trip, like the /plaintext run it is compared with.
local n = tonumber(os.getenv("KEYS") or "1000")
local i = 0
local reqs = {}

-- Requests are formatted once, so the client spends its time on I/O, not Lua.
init = function(args)
  for k = 1, n do reqs[k] = wrk.format("GET", "/v1/cache/key-" .. k) end
end

request = function()
  i = i % n + 1
  return reqs[i]
end

-- No response() callback: defining one makes wrk hand every response to Lua,
-- which slows the client; wrk itself reports "Non-2xx or 3xx responses".
