-- Idempotency: record a reference's outcome. KEYS[1]: the reference's string (see reserve.lua).
-- ARGV[1]: time offset (microseconds; see clock.lua), ARGV[2]: retention (microseconds), ARGV[3]: the outcome.
local now = now_us()
local retention = tonumber(ARGV[2])
redis.call('SET', KEYS[1], 'C|' .. string.format('%.0f', now + retention) .. '|' .. ARGV[3],
  'PX', string.format('%.0f', math.ceil(retention / 1000)))
return 1
