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
local revisions = require "astrocyte.store.revisions"
local util = require "astrocyte.util"
local type = type

local _M = revisions.class()

local function live(self, model_id, bank_id)
  local b = self.banks[bank_id]
  local m = b and b.current[model_id]
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
  local input, err = revisions.input("in_memory mental_model", "model", model, bank_id)
  if not input then return nil, err end
  input.revision = nil
  local dto; dto, err = types.MentalModel(input)
  if not dto then return nil, "in_memory mental_model: " .. err.message end
  dto.refreshed_at = util.iso(util.now_ms())
  revisions.put(revisions.bank(self, bank_id), dto.model_id, dto)
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
  return revisions.list(self, bank_id, opts.scope, opts.kind, public, "model_id")
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
  return revisions.archived(self, bank_id, model_id, public)
end

function _M:health()
  return { healthy = true, message = "in_memory mental_model: ok" }
end

return _M
