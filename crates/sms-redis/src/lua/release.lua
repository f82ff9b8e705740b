-- Idempotency: free a reservation that has no outcome (nothing was sent). KEYS[1]: the hash.
if redis.call('HGET', KEYS[1], 's') == 'P' then
  return redis.call('DEL', KEYS[1])
end
return 0
