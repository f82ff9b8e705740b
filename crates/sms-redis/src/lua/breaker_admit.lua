-- Shared breaker: may a request go to this provider? KEYS[1]: the provider's hash
-- (s: O open / P probing; u: open until; l: probe lease until; microseconds).
-- ARGV[1]: time offset (microseconds; see clock.lua), ARGV[2]: probe lease (microseconds),
-- ARGV[3]: how long the key outlives the cool-down (milliseconds).
-- Returns {0} closed, {1, wait} open (wait in microseconds), {2} this caller takes the probe.
local now = now_us()
local state = redis.call('HMGET', KEYS[1], 's', 'u', 'l')
if not state[1] then return {0} end
local open_until = tonumber(state[2])
if state[1] == 'O' and now < open_until then
  return {1, open_until - now}
end
if state[1] == 'P' and now < tonumber(state[3]) then
  return {1, 0}
end
redis.call('HSET', KEYS[1], 's', 'P', 'l', string.format('%.0f', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(tonumber(ARGV[2]) / 1000) + tonumber(ARGV[3])))
return {2}
