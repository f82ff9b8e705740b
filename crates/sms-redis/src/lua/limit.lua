-- Per-recipient limits: exact sliding logs, every window checked before anything is recorded.
-- KEYS: one sorted set per number (members: admitted sends; scores: their times in microseconds).
-- ARGV[1]: microseconds added to the server's TIME (0 outside tests), or minus the time (clock.lua).
-- ARGV[2]: a nonce that makes this call's members unique.
-- ARGV[3]: the number of windows n; then n pairs (count, period in microseconds).
-- Returns two integers per key: 0, 0 when admitted (and recorded), or the refusing window's index
-- (1-based, the one with the longest wait) and the wait in microseconds.
local now = now_us()
local nonce = ARGV[2]
local n = tonumber(ARGV[3])
local counts, periods, longest = {}, {}, 0
for w = 1, n do
  counts[w] = tonumber(ARGV[2 + 2 * w])
  periods[w] = tonumber(ARGV[3 + 2 * w])
  if periods[w] > longest then longest = periods[w] end
end
local function fmt(x) return string.format('%.0f', x) end
local ttl = fmt(math.ceil(longest / 1000) + 1000)
local out = {}
for i, key in ipairs(KEYS) do
  -- The times within the longest window, newest first (at most the largest count: only admitted
  -- sends are recorded, and a full window admits none).
  local log = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. fmt(now - longest), 'WITHSCORES')
  local refused, wait = 0, 0
  for w = 1, n do
    -- The count-th most recent time: the window is full when it is within the period.
    local nth = log[2 * counts[w]]
    if nth then
      local left = tonumber(nth) + periods[w] - now
      if left > 0 and left > wait then refused, wait = w, left end
    end
  end
  if refused == 0 then
    -- Times older than the longest window count in none: dropped when the number is written.
    if #log / 2 < redis.call('ZCARD', key) then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - longest))
    end
    redis.call('ZADD', key, fmt(now), fmt(now) .. ':' .. nonce .. ':' .. i)
    redis.call('PEXPIRE', key, ttl)
  end
  out[#out + 1] = refused
  out[#out + 1] = wait
end
return out
