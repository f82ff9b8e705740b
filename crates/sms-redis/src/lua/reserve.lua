-- Idempotency: reserve a client reference, or say what became of it (fn_reserve.lua).
-- KEYS[1]: the reference's string.
-- ARGV[1]: microseconds added to the server's TIME (0 outside tests), or minus the time (clock.lua).
-- ARGV[2]: retention in microseconds.
-- Returns {'R'} when reserved now, {'P'} when pending, {'C', outcome} when completed.
local state, outcome = reserve(KEYS[1], now_us(), tonumber(ARGV[2]))
if state == 'C' then return {'C', outcome} end
return {state}
