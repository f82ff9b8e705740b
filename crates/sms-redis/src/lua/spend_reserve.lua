-- Spend caps: reserve every charge or none, atomically. KEYS[i]: counter i, a hash of its value `u`
-- and expiry `e`. ARGV[1]: the wall time (Unix seconds, the chain's clock); then per counter
-- ARGV[3i-1], ARGV[3i], ARGV[3i+1]: amount, limit and expiry (Unix seconds). A counter whose expiry
-- has passed by the chain's clock counts as zero; the key's own TTL follows the same clock.
-- Answers {1, used...} (every counter after the charge) or {0, i, used} (charge i did not fit).
local now = tonumber(ARGV[1])
local function used_of(key)
  local fields = redis.call('HMGET', key, 'u', 'e')
  if not fields[1] or (fields[2] and tonumber(fields[2]) <= now) then return 0 end
  return tonumber(fields[1])
end
local used = {}
for i, key in ipairs(KEYS) do
  used[i] = used_of(key)
  if used[i] + tonumber(ARGV[3 * i - 1]) > tonumber(ARGV[3 * i]) then
    return {0, i, used[i]}
  end
end
local answer = {1}
for i, key in ipairs(KEYS) do
  local value = used[i] + tonumber(ARGV[3 * i - 1])
  local expiry = tonumber(ARGV[3 * i + 1])
  local ttl = expiry - now
  if ttl < 1 then ttl = 1 end
  redis.call('HSET', key, 'u', string.format('%d', value), 'e', string.format('%d', expiry))
  redis.call('EXPIRE', key, ttl)
  answer[i + 1] = value
end
return answer
