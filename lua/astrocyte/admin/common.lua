-- astrocyte.admin.common: helpers shared by the engine's admin methods
-- (astrocyte.engine_admin and astrocyte.admin.*): the open/closed check,
-- error guarding, and the governance store — legal holds and the audit log
-- kept durably by the vector store's extensions (put_hold, delete_hold,
-- list_holds, append_audit, list_audit) or, for stores without them, in
-- Lua tables for the life of this engine (with a warning, once).
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, fmt = type, string.format

local _M = {}

-- Returns an error object when the engine cannot serve calls, else nil.
function _M.check_open(self, what)
  if type(self) ~= "table" or type(self.cfg) ~= "table" then
    error("astrocyte: call engine:" .. what .. "(...) with a colon", 3)
  end
  if self.closed then
    return errors.new("ProviderUnavailable", "engine is closed", { provider = "engine" })
  end
end

-- Runs fn(...) turning a raised Lua error into an InternalError object.
function _M.guarded(fn, ...)
  local ok, res, err = pcall(fn, ...)
  if not ok then return nil, errors.wrap("InternalError", res) end
  return res, err
end

-- Calls store:method(...) catching raised errors; returns res or nil, err
-- (a StorageError naming the store).
function _M.call(store, method, bank, ...)
  local ok, res, err = pcall(store[method], store, ...)
  local name = store.name or "store"
  if not ok then return nil, errors.wrap("StorageError", name .. ": " .. tostring(res), { provider = name, bank_id = bank }) end
  if res == nil and err ~= nil then
    return nil, errors.wrap("StorageError", name .. ": " .. tostring(err), { provider = name, bank_id = bank })
  end
  return res
end

local GOV_METHODS = { "put_hold", "delete_hold", "list_holds", "append_audit", "list_audit" }

-- The governance store of an engine: the vector store when it implements
-- every governance extension, else a per-engine in-memory fallback.
function _M.gov(self)
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
  local holds, audit = {}, {}
  fb = { name = "engine" }
  function fb.put_hold(_, h) holds[h.bank_id .. "\0" .. h.hold_id] = util.copy(h); return true end
  function fb.delete_hold(_, bank, id)
    local k = bank .. "\0" .. id
    local had = holds[k] ~= nil
    holds[k] = nil
    return had
  end
  function fb.list_holds(_, bank)
    local out = {}
    for _, h in pairs(holds) do if h.bank_id == bank then out[#out + 1] = util.copy(h) end end
    table.sort(out, function(a, b)
      if a.set_at ~= b.set_at then return a.set_at < b.set_at end
      return a.hold_id < b.hold_id
    end)
    return out
  end
  function fb.append_audit(_, rec) audit[#audit + 1] = util.deepcopy(rec); return true end
  function fb.list_audit(_, bank, limit)
    local out = {}
    for i = #audit, 1, -1 do
      if audit[i].bank_id == bank then
        out[#out + 1] = util.deepcopy(audit[i])
        if #out >= limit then break end
      end
    end
    return out
  end
  self._gov_fallback = fb
  return fb
end

-- The legal holds on a bank (oldest first) or nil, err.
function _M.holds(self, bank)
  local g = _M.gov(self)
  return _M.call(g, "list_holds", bank, bank)
end

-- Appends one audit record (bank_id and event required; `at` defaults to
-- now, `principal` to "anonymous"). Returns true or nil, err.
function _M.audit(self, rec)
  rec.at = rec.at or util.iso(util.now_ms())
  rec.principal = rec.principal or "anonymous"
  local g = _M.gov(self)
  return _M.call(g, "append_audit", rec.bank_id, rec)
end

-- The LegalHoldActive error for `hold` (a LegalHold) refusing `what`;
-- `hint` (optional) is appended in parentheses.
function _M.hold_error(bank, hold, what, hint)
  return errors.new("LegalHoldActive",
    fmt("bank '%s' is under legal hold '%s': %s refused%s", bank, hold.hold_id, what,
        hint and (" (" .. hint .. ")") or ""),
    { bank_id = bank, hold_id = hold.hold_id })
end

-- Checks that no legal hold blocks `what` on bank. Returns nil when free,
-- else the LegalHoldActive error (or a storage error reading the holds).
function _M.check_no_hold(self, bank, what, hint)
  local hs, err = _M.holds(self, bank)
  if not hs then return err end
  if hs[1] then return _M.hold_error(bank, hs[1], what, hint) end
  return nil
end

return _M
