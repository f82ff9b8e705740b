-- Idempotency: reserve a client reference, or say what became of it (reserve.lua, start.lua).
-- The reference's key holds a string: 'P|<until>' pending, or 'C|<until>|<outcome>' completed (until:
-- microseconds of the server's time, offset included). Returns 'R' when reserved now, 'P' when
-- pending, 'C' and the outcome when completed.
local function reserve(key, now, retention)
  local value = redis.call('GET', key)
  if value then
    local state, till, rest = string.match(value, '^(%a)|(%d+)|?(.*)$')
    if state and tonumber(till) > now then
      if state == 'C' then return 'C', rest end
      return 'P'
    end
  end
  -- The key lives as long as the reservation: never a shorter "in progress" lock.
  redis.call('SET', key, 'P|' .. string.format('%.0f', now + retention),
    'PX', string.format('%.0f', math.ceil(retention / 1000)))
  return 'R'
end
