-- Shared breaker: open for every instance. KEYS[1]: the provider's hash.
-- ARGV[1]: time offset (microseconds; see clock.lua), ARGV[2]: cool-down (microseconds),
-- ARGV[3]: how long the key outlives the cool-down (milliseconds).
local now = now_us()
local cool_down = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'O', 'u', string.format('%.0f', now + cool_down))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(cool_down / 1000) + tonumber(ARGV[3])))
return 1
