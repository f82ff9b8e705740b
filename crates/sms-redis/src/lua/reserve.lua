-- Idempotency: reserve a client reference, or say what became of it.
-- KEYS[1]: the reference's hash (s: P pending / C completed; u: until, microseconds; o: outcome).
-- ARGV[1]: microseconds added to the server's TIME (0 outside tests).
-- ARGV[2]: retention in microseconds.
-- Returns {'R'} when reserved now, {'P'} when pending, {'C', outcome} when completed.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 's', 'u', 'o')
if state[1] and tonumber(state[2]) > now then
  if state[1] == 'C' then return {'C', state[3]} end
  return {'P'}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', 'P', 'u', string.format('%.0f', now + retention))
-- The key lives as long as the reservation: never a shorter "in progress" lock.
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(retention / 1000)))
return {'R'}
