-- GCRA (the generic cell rate algorithm) over one Redis key: the rate
-- limiter of the gateway, the same script in every gateway and replica, so
-- that they all spend one budget per caller. Modelled on go-redis/redis_rate.
--
-- KEYS[1]  the caller's key; it holds the theoretical arrival time (TAT) of
--          the caller's next request, in microseconds of Redis's clock
-- ARGV[1]  the emission interval: microseconds between two requests at the
--          steady rate (60 000 000 / requests per minute)
-- ARGV[2]  the burst tolerance: how far, in microseconds, the TAT may run
--          ahead of now (the burst times the emission interval)
--
-- Returns {allowed (1 or 0), remaining (requests allowed at once after this
-- one), reset_after (microseconds until the budget is whole again),
-- retry_after (microseconds until the next request is allowed; 0 when this
-- one was)}. Time is Redis's own (TIME), never a client's: replicas whose
-- clocks disagree still agree on the budget. A refused request changes
-- nothing; an allowed one stores the new TAT, which expires when the budget
-- is whole again (an idle caller leaves no key behind).
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - tolerance

if now < allow_at then
  return {0, 0, tat - now, allow_at - now}
end

-- %d: a Lua number becomes a Redis argument with 14 significant digits only.
local reset_after = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat),
  'PX', string.format('%d', math.ceil(reset_after / 1000)))
return {1, math.floor((now - allow_at) / interval), reset_after, 0}
