-- astrocyte.store.revisions: the revision keeping of the in-memory wiki and
-- mental-model stores (spi.md §1.4, §1.5). Per bank, id → current revision
-- plus an archive of the previous revisions (kept, oldest first); a new
-- revision of an id archives the current one and is numbered after it.
local util = require "astrocyte.util"
local type, pairs, ipairs, setmetatable = type, pairs, ipairs, setmetatable

local _M = {}

-- A store class ({SPI_VERSION, name = "in_memory", new}) whose instances
-- keep their banks in self.banks.
function _M.class()
  local cls = { SPI_VERSION = 1, name = "in_memory" }
  local mt = { __index = cls }
  function cls.new() return setmetatable({ banks = {} }, mt) end
  return cls
end

-- The bank's { current = {id → dto}, archive = {id → {dto...}} }, created
-- on first use.
function _M.bank(self, bank_id)
  local b = self.banks[bank_id]
  if not b then b = { current = {}, archive = {} }; self.banks[bank_id] = b end
  return b
end

-- A copy of the table `v` (argument `what`) tagged with bank_id, ready for
-- the DTO constructor; nil and "<label>: ..." when either argument is bad.
function _M.input(label, what, v, bank_id)
  if type(bank_id) ~= "string" or bank_id == "" then return nil, label .. ": bank_id must be a non-empty string" end
  if type(v) ~= "table" then return nil, label .. ": " .. what .. " must be a table" end
  local input = util.copy(v)
  input.bank_id = bank_id
  return input
end

-- Makes dto the current revision of `id` in bank b: the previous current
-- revision (if any) is archived and dto.revision becomes its revision + 1,
-- else 1.
function _M.put(b, id, dto)
  local cur = b.current[id]
  if cur then
    local arch = b.archive[id]
    if not arch then arch = {}; b.archive[id] = arch end
    arch[#arch + 1] = cur
    dto.revision = cur.revision + 1
  else
    dto.revision = 1
  end
  b.current[id] = dto
end

-- The current revisions of a bank whose scope and kind match (nil matches
-- any), skipping soft-deleted ones, each passed through public, sorted by
-- their field id_field.
function _M.list(self, bank_id, scope, kind, public, id_field)
  local b = self.banks[bank_id]
  local out = {}
  if not b then return out end
  for _, r in pairs(b.current) do
    if not r.deleted and (scope == nil or r.scope == scope) and (kind == nil or r.kind == kind) then
      out[#out + 1] = public(r)
    end
  end
  table.sort(out, function(x, y) return x[id_field] < y[id_field] end)
  return out
end

-- The archived revisions of `id`, oldest first, each passed through
-- public (a copy the caller may keep).
function _M.archived(self, bank_id, id, public)
  local b = self.banks[bank_id]
  local out = {}
  for i, r in ipairs(b and b.archive[id] or {}) do out[i] = public(r) end
  return out
end

return _M
