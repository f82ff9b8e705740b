-- Per-recipient limits: exact sliding logs, every window checked before anything is recorded
-- (limit.lua, start.lua). One sorted set per number (members: admitted sends; scores: their times in
-- microseconds).

-- The windows from ARGV[first] (their number n), then n pairs (count, period in microseconds).
local function limit_windows(first)
  local w = {n = tonumber(ARGV[first]), counts = {}, periods = {}, longest = 0, largest = 0}
  for i = 1, w.n do
    w.counts[i] = tonumber(ARGV[first + 2 * i - 1])
    w.periods[i] = tonumber(ARGV[first + 2 * i])
    if w.periods[i] > w.longest then w.longest = w.periods[i] end
    if w.counts[i] > w.largest then w.largest = w.counts[i] end
  end
  if w.largest < 1 then w.largest = 1 end
  w.ttl = string.format('%.0f', math.ceil(w.longest / 1000) + 1000)
  return w
end

-- Checks one number's log against the windows w at now; records member when admitted. Returns 0, 0
-- when admitted, or the refusing window's index (1-based, the one with the longest wait) and the wait
-- in microseconds.
local function limit_admit(key, w, now, member)
  local function fmt(x) return string.format('%.0f', x) end
  -- The newest times, newest first: only the count-th newest can fill a window, so the largest count
  -- of them is all a check needs, and all the log keeps.
  local log = redis.call('ZREVRANGE', key, 0, w.largest - 1, 'WITHSCORES')
  local refused, wait = 0, 0
  for i = 1, w.n do
    -- The count-th most recent time: the window is full when it is within the period.
    local nth = log[2 * w.counts[i]]
    if nth then
      local left = tonumber(nth) + w.periods[i] - now
      if left > 0 and left > wait then refused, wait = i, left end
    end
  end
  if refused == 0 then
    redis.call('ZADD', key, fmt(now), member)
    -- A full log now holds one time more than it needs: drop the oldest (by rank, so the log of a
    -- number sent to for ever stays this size).
    if #log / 2 >= w.largest then
      redis.call('ZREMRANGEBYRANK', key, 0, -(w.largest + 1))
    end
    redis.call('PEXPIRE', key, w.ttl)
  end
  return refused, wait
end
