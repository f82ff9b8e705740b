-- A message's start, all or nothing (fn_reserve.lua, fn_breaker.lua, fn_limit.lua): reserve the
-- reference; unless reserved now, stop. Look every recipient up in the opt-outs. Ask the provider's
-- shared breaker; when open, stop. Count the recipients not opted out against the limits.
-- The message's keys follow KEYS[kb] and its arguments ARGV[ab] (see start.lua), relative:
-- 1: the number of recipients n. 2: the reference's retention (microseconds), or '' for no
-- reservation. 3: the probe lease (microseconds), or '' for no breaker. 4: how long a breaker's key
-- outlives its cool-down (milliseconds). 5: a nonce for the limits' members. 6: the number of limit
-- windows (0 for no limits), then pairs (count, period in microseconds).
-- Keys, relative: the reference (when asked), the breaker (when asked), n opt-out keys, then n limit
-- keys (when limits are asked).
-- Returns {reservation ('R', 'P', 'C' or '-' when not asked), outcome (or ''), breaker (-1 not
-- asked, 0 closed, 1 open, 2 probe), wait (microseconds), then n opt-out flags (0/1), then two
-- integers per recipient not opted out (limit.lua's)}. It ends after the outcome when the reference
-- was not free, after the opt-out flags when the breaker is open.
local function start_one(kb, ab, now)
  local n = tonumber(ARGV[ab + 1])
  local k = kb + 1
  local out = {'-', '', -1, 0}
  if ARGV[ab + 2] ~= '' then
    local state, outcome = reserve(KEYS[k], now, tonumber(ARGV[ab + 2]))
    k = k + 1
    if state ~= 'R' then return {state, outcome or ''} end
    out[1] = 'R'
  end
  local breaker_key = nil
  if ARGV[ab + 3] ~= '' then
    breaker_key = KEYS[k]
    k = k + 1
  end
  local listed = {}
  for i = 1, n do
    listed[i] = redis.call('EXISTS', KEYS[k + i - 1])
    out[4 + i] = listed[i]
  end
  if breaker_key then
    out[3], out[4] = breaker_admit(breaker_key, now, tonumber(ARGV[ab + 3]), tonumber(ARGV[ab + 4]))
    if out[3] == 1 then return out end
  end
  if tonumber(ARGV[ab + 6]) > 0 then
    local w = limit_windows(ab + 6)
    local prefix = string.format('%.0f', now) .. ':' .. ARGV[ab + 5] .. ':'
    for i = 1, n do
      if listed[i] == 0 then
        local refused, wait = limit_admit(KEYS[k + n + i - 1], w, now, prefix .. i)
        out[#out + 1] = refused
        out[#out + 1] = wait
      end
    end
  end
  return out
end
