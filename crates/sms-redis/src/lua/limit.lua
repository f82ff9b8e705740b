-- Per-recipient limits for a batch (fn_limit.lua).
-- KEYS: one sorted set per number.
-- ARGV[1]: microseconds added to the server's TIME (0 outside tests), or minus the time (clock.lua).
-- ARGV[2]: a nonce that makes this call's members unique.
-- ARGV[3]: the number of windows n; then n pairs (count, period in microseconds).
-- Returns two integers per key: 0, 0 when admitted (and recorded), or the refusing window's index
-- (1-based, the one with the longest wait) and the wait in microseconds.
local now = now_us()
local w = limit_windows(3)
local out = {}
for i, key in ipairs(KEYS) do
  local refused, wait = limit_admit(key, w, now, string.format('%.0f', now) .. ':' .. ARGV[2] .. ':' .. i)
  out[#out + 1] = refused
  out[#out + 1] = wait
end
return out
