-- Idempotency: record the outcomes of references (one or several completions written together).
-- KEYS: the references' strings (see fn_reserve.lua). ARGV[1]: time offset (microseconds; see
-- clock.lua), then per key: its retention (microseconds) and its outcome.
local now = now_us()
for i, key in ipairs(KEYS) do
  local retention = tonumber(ARGV[2 * i])
  redis.call('SET', key, 'C|' .. string.format('%.0f', now + retention) .. '|' .. ARGV[2 * i + 1],
    'PX', string.format('%.0f', math.ceil(retention / 1000)))
end
return #KEYS
