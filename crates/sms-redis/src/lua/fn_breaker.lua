-- Shared breaker: may a request go to this provider? (breaker_admit.lua, start.lua)
-- The provider's hash: s: O open / P probing; u: open until; l: probe lease until (microseconds).
-- lease: the probe lease (microseconds); keep_ms: how long the key outlives the cool-down.
-- Returns 0 closed, 1 and the wait (microseconds) when open, 2 when this caller takes the probe.
local function breaker_admit(key, now, lease, keep_ms)
  local state = redis.call('HMGET', key, 's', 'u', 'l')
  if not state[1] then return 0, 0 end
  local open_until = tonumber(state[2])
  if state[1] == 'O' and now < open_until then
    return 1, open_until - now
  end
  if state[1] == 'P' and now < tonumber(state[3]) then
    return 1, 0
  end
  redis.call('HSET', key, 's', 'P', 'l', string.format('%.0f', now + lease))
  redis.call('PEXPIRE', key, string.format('%.0f', math.ceil(lease / 1000) + keep_ms))
  return 2, 0
end
