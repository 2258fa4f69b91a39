-- astrocyte.engine.governance: legal holds and the audit log.
--
--   engine:set_legal_hold(bank_id, hold_id, reason, {set_by}) → LegalHold
--   engine:release_legal_hold(bank_id, hold_id, {principal}) → bool
--   engine:is_under_hold(bank_id) → bool
--   engine:legal_holds(bank_id) → [LegalHold] (oldest first)
--   engine:audit_log(bank_id, {limit = 100}) → [audit record] (newest first)
--
-- Changing holds and reading the audit log need `admin` on the bank,
-- reading hold status `recall` (checks.governed). Holds and audit records
-- are kept by the vector store's governance extensions (put_hold,
-- delete_hold, list_holds, append_audit, list_audit) or, for stores without
-- them, in Lua tables for the life of this engine (with a warning, once).
-- forget, the lifecycle jobs and import use holds() / check_no_hold() /
-- audit() from here.
local checks = require "astrocyte.engine.checks"
local errors = require "astrocyte.errors"
local memory = require "astrocyte.store.governance"
local util = require "astrocyte.util"
local validate = require "astrocyte.validate"
local type, fmt, ipairs = type, string.format, ipairs
local check_open, bank_arg, governed, set = checks.check_open, checks.bank_arg, checks.governed, checks.set

local _M = { methods = {} }

local HOLD_OPTS = set { "set_by" }
local RELEASE_OPTS = set { "principal" }
local AUDIT_OPTS = set { "limit" }

local GOV_METHODS = { "put_hold", "delete_hold", "list_holds", "append_audit", "list_audit" }

-- Calls the governance store's method for bank; result or nil, error object.
local function call(g, method, bank, ...)
  return errors.call(g, method, { bank_id = bank }, ...)
end

-- The governance store of an engine: the vector store when it implements
-- every governance extension, else a per-engine in-memory fallback.
function _M.store(self)
  local vs = self.vector_store or self.engine_provider or {}
  local durable = true
  for _, m in ipairs(GOV_METHODS) do
    if type(vs[m]) ~= "function" then durable = false; break end
  end
  if durable then return vs end
  local fb = rawget(self, "_gov_fallback")
  if fb then return fb end
  local msg = fmt("provider '%s' cannot persist legal holds and audit records " ..
    "(no put_hold/list_holds/append_audit/list_audit): they are kept in memory for this engine only",
    tostring(self.cfg.provider or self.cfg.vector_store))
  local w = self.cfg._warnings
  if type(w) == "table" then w[#w + 1] = msg end
  io.stderr:write("astrocyte: warning: ", msg, "\n")
  fb = memory.new("engine")
  self._gov_fallback = fb
  return fb
end

-- The legal holds on a bank (oldest first) or nil, err.
function _M.holds(self, bank)
  return call(_M.store(self), "list_holds", bank, bank)
end

-- Appends one audit record (bank_id and event required; `at` defaults to
-- now, `principal` to "anonymous"). Returns true or nil, err.
function _M.audit(self, rec)
  rec.at = rec.at or util.iso(util.now_ms())
  rec.principal = rec.principal or "anonymous"
  return call(_M.store(self), "append_audit", rec.bank_id, rec)
end

-- Checks that no legal hold blocks `what` on bank. Returns nil when free,
-- else the LegalHoldActive error (`hint`, optional, in parentheses) or the
-- storage error reading the holds.
function _M.check_no_hold(self, bank, what, hint)
  local hs, err = _M.holds(self, bank)
  if not hs then return err end
  local hold = hs[1]
  if not hold then return nil end
  return errors.new("LegalHoldActive",
    fmt("bank '%s' is under legal hold '%s': %s refused%s", bank, hold.hold_id, what,
        hint and (" (" .. hint .. ")") or ""),
    { bank_id = bank, hold_id = hold.hold_id })
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

local function hold_event(action)
  return function(self, bank_id, _, hold_id)
    self.observe:governance("legal_hold", bank_id, { hold_id = hold_id, action = action })
  end
end

local E = _M.methods

-- engine:set_legal_hold(bank_id, hold_id, reason, {set_by = "user:api"}) → LegalHold.
E.set_legal_hold = governed("admin", function(self, bank_id, hold_id, reason, opts)
  local cerr = check_open(self, "set_legal_hold"); if cerr then return nil, cerr end
  local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
  local o; o, err = validate.opts(opts, HOLD_OPTS, "set_legal_hold"); if not o then return nil, err end
  hold_id, err = nonempty(hold_id, "hold_id", bank); if not hold_id then return nil, err end
  reason, err = nonempty(reason, "reason", bank); if not reason then return nil, err end
  local set_by; set_by, err = validate.str(o.set_by, "set_by", "user:api"); if err then return nil, err end
  local h = { hold_id = hold_id, bank_id = bank, reason = reason, set_at = util.iso(util.now_ms()), set_by = set_by }
  local ok; ok, err = call(_M.store(self), "put_hold", bank, h)
  if not ok then return nil, err end
  _M.audit(self, { event = "hold_set", bank_id = bank, hold_id = hold_id, reason = reason, principal = set_by })
  return h
end, hold_event("set"))

-- engine:release_legal_hold(bank_id, hold_id, {principal}) → true if the hold existed.
E.release_legal_hold = governed("admin", function(self, bank_id, hold_id, opts)
  local cerr = check_open(self, "release_legal_hold"); if cerr then return nil, cerr end
  local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
  local o; o, err = validate.opts(opts, RELEASE_OPTS, "release_legal_hold"); if not o then return nil, err end
  hold_id, err = nonempty(hold_id, "hold_id", bank); if not hold_id then return nil, err end
  local had; had, err = call(_M.store(self), "delete_hold", bank, bank, hold_id)
  if had == nil then return nil, err end
  _M.audit(self, { event = "hold_released", bank_id = bank, hold_id = hold_id, released = had,
                   principal = o.principal or "user:api" })
  return had
end, hold_event("released"))

-- engine:legal_holds(bank_id) → array of LegalHold, oldest first.
E.legal_holds = governed("recall", function(self, bank_id)
  local cerr = check_open(self, "legal_holds"); if cerr then return nil, cerr end
  local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
  return _M.holds(self, bank)
end)

-- engine:is_under_hold(bank_id) → boolean.
E.is_under_hold = governed("recall", function(self, bank_id)
  local hs, err = self:legal_holds(bank_id)
  if not hs then return nil, err end
  return hs[1] ~= nil
end)

-- engine:audit_log(bank_id, {limit = 100}) → audit records, newest first.
E.audit_log = governed("admin", function(self, bank_id, opts)
  local cerr = check_open(self, "audit_log"); if cerr then return nil, cerr end
  local bank, err = bank_arg(self, bank_id); if not bank then return nil, err end
  local o; o, err = validate.opts(opts, AUDIT_OPTS, "audit_log"); if not o then return nil, err end
  local limit; limit, err = validate.int(o.limit, "limit", 1, 1000000, 100); if not limit then return nil, err end
  return call(_M.store(self), "list_audit", bank, bank, limit)
end)

return _M
