-- Idempotency: reserve a client reference, or say what became of it.
-- KEYS[1]: the reference's string: 'P|<until>' pending, or 'C|<until>|<outcome>' completed (until:
-- microseconds of the server's time, offset included).
-- ARGV[1]: microseconds added to the server's TIME (0 outside tests), or minus the time (clock.lua).
-- ARGV[2]: retention in microseconds.
-- Returns {'R'} when reserved now, {'P'} when pending, {'C', outcome} when completed.
local now = now_us()
local retention = tonumber(ARGV[2])
local value = redis.call('GET', KEYS[1])
if value then
  local state, till, rest = string.match(value, '^(%a)|(%d+)|?(.*)$')
  if state and tonumber(till) > now then
    if state == 'C' then return {'C', rest} end
    return {'P'}
  end
end
-- The key lives as long as the reservation: never a shorter "in progress" lock.
redis.call('SET', KEYS[1], 'P|' .. string.format('%.0f', now + retention),
  'PX', string.format('%.0f', math.ceil(retention / 1000)))
return {'R'}
