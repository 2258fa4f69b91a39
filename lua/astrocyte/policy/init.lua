-- astrocyte.policy: the policy layer as the engine sees it — one object per
-- engine built from the config, with the calls the public API makes around
-- every operation (pipeline.md §2.0): resolve the acting context, admit
-- (access control, then rate limit and quota), screen retained content
-- (content validation, PII barrier, metadata sanitizer — per bank, since
-- profiles and overrides can differ), record success against quotas, and
-- guard providers with circuit breakers.
local access = require "astrocyte.policy.access"
local barriers = require "astrocyte.policy.barriers"
local escalation = require "astrocyte.policy.escalation"
local homeostasis = require "astrocyte.policy.homeostasis"
local signal = require "astrocyte.policy.signal"
local errors = require "astrocyte.errors"
local type = type
local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

local _M = {}
local mt = { __index = _M }

-- The permission each operation needs.
_M.PERMISSION = {
  retain = "retain", recall = "recall", reflect = "reflect", forget = "forget", admin = "admin",
}

-- policy.new(cfg, opts) → policy | nil, ConfigError. opts: {clock, backend}
-- (an injected clock for tests; a limiter state backend for OpenResty).
function _M.new(cfg, opts)
  opts = opts or {}
  local ac, err = access.new(cfg, { provider = opts.access_provider })
  if not ac then return nil, err end
  local h; h, err = homeostasis.new(cfg.homeostasis, { clock = opts.clock, backend = opts.backend })
  if not h then return nil, err end
  local esc; esc, err = escalation.new(cfg.escalation, { clock = opts.clock })
  if not esc then return nil, err end
  return setmetatable({ cfg = cfg, access = ac, limiter = h, escalation = esc, barriers = {},
                        signal = signal.new({ clock = opts.clock }) }, mt)
end

-- Resolves the acting context of a call: opts.context, else opts.principal
-- (+ opts.on_behalf_of), else the engine's default context (with_context).
-- Returns ctx (may be nil = anonymous) or nil, ValidationError.
function _M.context(o, default)
  local ctx = o and o.context
  if ctx == nil and o and o.principal ~= nil and default and default.principal == o.principal
     and o.on_behalf_of == nil then
    ctx = default                     -- same actor as the view: keep its on_behalf_of, teams
  elseif ctx == nil and o and o.principal ~= nil then
    ctx = { principal = o.principal, on_behalf_of = o.on_behalf_of }
  elseif ctx ~= nil and o and o.on_behalf_of ~= nil and ctx.on_behalf_of == nil then
    ctx = { principal = ctx.principal, actor = ctx.actor, teams = ctx.teams, on_behalf_of = o.on_behalf_of }
  end
  if ctx == nil then ctx = default end
  if ctx ~= nil then
    if type(ctx) ~= "table" then
      return false, errors.validation("context must be a table {principal, on_behalf_of?}", { field = "context" })
    end
    if ctx.principal ~= nil and type(ctx.principal) ~= "string" then
      return false, errors.validation("context.principal must be a string like 'user:ana'", { field = "context.principal" })
    end
  end
  return ctx
end

-- policy:admit(op, bank_id, ctx, bank_cfg) → true | nil, AccessDenied /
-- RateLimited. Access is checked before the rate limit, so a denied call
-- spends no tokens.
function _M:admit(op, bank_id, ctx, bcfg)
  local ok, err = self.access:check(ctx, bank_id, _M.PERMISSION[op] or op)
  if not ok then return nil, err end
  if op == "retain" or op == "recall" or op == "reflect" then
    local bh = bcfg and bcfg ~= self.cfg and bcfg.homeostasis or nil
    ok, err = self.limiter:check(bank_id, op, bh)
    if not ok then return nil, err end
  end
  return true
end

-- policy:record(op, bank_id, bank_cfg): counts a success against quotas.
function _M:record(op, bank_id, bcfg)
  local bh = bcfg and bcfg ~= self.cfg and bcfg.homeostasis or nil
  self.limiter:record(bank_id, op, bh)
end

-- The barriers of one bank (cached per bank config table).
function _M:barriers_for(bcfg)
  local b = self.barriers[bcfg]
  if b then return b end
  local err
  b, err = barriers.new(bcfg.barriers)
  if not b then return nil, err end
  self.barriers[bcfg] = b
  return b
end

-- policy:screen(r, bcfg) → info | nil, err: applies content validation, the
-- PII barrier (may rewrite r.content) and the metadata sanitizer (rewrites
-- r.metadata) of the bank. info = {pii_types, action_taken, warnings}.
function _M:screen(r, bcfg)
  local b, err = self:barriers_for(bcfg)
  if not b then return nil, err end
  local ok; ok, err = b:validate(r.content, r.content_type or "text")
  if not ok then err.bank_id = r.bank_id; return nil, err end
  local text, info = b:apply(r.content)
  if not text then info.bank_id = r.bank_id; return nil, info end
  r.content = text
  local md, warnings = b:sanitize_metadata(r.metadata)
  r.metadata = md
  info.warnings = warnings
  return info
end

-- Wraps provider obj so every method call goes through the breaker named
-- `name`; non-function fields read through. The same obj wrapped twice
-- under one name gives the same proxy (identity matters: the engine checks
-- document_store == vector_store).
function _M:guard_provider(name, obj, cache)
  if obj == nil then return nil end
  cache = cache or {}
  if cache[obj] then return cache[obj] end
  local esc, pol = self.escalation, self
  -- Breaker state changes (open, closed again) are reported to
  -- pol.on_breaker(provider, old, new, failures) when set.
  local proxy = setmetatable({}, { __index = function(t, k)
    local v = obj[k]
    if type(v) ~= "function" then return v end
    local f = function(_, ...)
      local cb = pol.on_breaker
      if not cb then return esc:guard(name, v, obj, ...) end
      local b = esc:breaker(name)
      local before = b:state(esc.clock())
      local r = { n = select("#", ...), ... }
      local out = pack(esc:guard(name, v, obj, unpack(r, 1, r.n)))
      local after = b:state(esc.clock())
      if after ~= before then pcall(cb, name, before, after, b:failures()) end
      return unpack(out, 1, out.n)
    end
    rawset(t, k, f)
    return f
  end })
  rawset(proxy, "_unguarded", obj)
  cache[obj] = proxy
  return proxy
end

-- policy:status() → breaker states for health().
function _M:status()
  return self.escalation:status()
end

-- policy:degraded(op, provider) → the configured degraded-mode result.
function _M:degraded(op, provider)
  return self.escalation:degraded(op, provider)
end

return _M
