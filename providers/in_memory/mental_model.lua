-- astrocyte.providers.in_memory.mental_model: the ephemeral MentalModelStore
-- (spi.md §1.5). Revisions as the wiki store (previous revisions archived);
-- delete is soft (the model is kept, flagged, and hidden from get/list).
--
-- update_via_ops works on structured_doc = { sections = { {id, title,
-- content}, ... } } with these delta ops (anything else is skipped with a
-- reason, so a bad op never makes the document worse):
--   { op = "add_section", id, title?, content }      id must be new
--   { op = "replace_section", id, content?, title? } id must exist
--   { op = "remove_section", id }                    id must exist
-- After a change, content is re-rendered as "## title\n\ncontent" blocks.
local types = require "astrocyte.types"
local mmdoc = require "astrocyte.store.mental_model_doc"
local util = require "astrocyte.util"
local type, ipairs, pairs = type, ipairs, pairs

local _M = { SPI_VERSION = 1, name = "in_memory" }
local mt = { __index = _M }

function _M.new()
  return setmetatable({ banks = {} }, mt)
end

local function bank(self, bank_id)
  local b = self.banks[bank_id]
  if not b then b = { models = {}, archive = {} }; self.banks[bank_id] = b end
  return b
end

local function live(self, model_id, bank_id)
  local b = self.banks[bank_id]
  local m = b and b.models[model_id]
  if not m or m.deleted then return nil end
  return m, b
end

local function public(m)
  local c = util.deepcopy(m)
  c.deleted = nil
  return c
end

-- MentalModelStore.upsert: stores the model as a new revision; returns it.
function _M:upsert(model, bank_id)
  if type(bank_id) ~= "string" or bank_id == "" then return nil, "in_memory mental_model: bank_id must be a non-empty string" end
  if type(model) ~= "table" then return nil, "in_memory mental_model: model must be a table" end
  local input = util.copy(model)
  input.bank_id = bank_id
  input.revision = nil
  local dto, err = types.MentalModel(input)
  if not dto then return nil, "in_memory mental_model: " .. err.message end
  local b = bank(self, bank_id)
  local cur = b.models[dto.model_id]
  if cur then
    local arch = b.archive[dto.model_id]
    if not arch then arch = {}; b.archive[dto.model_id] = arch end
    arch[#arch + 1] = cur
    dto.revision = cur.revision + 1
  else
    dto.revision = 1
  end
  dto.refreshed_at = util.iso(util.now_ms())
  b.models[dto.model_id] = dto
  return dto.revision
end

-- MentalModelStore.get: the current revision, or nil if missing/deleted.
function _M:get(model_id, bank_id)
  local m = live(self, model_id, bank_id)
  return m and public(m) or nil
end

-- MentalModelStore.list(bank_id, opts): current revisions; opts = {scope?, kind?}.
function _M:list(bank_id, opts)
  opts = opts or {}
  local b = self.banks[bank_id]
  local out = {}
  if not b then return out end
  for _, m in pairs(b.models) do
    if not m.deleted and (opts.scope == nil or m.scope == opts.scope) and (opts.kind == nil or m.kind == opts.kind) then
      out[#out + 1] = public(m)
    end
  end
  table.sort(out, function(a, c) return a.model_id < c.model_id end)
  return out
end

-- MentalModelStore.delete: soft delete; false if absent or already deleted.
function _M:delete(model_id, bank_id)
  local m = live(self, model_id, bank_id)
  if not m then return false end
  m.deleted = true
  return true
end

local render = mmdoc.render

-- MentalModelStore.update_via_ops: returns new_revision, {applied, skipped,
-- changed}; nil if the model is missing. Unchanged → current revision.
function _M:update_via_ops(model_id, bank_id, ops)
  local m = live(self, model_id, bank_id)
  if not m then return nil end
  if type(ops) ~= "table" then return nil, "in_memory mental_model: operations must be an array" end
  local doc, summary = mmdoc.apply_ops(m.structured_doc, ops)
  if not summary.changed then return m.revision, summary end
  local nm = public(m)
  nm.structured_doc = doc
  nm.content = render(doc)
  local rev, err = self:upsert(nm, bank_id)
  if not rev then return nil, err end
  return rev, summary
end

-- MentalModelStore.refresh: merges new_source_ids (deduped, existing order
-- kept) and bumps the revision; returns the new model or nil if missing.
function _M:refresh(model_id, bank_id, new_source_ids)
  local m = live(self, model_id, bank_id)
  if not m then return nil end
  local ids = mmdoc.merge_ids(m.source_ids, new_source_ids)
  local nm = public(m)
  nm.source_ids = ids
  local rev, err = self:upsert(nm, bank_id)
  if not rev then return nil, err end
  return self:get(model_id, bank_id)
end

-- Extension: archived revisions of a model, oldest first.
function _M:list_revisions(model_id, bank_id)
  local b = self.banks[bank_id]
  local out = {}
  for i, m in ipairs(b and b.archive[model_id] or {}) do out[i] = public(m) end
  return out
end

function _M:health()
  return { healthy = true, message = "in_memory mental_model: ok" }
end

return _M
