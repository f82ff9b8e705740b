-- Spend caps: settle reservations. KEYS[i]: counter i (a hash, see spend_reserve.lua). ARGV[1]: the
-- wall time (Unix seconds); then per counter ARGV[2i], ARGV[2i+1]: the change (may be negative) and
-- the expiry (Unix seconds). A counter never goes below zero.
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 'u', 'e')
  local value = 0
  if fields[1] and not (fields[2] and tonumber(fields[2]) <= now) then value = tonumber(fields[1]) end
  value = value + tonumber(ARGV[2 * i])
  if value < 0 then value = 0 end
  local expiry = tonumber(ARGV[2 * i + 1])
  local ttl = expiry - now
  if ttl < 1 then ttl = 1 end
  redis.call('HSET', key, 'u', string.format('%d', value), 'e', string.format('%d', expiry))
  redis.call('EXPIRE', key, ttl)
end
return 0
