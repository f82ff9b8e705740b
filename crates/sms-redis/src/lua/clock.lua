-- Prepended to every script that tells the time.
-- The time in microseconds: the server's TIME plus ARGV[1] (an offset, 0 outside tests), or exactly
-- -ARGV[1] when ARGV[1] is negative (a test's own clock, which must not move while the test waits).
local function now_us()
  local given = tonumber(ARGV[1])
  if given < 0 then return -given end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + given
end
