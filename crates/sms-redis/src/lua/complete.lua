-- Idempotency: record a reference's outcome. KEYS[1]: the reference's string (see reserve.lua).
-- ARGV[1]: time offset (microseconds), ARGV[2]: retention (microseconds), ARGV[3]: the outcome.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
redis.call('SET', KEYS[1], 'C|' .. string.format('%.0f', now + retention) .. '|' .. ARGV[3],
  'PX', string.format('%.0f', math.ceil(retention / 1000)))
return 1
