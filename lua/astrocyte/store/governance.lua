-- astrocyte.store.governance: legal holds and the audit log kept in Lua
-- tables — the governance extensions (put_hold, delete_hold, list_holds,
-- append_audit, list_audit) of the in-memory store, and the engine's
-- fallback for a store without them. Records are copied in and out, so a
-- caller never shares a table with the store.
local util = require "astrocyte.util"
local pairs, sort = pairs, table.sort

local _M = {}
local mt = { __index = _M }

-- new(name) → an empty governance store named name.
function _M.new(name)
  return setmetatable({ name = name, holds = {}, audit = {} }, mt)
end

function _M:put_hold(h)
  self.holds[h.bank_id .. "\0" .. h.hold_id] = util.copy(h)
  return true
end

-- True if the hold existed.
function _M:delete_hold(bank_id, hold_id)
  local k = bank_id .. "\0" .. hold_id
  local had = self.holds[k] ~= nil
  self.holds[k] = nil
  return had
end

-- The holds of a bank, oldest first (then by id).
function _M:list_holds(bank_id)
  local out = {}
  for _, h in pairs(self.holds) do
    if h.bank_id == bank_id then out[#out + 1] = util.copy(h) end
  end
  sort(out, function(a, b)
    if a.set_at ~= b.set_at then return a.set_at < b.set_at end
    return a.hold_id < b.hold_id
  end)
  return out
end

function _M:append_audit(rec)
  self.audit[#self.audit + 1] = util.deepcopy(rec)
  return true
end

-- The `limit` newest audit records of a bank, newest first.
function _M:list_audit(bank_id, limit)
  local out = {}
  for i = #self.audit, 1, -1 do
    local r = self.audit[i]
    if r.bank_id == bank_id then
      out[#out + 1] = util.deepcopy(r)
      if #out >= limit then break end
    end
  end
  return out
end

return _M
