-- Shared breaker: a probe given back without a verdict; the next caller may probe. KEYS[1]: the hash.
if redis.call('HGET', KEYS[1], 's') == 'P' then
  redis.call('HSET', KEYS[1], 's', 'O')
  return 1
end
return 0
