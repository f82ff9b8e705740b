-- Shared breaker: may a request go to this provider? (fn_breaker.lua) KEYS[1]: the provider's hash.
-- ARGV[1]: time offset (microseconds; see clock.lua), ARGV[2]: probe lease (microseconds),
-- ARGV[3]: how long the key outlives the cool-down (milliseconds).
-- Returns {0} closed, {1, wait} open (wait in microseconds), {2} this caller takes the probe.
local answer, wait = breaker_admit(KEYS[1], now_us(), tonumber(ARGV[2]), tonumber(ARGV[3]))
if answer == 1 then return {1, wait} end
return {answer}
