-- astrocyte.engine_admin: governance methods added to the engine class
-- (install(Engine) is called once at the end of astrocyte.engine).
--
--   engine:set_legal_hold(bank_id, hold_id, reason, {set_by}) → LegalHold
--   engine:release_legal_hold(bank_id, hold_id, {principal}) → bool
--   engine:is_under_hold(bank_id) → bool
--   engine:legal_holds(bank_id) → [LegalHold] (oldest first)
--   engine:audit_log(bank_id, {limit = 100}) → [audit record] (newest first)
--   engine:forget(opts) — the engine's forget, extended: refused with
--     LegalHoldActive while the bank is under a hold unless compliance = true
--     (which needs a reason); soft = true archives instead of deleting;
--     after = time (with before: a time range); every forget is audited
--     {event = "forget", bank_id, memory_ids | selector, deleted_count,
--      archived_count, reason, principal (default "anonymous"), at}.
-- Lifecycle/consolidation (astrocyte.admin.lifecycle) and export/import
-- (astrocyte.admin.portability) install their methods from here too.
-- Holds and audit records are durable in the built-in stores (see
-- astrocyte.admin.common for stores without the governance extensions).
local common = require "astrocyte.admin.common"
local errors = require "astrocyte.errors"
local rowmatch = require "astrocyte.rowmatch"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local policy = require "astrocyte.policy"
local type, fmt, pairs, ipairs = type, string.format, pairs, ipairs

local _M = {}

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

local FORGET_BASE = set { "bank_id", "memory_ids", "tags", "before", "before_date", "scope" }
local FORGET_EXTRA = set { "soft", "after", "compliance", "reason", "principal", "context", "on_behalf_of" }
local FORGET_ALL = set { "bank_id", "memory_ids", "tags", "before", "before_date", "scope",
  "soft", "after", "compliance", "reason", "principal", "context", "on_behalf_of" }
local HOLD_OPTS = set { "set_by" }
local RELEASE_OPTS = set { "principal" }
local AUDIT_OPTS = set { "limit" }

local function bool_opt(v, field, bank)
  if v ~= nil and type(v) ~= "boolean" then
    return nil, errors.validation(fmt("%s must be a boolean, got %s", field, type(v)), { field = field, bank_id = bank })
  end
  return true
end

local function bank_arg(self, bank_id)
  if bank_id == nil then bank_id = self.cfg.default_bank_id end
  return validate.bank_id(bank_id)
end

-- Non-empty string argument (hold ids, reasons).
local function nonempty(v, field, bank)
  if type(v) ~= "string" or not v:find("%S") then
    return nil, errors.validation(fmt("%s must be a non-empty string", field), { field = field, bank_id = bank })
  end
  if #v > 255 and field == "hold_id" then
    return nil, errors.validation("hold_id must be at most 255 bytes", { field = field, bank_id = bank })
  end
  return v
end

