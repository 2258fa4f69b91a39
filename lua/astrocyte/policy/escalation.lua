-- astrocyte.policy.escalation: circuit breakers and degraded mode
-- (pipeline.md §2.4). One breaker per provider name (C core, core.breaker),
-- configured by escalation.circuit_breaker {failure_threshold = 5,
-- recovery_timeout_seconds = 30, half_open_max_calls = 2}; the degraded-mode
-- results for escalation.degraded_mode = empty_recall | error | cache (cache
-- behaves like empty_recall, as in the reference).
--
-- How the engine calls it:
--   local esc, err = escalation.new(cfg.escalation, { clock = fn })   -- at open
--   local res, perr = esc:guard(provider_name, store.search, store, ...)
--   if not res and perr.kind == "ProviderUnavailable" then
--     return esc:degraded("recall", provider_name)                     -- per mode
--   end
--   engine:health() adds esc:status() (each breaker's state).
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local type, fmt, pcall, select, tostring, sort = type, string.format, pcall, select, tostring, table.sort
local unpack = table.unpack or unpack

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

local MODES = { empty_recall = true, error = true, cache = true }

-- Errors that describe the request, not the provider's health: a provider
-- returning one of these has not failed.
local CLIENT_KINDS = {
  ValidationError = true, ConfigError = true, AccessDenied = true, RateLimited = true,
  PiiRejected = true, CapabilityNotSupported = true, LegalHoldActive = true, NotFound = true,
}

local function default_clock()
  if ngx and ngx.now then return ngx.now() end
  return core.now_ms() / 1000
end

local function cerr(key, msg)
  return nil, errors.config("escalation." .. key .. " " .. msg, { key_path = "escalation." .. key })
end

-- escalation.new(conf, opts) → escalation | nil, ConfigError.
-- conf: cfg.escalation; opts: { clock = function() return seconds end }.
function _M.new(conf, opts)
  conf = conf or {}
  opts = opts or {}
  if type(conf) ~= "table" then return nil, errors.config("escalation must be a table", { key_path = "escalation" }) end
  local cb = conf.circuit_breaker or {}
  if type(cb) ~= "table" then return cerr("circuit_breaker", "must be a table") end
  local bo = { failure_threshold = cb.failure_threshold or 5,
               recovery_timeout = cb.recovery_timeout_seconds or 30,
               half_open_max_calls = cb.half_open_max_calls or 2 }
  for _, k in ipairs({ "failure_threshold", "half_open_max_calls" }) do
    local v = bo[k]
    if type(v) ~= "number" or v < 1 or v ~= math.floor(v) then
      return cerr("circuit_breaker." .. k, "must be a positive integer, got " .. tostring(v))
    end
  end
  if type(bo.recovery_timeout) ~= "number" or not (bo.recovery_timeout >= 0) or bo.recovery_timeout == math.huge then
    return cerr("circuit_breaker.recovery_timeout_seconds", "must be a non-negative number, got " .. tostring(bo.recovery_timeout))
  end
  local mode = conf.degraded_mode or "empty_recall"
  if not MODES[mode] then
    return cerr("degraded_mode", fmt("must be empty_recall, error or cache, got '%s'", tostring(mode)))
  end
  return setmetatable({ opts = bo, degraded_mode = mode, breakers = {}, clock = opts.clock or default_clock }, mt)
end

-- esc:breaker(provider) → the provider's breaker, created closed on first use.
function _M:breaker(provider)
  local b = self.breakers[provider]
  if not b then
    b = assert(core.breaker(self.opts))
    self.breakers[provider] = b
  end
  return b
end

-- The error returned while a breaker blocks calls.
function _M.unavailable(provider, reason)
  return errors.new("ProviderUnavailable", fmt("provider '%s' unavailable: %s", provider, reason),
                    { provider = provider, reason = reason })
end

-- esc:check(provider) → true, or nil and ProviderUnavailable
-- ("provider 'x' unavailable: circuit breaker open"). In half_open each
-- allowed call counts against half_open_max_calls.
function _M:check(provider)
  if self:breaker(provider):check(self.clock()) then return true end
  return nil, _M.unavailable(provider, "circuit breaker open")
end

function _M:success(provider) self:breaker(provider):success() end
function _M:failure(provider) self:breaker(provider):failure(self.clock()) end

local function pack(...) return { n = select("#", ...), ... } end

-- True if err (returned by a provider) says the provider failed.
local function is_failure(err)
  if errors.is(err) then return not CLIENT_KINDS[err.kind] end
  return true
end

-- esc:guard(provider, fn, ...) → fn's results, or nil and an error. Checks
-- the breaker, calls fn(...), and records success or failure: a raised error
-- (returned as InternalError, with the provider named) or a returned error
-- that is not about the request counts as a failure. Blocked calls return
-- ProviderUnavailable without calling fn.
function _M:guard(provider, fn, ...)
  local ok, err = self:check(provider)
  if not ok then return nil, err end
  local r = pack(pcall(fn, ...))
  local n = r.n
  if not r[1] then
    self:failure(provider)
    return nil, errors.wrap("InternalError", fmt("provider '%s' raised: %s", provider, tostring(r[2])), { provider = provider })
  end
  if r[2] == nil and r[3] ~= nil then
    if is_failure(r[3]) then self:failure(provider) else self:success(provider) end
    return nil, r[3]
  end
  self:success(provider)
  return unpack(r, 2, n)
end

-- esc:degraded(operation, provider) → the degraded-mode outcome for a call
-- that met ProviderUnavailable: recall → empty RecallResult, retain →
-- {stored = false, error = "Provider unavailable (degraded mode)"}, reflect
-- → {answer = "Memory unavailable", sources = {}}; in mode "error" → nil,
-- ProviderUnavailable ("provider 'x' unavailable: degraded mode: error").
function _M:degraded(operation, provider)
  if self.degraded_mode == "error" then return nil, _M.unavailable(provider, "degraded mode: error") end
  if operation == "retain" then return { stored = false, error = "Provider unavailable (degraded mode)" } end
  if operation == "reflect" then return { answer = "Memory unavailable", sources = {} } end
  return { hits = {}, total_available = 0, truncated = false }
end

-- esc:status() → array of {provider, state, failures}, sorted by provider,
-- for engine:health().
function _M:status()
  local now, out = self.clock(), {}
  for name, b in pairs(self.breakers) do
    out[#out + 1] = { provider = name, state = b:state(now), failures = b:failures() }
  end
  sort(out, function(a, b) return a.provider < b.provider end)
  return out
end

return _M
