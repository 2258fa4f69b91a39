-- astrocyte.policy.homeostasis: rate limits and daily quotas
-- (pipeline.md §2.1). Token buckets per "<bank>:<operation>" from
-- homeostasis.rate_limits.{retain,recall,reflect}_per_minute, plus one global
-- bucket across all banks and operations from global_per_minute (which the
-- reference reads but never enforces); daily quotas from
-- homeostasis.quotas.{retain,reflect}_per_day, counted per UTC day and
-- recorded only after the operation succeeded. Unset limits are unlimited.
--
-- How the engine calls it:
--   local h, err = homeostasis.new(cfg.homeostasis, { clock = fn })  -- at open
--   local ok, rerr = h:check(bank_id, "retain", cfg.banks[bank_id] and cfg.banks[bank_id].homeostasis)
--   if not ok then return nil, rerr end                               -- RateLimited
--   ... dispatch ...; on success: h:record(bank_id, "retain")
--
-- State lives behind a backend object, so an OpenResty lua_shared_dict
-- backend can replace the in-process one without touching this module:
--   backend:check(key, per_minute, now) -> true | false, retry_after_seconds | nil, err
--   backend:quota(key, limit, day)      -> allowed, count
--   backend:record(key, day)            -> true | nil, err
-- The default backend (memory_backend) is the C token-bucket table. Under
-- OpenResty, `homeostasis.shared_dict: <name>` (an extension key naming a
-- lua_shared_dict) selects policy/limiter_shdict.lua, shared by all workers.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local type, fmt, floor, ceil, tostring = type, string.format, math.floor, math.ceil, tostring
local pairs, ipairs, setmetatable = pairs, ipairs, setmetatable

local _M = { _VERSION = "0.1.0", GLOBAL_KEY = "*:global" }
local mt = { __index = _M }

local OPS = { "retain", "recall", "reflect" }
local QUOTA_OPS = { "retain", "reflect" }

-- Default clock: seconds since the epoch (ngx.now under OpenResty).
local function default_clock()
  if ngx and ngx.now then return ngx.now() end
  return core.now_ms() / 1000
end

local MEM = {}
local mem_mt = { __index = MEM }

-- In-process backend over core.ratelimiter. opts: { max_buckets = 10000 }.
function _M.memory_backend(opts)
  local rl, err = core.ratelimiter({ max_buckets = opts and opts.max_buckets })
  if not rl then return nil, "homeostasis: " .. err end
  return setmetatable({ rl = rl }, mem_mt)
end

function MEM:check(key, per_minute, now) return self.rl:check(key, per_minute, now) end
function MEM:quota(key, limit, day) return self.rl:quota(key, limit, day) end
function MEM:record(key, day) return self.rl:record_quota(key, day) end

-- Reads an optional positive limit at t[name]; returns it or nil, ConfigError.
local function limit_of(t, name, key_path)
  local v = t and t[name]
  if v == nil then return false end
  if type(v) ~= "number" or not (v > 0) or v == math.huge then
    return nil, errors.config(fmt("%s.%s must be a positive number, got %s", key_path, name, tostring(v)),
                              { key_path = key_path .. "." .. name })
  end
  return v
end

-- Builds {per_minute = {op = n}, global = n, per_day = {op = n}} from a
-- homeostasis section; false marks "unlimited".
local function read_limits(conf, key_path)
  local out = { per_minute = {}, per_day = {} }
  if conf == nil then conf = {} end
  if type(conf) ~= "table" then return nil, errors.config(key_path .. " must be a table", { key_path = key_path }) end
  local rl, q, err = conf.rate_limits, conf.quotas
  for _, op in ipairs(OPS) do
    out.per_minute[op], err = limit_of(rl, op .. "_per_minute", key_path .. ".rate_limits")
    if err then return nil, err end
  end
  out.global, err = limit_of(rl, "global_per_minute", key_path .. ".rate_limits")
  if err then return nil, err end
  for _, op in ipairs(QUOTA_OPS) do
    out.per_day[op], err = limit_of(q, op .. "_per_day", key_path .. ".quotas")
    if err then return nil, err end
    if out.per_day[op] and out.per_day[op] ~= floor(out.per_day[op]) then
      return nil, errors.config(fmt("%s.quotas.%s_per_day must be an integer", key_path, op), { key_path = key_path .. ".quotas." .. op .. "_per_day" })
    end
  end
  return out
end

-- The lua_shared_dict backend for homeostasis.shared_dict = name; a
-- ConfigError outside OpenResty or when nginx.conf declares no such dict.
function _M.shared_dict_backend(name)
  local kp = "homeostasis.shared_dict"
  if type(name) ~= "string" or name == "" then
    return nil, errors.config(kp .. " must be the name of a lua_shared_dict", { key_path = kp })
  end
  local shared = ngx and ngx.shared
  if not shared then
    return nil, errors.config(fmt("%s = '%s' needs OpenResty (ngx.shared is not available here)", kp, name), { key_path = kp })
  end
  local dict = shared[name]
  if not dict then
    return nil, errors.config(fmt("%s: no lua_shared_dict '%s' (declare it in nginx.conf: lua_shared_dict %s 1m;)", kp, name, name),
                              { key_path = kp })
  end
  return require("astrocyte.policy.limiter_shdict").new(dict)
end

