-- Spreads requests over `keys` cached items: wrk -s items.lua URL -- 4
init = function(args) keys = tonumber(args[1] or 4) end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/item/" .. (counter % keys))
end
