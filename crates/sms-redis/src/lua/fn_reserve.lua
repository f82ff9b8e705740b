-- Idempotency: reserve a client reference, or say what became of it (reserve.lua, start.lua).
-- The reference's key holds a string: 'P|<until>' pending, or 'C|<until>|<outcome>' completed (until:
-- microseconds of the server's time, offset included). Returns 'R' when reserved now, 'P' when
-- pending, 'C' and the outcome when completed.
local function reserve(key, now, retention)
  local value = 'P|' .. string.format('%.0f', now + retention)
  -- The key lives as long as the reservation: never a shorter "in progress" lock.
  local ttl = string.format('%.0f', math.ceil(retention / 1000))
  -- A new reference (the usual case) costs this one command.
  if redis.call('SET', key, value, 'NX', 'PX', ttl) then return 'R' end
  local held = redis.call('GET', key)
  if held then
    local state, till, rest = string.match(held, '^(%a)|(%d+)|?(.*)$')
    if state and tonumber(till) > now then
      if state == 'C' then return 'C', rest end
      return 'P'
    end
  end
  -- Held by a reservation that ended by the time given (only a test clock or offset gets here: the
  -- key's own expiry ends it otherwise), or gone since the SET: take it.
  redis.call('SET', key, value, 'PX', ttl)
  return 'R'
end
