-- Idempotency: free a reservation that has no outcome (nothing was sent). KEYS[1]: the reference.
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, 2) == 'P|' then
  return redis.call('DEL', KEYS[1])
end
return 0