-- Ids a forget selects (tags / before / after / all), on stores with or
-- without the find_ids extension. live_only: skip archived rows.
function _M.select_ids(self, bank, sel)
  local vs = self.vector_store
  if type(vs.find_ids) == "function" then
    return common.call(vs, "find_ids", bank, bank, sel)
  end
  local ids, offset = {}, 0
  while true do
    local page, err = common.call(vs, "list_vectors", bank, bank, offset, 500)
    if not page then return nil, err end
    for _, it in ipairs(page) do
      local r = { tags = it.tags, occurred_at = it.occurred_at and util.to_ms(it.occurred_at),
                  retained_at = it.retained_at and util.to_ms(it.retained_at) }
      if rowmatch.selected(r, sel) then ids[#ids + 1] = it.id end
    end
    if #page < 500 then break end
    offset = offset + #page
  end
  return ids
end

-- forget with soft and/or after: validates the selector, resolves ids, then
-- archives them (soft) or hands them to the engine's own forget.
local function extended_forget(self, orig, bank, base, x, after_ms)
  local ids, tags, before, err
  ids, err = validate.str_list(base.memory_ids, "memory_ids"); if err then return nil, err end
  tags, err = validate.tags(base.tags); if err then return nil, err end
  before, err = validate.time(base.before or base.before_date, "before"); if err then return nil, err end
  if base.scope ~= nil and base.scope ~= "all" then
    return nil, errors.validation(fmt("scope must be 'all' or nil, got '%s'", tostring(base.scope)), { field = "scope", bank_id = bank })
  end
  local n = (ids and 1 or 0) + ((tags or before or after_ms) and 1 or 0) + (base.scope and 1 or 0)
  if n == 0 then
    return nil, errors.validation("forget needs one of memory_ids, tags, before, after or scope = 'all'", { field = "opts", bank_id = bank })
  end
  if n > 1 then
    return nil, errors.validation("forget takes memory_ids, or tags/before/after, or scope = 'all' — not several", { field = "opts", bank_id = bank })
  end
  if before and after_ms and after_ms >= before then
    return nil, errors.validation("forget: after must be earlier than before", { field = "after", bank_id = bank })
  end
  if not ids then
    ids, err = _M.select_ids(self, bank, { tags = tags, before = before, after = after_ms, live_only = x.soft or nil })
    if not ids then return nil, err end
  end
  if not x.soft then return orig(self, { bank_id = bank, memory_ids = ids }) end
  local vs = self.vector_store
  if type(vs.archive) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", fmt("vector store '%s' cannot archive (soft delete) memories", tostring(self.cfg.vector_store)),
      { provider = self.cfg.vector_store, capability = "soft_delete", bank_id = bank })
  end
  local archived = 0
  for start = 1, #ids, 500 do
    local batch = {}
    for i = start, math.min(#ids, start + 499) do batch[#batch + 1] = ids[i] end
    local c; c, err = common.call(vs, "archive", bank, batch, bank)
    if not c then return nil, err end
    archived = archived + c
  end
  return { deleted_count = 0, archived_count = archived }
end

-- Wraps Engine.forget with legal holds, soft delete, time ranges and audit.
local function install_forget(Engine)
  local orig = Engine.forget
  function Engine:forget(opts)
    if type(opts) ~= "table" or type(self) ~= "table" or self.closed then return orig(self, opts) end
    local o, err = validate.opts(opts, FORGET_ALL, "forget"); if not o then return nil, err end
    local base, x = {}, {}
    for k, v in pairs(o) do
      if FORGET_EXTRA[k] then x[k] = v elseif FORGET_BASE[k] then base[k] = v end
    end
    local bank; bank, err = bank_arg(self, base.bank_id); if not bank then return nil, err end
    -- Access first: a caller who may not forget learns nothing about holds.
    local ctx; ctx, err = policy.context(x, self._ctx); if ctx == false then return nil, err end
    local ok; ok, err = self.policy:admit((base.scope == "all" or x.compliance) and "admin" or "forget", bank, ctx)
    if not ok then return nil, err end
    if x.principal == nil and ctx and ctx.principal then x.principal = ctx.principal end
    local _; _, err = bool_opt(x.soft, "soft", bank); if err then return nil, err end
    _, err = bool_opt(x.compliance, "compliance", bank); if err then return nil, err end
    local reason; reason, err = validate.str(x.reason, "reason"); if err then return nil, err end
    local principal; principal, err = validate.str(x.principal, "principal", "anonymous"); if err then return nil, err end
    local after_ms; after_ms, err = validate.time(x.after, "after"); if err then return nil, err end
    if x.compliance and (reason == nil or not reason:find("%S")) then
      return nil, errors.validation("a compliance forget needs a reason", { field = "reason", bank_id = bank })
    end
    if not x.compliance then
      local herr = common.check_no_hold(self, bank, "forget", "pass compliance = true with a reason to override")
      if herr then
        if herr.kind == "LegalHoldActive" then
          common.audit(self, { event = "forget_refused", bank_id = bank, hold_id = herr.hold_id,
                               reason = reason, principal = principal })
        end
        return nil, herr
      end
    end
    local res
    if x.soft or after_ms then
      res, err = common.guarded(extended_forget, self, orig, bank, base, x, after_ms)
    else
      res, err = orig(self, base)
    end
    if not res then return nil, err end
    local rec = { event = "forget", bank_id = bank, deleted_count = res.deleted_count,
                  archived_count = res.archived_count, reason = reason, principal = principal,
                  compliance = x.compliance or false, soft = x.soft or false }
    if base.memory_ids then
      rec.memory_ids = base.memory_ids
    else
      rec.selector = { tags = base.tags, before = base.before or base.before_date, after = x.after, scope = base.scope }
    end
    local ok, aerr = common.audit(self, rec)
    if not ok then res.audit_error = tostring(aerr) end
    return res
  end
end

-- Adds the governance methods to Engine (the class table of astrocyte.engine).
function _M.install(Engine)
  install_forget(Engine)

  -- engine:set_legal_hold(bank_id, hold_id, reason, {set_by = "user:api"}) → LegalHold.
  function Engine:set_legal_hold(bank_id, hold_id, reason, opts)
    local cerr = common.check_open(self, "set_legal_hold"); if cerr then return nil, cerr end
    local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
    local o; o, err = validate.opts(opts, HOLD_OPTS, "set_legal_hold"); if not o then return nil, err end
    hold_id, err = nonempty(hold_id, "hold_id", bank); if not hold_id then return nil, err end
    reason, err = nonempty(reason, "reason", bank); if not reason then return nil, err end
    local set_by; set_by, err = validate.str(o.set_by, "set_by", "user:api"); if err then return nil, err end
    local h = { hold_id = hold_id, bank_id = bank, reason = reason, set_at = util.iso(util.now_ms()), set_by = set_by }
    local ok; ok, err = common.call(common.gov(self), "put_hold", bank, h)
    if not ok then return nil, err end
    common.audit(self, { event = "hold_set", bank_id = bank, hold_id = hold_id, reason = reason, principal = set_by })
    return h
  end

  -- engine:release_legal_hold(bank_id, hold_id, {principal}) → true if the hold existed.
  function Engine:release_legal_hold(bank_id, hold_id, opts)
    local cerr = common.check_open(self, "release_legal_hold"); if cerr then return nil, cerr end
    local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
    local o; o, err = validate.opts(opts, RELEASE_OPTS, "release_legal_hold"); if not o then return nil, err end
    hold_id, err = nonempty(hold_id, "hold_id", bank); if not hold_id then return nil, err end
    local had; had, err = common.call(common.gov(self), "delete_hold", bank, bank, hold_id)
    if had == nil then return nil, err end
    common.audit(self, { event = "hold_released", bank_id = bank, hold_id = hold_id, released = had,
                         principal = o.principal or "user:api" })
    return had
  end

  -- engine:legal_holds(bank_id) → array of LegalHold, oldest first.
  function Engine:legal_holds(bank_id)
    local cerr = common.check_open(self, "legal_holds"); if cerr then return nil, cerr end
    local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
    return common.holds(self, bank)
  end

  -- engine:is_under_hold(bank_id) → boolean.
  function Engine:is_under_hold(bank_id)
    local hs, err = self:legal_holds(bank_id)
    if not hs then return nil, err end
    return hs[1] ~= nil
  end

  -- engine:audit_log(bank_id, {limit = 100}) → audit records, newest first.
  function Engine:audit_log(bank_id, opts)
    local cerr = common.check_open(self, "audit_log"); if cerr then return nil, cerr end
    local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
    local o; o, err = validate.opts(opts, AUDIT_OPTS, "audit_log"); if not o then return nil, err end
    local limit; limit, err = validate.int(o.limit, "limit", 1, 1000000, 100); if not limit then return nil, err end
    return common.call(common.gov(self), "list_audit", bank, bank, limit)
  end

  require("astrocyte.admin.lifecycle").install(Engine)
  require("astrocyte.admin.portability").install(Engine)
  return Engine
end

return _M
