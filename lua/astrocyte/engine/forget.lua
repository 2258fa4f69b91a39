-- astrocyte.engine.forget: engine:forget(opts), validated once. opts:
-- bank_id and one selector — memory_ids, or tags and/or a time range
-- (before, after), or scope = "all" — plus soft = true (archive instead of
-- delete), compliance = true with a reason (overrides a legal hold), and
-- the acting context (principal, context, on_behalf_of). Order: access
-- first (a caller who may not forget learns nothing about holds; scope
-- "all" and compliance need `admin`), then the legal hold, then the
-- selector; every forget is audited {event = "forget", bank_id, memory_ids
-- | selector, deleted_count, archived_count, reason, principal (default
-- "anonymous"), compliance, soft, at}.
local checks = require "astrocyte.engine.checks"
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local forget = require "astrocyte.pipeline.forget"
local governance = require "astrocyte.engine.governance"
local policy = require "astrocyte.policy"
local validate = require "astrocyte.validate"
local type, fmt, tostring = type, string.format, tostring

local _M = { methods = {} }

local FORGET_OPTS = checks.set { "bank_id", "memory_ids", "tags", "before", "before_date", "scope",
  "soft", "after", "compliance", "reason", "principal", "context", "on_behalf_of" }

local function bool_opt(v, field, bank)
  if v ~= nil and type(v) ~= "boolean" then
    return nil, errors.validation(fmt("%s must be a boolean, got %s", field, type(v)), { field = field, bank_id = bank })
  end
  return true
end

-- The selector of a forget: r gets memory_ids, tags, before_ms and scope.
-- `ranged`: the call has after or soft, so the messages name `after` too.
local function selector(r, o, after_ms, ranged)
  local bank = r.bank_id
  local err
  r.memory_ids, err = validate.str_list(o.memory_ids, "memory_ids"); if err then return nil, err end
  r.tags, err = validate.tags(o.tags); if err then return nil, err end
  r.before_ms, err = validate.time(o.before or o.before_date, "before"); if err then return nil, err end
  if o.scope ~= nil and o.scope ~= "all" then
    return nil, errors.validation(fmt("scope must be 'all' or nil, got '%s'", tostring(o.scope)), { field = "scope", bank_id = bank })
  end
  r.scope = o.scope
  local n = (r.memory_ids and 1 or 0) + ((r.tags or r.before_ms or after_ms) and 1 or 0) + (o.scope and 1 or 0)
  if n == 0 then
    return nil, errors.validation(ranged and "forget needs one of memory_ids, tags, before, after or scope = 'all'"
      or "forget needs one of memory_ids, tags, before or scope = 'all'", { field = "opts", bank_id = bank })
  end
  if n > 1 then
    return nil, errors.validation(ranged and "forget takes memory_ids, or tags/before/after, or scope = 'all' — not several"
      or "forget takes memory_ids, or tags/before, or scope = 'all' — not several", { field = "opts", bank_id = bank })
  end
  if r.before_ms and after_ms and after_ms >= r.before_ms then
    return nil, errors.validation("forget: after must be earlier than before", { field = "after", bank_id = bank })
  end
  return r
end

-- Deletes what validated request r selects through the backend, and
-- reports it. Returns ForgetResult or nil, err.
local function delete(self, r)
  local t0 = core.time()
  local res, err = checks.guarded(self.backend.forget, self, r)
  self.observe:done("forget", { bank_id = r.bank_id, provider = self:provider_name(), seconds = core.time() - t0,
    status = res and "ok" or "error", result = res, principal = self._ctx and self._ctx.principal,
    request = { memory_ids = r.memory_ids } })
  if res and r.scope == "all" then
    local known = rawget(self, "_known_banks")
    if known then known[r.bank_id] = nil end
    self.observe:bank(r.bank_id, "deleted")
  end
  return res, err
end

-- Forget by a time range (after) or soft: resolves the ids, then deletes
-- them, or archives them (soft) on a store that can.
local function ranged(self, r, after_ms, soft)
  local bank, ids = r.bank_id, r.memory_ids
  local err
  if not ids then
    ids, err = forget.select_ids(self, bank, { tags = r.tags, before = r.before_ms, after = after_ms, live_only = soft or nil })
    if not ids then return nil, err end
  end
  if not soft then return delete(self, { bank_id = bank, memory_ids = ids }) end
  local vs = self.vector_store
  if type(vs.archive) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot archive (soft delete) memories", tostring(self.cfg.vector_store)),
      { provider = self.cfg.vector_store, capability = "soft_delete", bank_id = bank })
  end
  local archived = 0
  for start = 1, #ids, 500 do
    local batch = {}
    for i = start, math.min(#ids, start + 499) do batch[#batch + 1] = ids[i] end
    local c; c, err = errors.call(vs, "archive", { bank_id = bank }, batch, bank)
    if not c then return nil, err end
    archived = archived + c
  end
  return { deleted_count = 0, archived_count = archived }
end

-- engine:forget(opts) → ForgetResult {deleted_count, archived_count} | nil, err.
function _M.methods:forget(opts)
  local cerr = checks.check_open(self, "forget"); if cerr then return nil, cerr end
  if opts == nil then
    return nil, errors.validation("forget needs options: bank_id and one of memory_ids, tags, before or scope = 'all'", { field = "opts" })
  end
  local o, err = validate.opts(opts, FORGET_OPTS, "forget"); if not o then return nil, err end
  local bank; bank, err = checks.bank_arg(self, o.bank_id); if not bank then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  local ok; ok, err = self.policy:admit((o.scope == "all" or o.compliance) and "admin" or "forget", bank, ctx)
  if not ok then return nil, err end
  local _; _, err = bool_opt(o.soft, "soft", bank); if err then return nil, err end
  _, err = bool_opt(o.compliance, "compliance", bank); if err then return nil, err end
  local reason; reason, err = validate.str(o.reason, "reason"); if err then return nil, err end
  local principal = o.principal
  if principal == nil and ctx and ctx.principal then principal = ctx.principal end
  principal, err = validate.str(principal, "principal", "anonymous"); if err then return nil, err end
  local after_ms; after_ms, err = validate.time(o.after, "after"); if err then return nil, err end
  if o.compliance and (reason == nil or not reason:find("%S")) then
    return nil, errors.validation("a compliance forget needs a reason", { field = "reason", bank_id = bank })
  end
  if not o.compliance then
    local herr = governance.check_no_hold(self, bank, "forget", "pass compliance = true with a reason to override")
    if herr then
      if herr.kind == "LegalHoldActive" then
        governance.audit(self, { event = "forget_refused", bank_id = bank, hold_id = herr.hold_id,
                                 reason = reason, principal = principal })
      end
      return nil, herr
    end
  end
  local r; r, err = selector({ bank_id = bank }, o, after_ms, o.soft or after_ms)
  if not r then return nil, err end
  local res
  if o.soft or after_ms then
    res, err = checks.guarded(ranged, self, r, after_ms, o.soft)
  else
    res, err = delete(self, r)
  end
  checks.wrote(self, bank)
  if not res then return nil, err end
  local rec = { event = "forget", bank_id = bank, deleted_count = res.deleted_count,
                archived_count = res.archived_count, reason = reason, principal = principal,
                compliance = o.compliance or false, soft = o.soft or false }
  if o.memory_ids then
    rec.memory_ids = o.memory_ids
  else
    rec.selector = { tags = o.tags, before = o.before or o.before_date, after = o.after, scope = o.scope }
  end
  local aok, aerr = governance.audit(self, rec)
  if not aok then res.audit_error = tostring(aerr) end
  return res
end

return _M
