-- The starts of several messages in one call (fn_start.lua), each all or nothing, in order (so two
-- starts of one call see each other's writes as two calls would), at one server time.
-- ARGV[1]: time offset (microseconds; see clock.lua). ARGV[2]: the number of messages m. Then per
-- message: the number of its keys, and its arguments (fn_start.lua's, from the number of recipients
-- to the limit windows). KEYS: each message's keys in turn.
-- Returns one answer (fn_start.lua's) per message.
local now = now_us()
local m = tonumber(ARGV[2])
local kb, ab = 0, 2
local answers = {}
for i = 1, m do
  local keys = tonumber(ARGV[ab + 1])
  answers[i] = start_one(kb, ab + 1, now)
  kb = kb + keys
  ab = ab + 1 + 6 + 2 * tonumber(ARGV[ab + 1 + 6])
end
return answers
