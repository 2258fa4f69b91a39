-- astrocyte.policy.limiter_shdict: the homeostasis state backend for
-- OpenResty, over a lua_shared_dict, so every nginx worker draws from the
-- same buckets and counts against the same daily quotas (the in-process
-- backend gives each worker its own, multiplying every limit by the number
-- of workers).
--
-- Same answers as the C token bucket (core/src/ratelimit.c): capacity
-- `per_minute`, refilled at per_minute/60 per second, starting full. The
-- bucket is kept as one number, its theoretical arrival time (GCRA): the
-- moment it would be full again. A call is allowed when tat - now <=
-- (capacity - 1) * interval; the entry expires when the bucket is full, so
-- idle keys cost nothing. The read-check-write of one key runs under a
-- short lock (dict:add of a lock key, as lua-resty-lock does); nothing in
-- it yields, so the lock is held for microseconds.
--
-- Daily quotas are one counter per key and UTC day ("q:<key>:<day>",
-- atomic dict:incr, expiring after two days).
local fmt = string.format

local _M = {}
local mt = { __index = _M }

local LOCK_TTL = 0.1        -- seconds; frees the lock if its holder died
local LOCK_TRIES = 5000

-- new(dict) → backend | nil, err. dict: an ngx.shared.DICT.
function _M.new(dict)
  if type(dict) ~= "table" and type(dict) ~= "userdata" then
    return nil, "limiter_shdict: dict must be an ngx.shared dictionary"
  end
  return setmetatable({ dict = dict }, mt)
end

-- Waits (yielding where the phase allows, else spinning) for the lock of key.
local function lock(dict, key)
  local lk = "lock:" .. key
  for _ = 1, LOCK_TRIES do
    local ok, err = dict:add(lk, true, LOCK_TTL)
    if ok then return lk end
    if err ~= "exists" then return nil, err end
    if ngx and ngx.sleep then pcall(ngx.sleep, 0.001) end
  end
  return nil, "lock timeout"
end

-- backend:check(key, per_minute, now) → true | false, retry_after_seconds |
-- nil, err.
function _M:check(key, per_minute, now)
  if not (per_minute > 0) then return nil, "per_minute must be a positive number" end
  local dict = self.dict
  local lk, lerr = lock(dict, key)
  if not lk then return nil, lerr end
  local k = "b:" .. key
  local interval = 60 / per_minute
  local tat = dict:get(k)
  if not tat or tat < now then tat = now end
  local wait = tat - now - (per_minute - 1) * interval
  if wait > 1e-9 then
    dict:delete(lk)
    return false, wait
  end
  tat = tat + interval
  local ok, err = dict:set(k, tat, tat - now)
  dict:delete(lk)
  if not ok then return nil, err end
  return true
end

local function quota_key(key, day) return fmt("q:%s:%d", key, day) end

-- backend:quota(key, limit, day) → allowed, count.
function _M:quota(key, limit, day)
  local c = self.dict:get(quota_key(key, day)) or 0
  return c < limit, c
end

-- backend:record(key, day) → true | nil, err.
function _M:record(key, day)
  local v, err = self.dict:incr(quota_key(key, day), 1, 0, 2 * 86400)
  if not v then return nil, err end
  return true
end

return _M