-- homeostasis.new(conf, opts) → limiter | nil, ConfigError.
-- conf: cfg.homeostasis; opts: { clock = function() return seconds end,
-- backend = <backend object>, max_buckets = 10000 }.
function _M.new(conf, opts)
  opts = opts or {}
  local limits, err = read_limits(conf, "homeostasis")
  if not limits then return nil, err end
  local backend = opts.backend
  if backend == nil and conf and conf.shared_dict ~= nil then
    backend, err = _M.shared_dict_backend(conf.shared_dict)
    if not backend then return nil, err end
  end
  if backend == nil then
    backend, err = _M.memory_backend({ max_buckets = opts.max_buckets })
    if not backend then return nil, errors.config(err, { key_path = "homeostasis" }) end
  end
  return setmetatable({ limits = limits, backend = backend, clock = opts.clock or default_clock, overrides = {} }, mt)
end

local function backend_failed(err)
  return nil, errors.wrap("StorageError", "homeostasis: limiter state backend failed" .. (err and (": " .. tostring(err)) or ""))
end

-- Seconds rounded up to the millisecond.
local function round_up(s)
  return ceil(s * 1000 - 1e-6) / 1000
end

local function rate_limited(bank_id, op, retry, msg, extra)
  local f = { bank_id = bank_id, operation = op, retry_after = retry }
  for k, v in pairs(extra) do f[k] = v end
  return errors.new("RateLimited", msg, f)
end

-- Effective limits for a bank: a per-bank homeostasis section (banks.<id>.
-- homeostasis) overrides the keys it sets. Cached per table.
local function limits_for(self, bank_conf)
  if bank_conf == nil then return self.limits end
  local cached = self.overrides[bank_conf]
  if cached then return cached end
  local own, err = read_limits(bank_conf, "banks.<id>.homeostasis")
  if not own then return nil, err end
  local eff = { per_minute = {}, per_day = {}, global = self.limits.global }
  for _, op in ipairs(OPS) do
    local v = own.per_minute[op]
    if v == false then v = self.limits.per_minute[op] end
    eff.per_minute[op] = v
  end
  for _, op in ipairs(QUOTA_OPS) do
    local v = own.per_day[op]
    if v == false then v = self.limits.per_day[op] end
    eff.per_day[op] = v
  end
  self.overrides[bank_conf] = eff
  return eff
end

-- limiter:check(bank_id, operation [, bank_homeostasis]) → true, or nil and
-- RateLimited {bank_id, operation, retry_after, limit, scope}. Takes one
-- token from the bank's bucket, then from the global bucket, then checks the
-- daily quota (nothing is recorded against the quota here). A call refused by
-- a later step has still spent its earlier tokens, as in the reference.
-- Messages: "retain on bank 'b' exceeds 30 per minute (retry after 2.000 s)",
-- "retain on all banks exceeds the global 300 per minute (retry after 0.200 s)",
-- "retain on bank 'b' reached its daily quota of 100 (retry after 3600.000 s)".
function _M:check(bank_id, operation, bank_conf)
  local lim, err = limits_for(self, bank_conf)
  if not lim then return nil, err end
  local now = self.clock()
  local per_min = lim.per_minute[operation]
  if per_min then
    local ok, retry = self.backend:check(bank_id .. ":" .. operation, per_min, now)
    if not ok then
      if type(retry) ~= "number" then return backend_failed(retry) end
      retry = round_up(retry)
      return nil, rate_limited(bank_id, operation, retry,
        fmt("%s on bank '%s' exceeds %s per minute (retry after %.3f s)", operation, bank_id, tostring(per_min), retry),
        { limit = per_min, scope = "bank" })
    end
  end
  if lim.global then
    local ok, retry = self.backend:check(_M.GLOBAL_KEY, lim.global, now)
    if not ok then
      if type(retry) ~= "number" then return backend_failed(retry) end
      retry = round_up(retry)
      return nil, rate_limited(bank_id, operation, retry,
        fmt("%s on all banks exceeds the global %s per minute (retry after %.3f s)", operation, tostring(lim.global), retry),
        { limit = lim.global, scope = "global" })
    end
  end
  local per_day = lim.per_day[operation]
  if per_day then
    local day = floor(now / 86400)
    local allowed = self.backend:quota(bank_id .. ":" .. operation, per_day, day)
    if not allowed then
      local retry = round_up((day + 1) * 86400 - now)
      return nil, rate_limited(bank_id, operation, retry,
        fmt("%s on bank '%s' reached its daily quota of %d (retry after %.3f s)", operation, bank_id, per_day, retry),
        { limit = per_day, scope = "quota" })
    end
  end
  return true
end

-- limiter:record(bank_id, operation [, bank_homeostasis]) → true | nil, err.
-- Counts one successful operation against its daily quota (a no-op for
-- operations without a quota).
function _M:record(bank_id, operation, bank_conf)
  local lim, err = limits_for(self, bank_conf)
  if not lim then return nil, err end
  if not lim.per_day[operation] then return true end
  local ok, rerr = self.backend:record(bank_id .. ":" .. operation, floor(self.clock() / 86400))
  if not ok then return nil, errors.wrap("StorageError", "homeostasis: " .. tostring(rerr)) end
  return true
end

-- limiter:limits() → the effective global limits {per_minute, global, per_day}.
function _M:limits() return self.limits end

return _M
