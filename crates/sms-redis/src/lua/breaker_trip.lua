-- Shared breaker: open for every instance. KEYS[1]: the provider's hash.
-- ARGV[1]: time offset (microseconds), ARGV[2]: cool-down (microseconds),
-- ARGV[3]: how long the key outlives the cool-down (milliseconds).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local cool_down = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'O', 'u', string.format('%.0f', now + cool_down))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(cool_down / 1000) + tonumber(ARGV[3])))
return 1
