-- Pipelines `depth` requests of `path` per write (wrk -s pipeline.lua -- /plaintext 16).
init = function(args)
  local path = args[1] or "/plaintext"
  local depth = tonumber(args[2] or 16)
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, path) end
  req = table.concat(r)
end
request = function() return req end
