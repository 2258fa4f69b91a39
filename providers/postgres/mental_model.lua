-- astrocyte.providers.postgres.mental_model: MentalModelStore (spi.md §1.5).
-- Revisions as the wiki store: the current row of (bank_id, model_id) lives
-- in mental_models, older ones are archived in mental_model_revisions.
-- delete is soft (deleted = true hides the model from get/list); a later
-- upsert revives it as the next revision.
--
-- update_via_ops works on structured_doc = { sections = { {id, title,
-- content}, ... } } with the delta ops of the reference double:
--   { op = "add_section", id, title?, content }      id must be new
--   { op = "replace_section", id, content?, title? } id must exist
--   { op = "remove_section", id }                    id must exist
-- anything else is skipped with a reason (a bad op never makes the document
-- worse); content is re-rendered as "## title\n\ncontent" blocks.
local mmdoc = require "astrocyte.store.mental_model_doc"
local util = require "astrocyte.util"
local common = require "astrocyte.providers.postgres.common"
local type, fmt, tostring = type, string.format, tostring

local _M = common.class("mental_model", "mental model store", "mental_model_store_config")

local COLS = "bank_id, model_id, title, content, scope, source_ids, revision, refreshed_at, kind, structured_doc, source_timestamps, deleted"
local SELECT = "model_id, bank_id, title, content, scope, source_ids::text AS source_ids, revision, "
  .. common.ms("refreshed_at") .. ", kind, structured_doc::text AS structured_doc, source_timestamps::text AS source_timestamps"

local function model_of(r)
  return { model_id = r.model_id, bank_id = r.bank_id, title = r.title, content = r.content, scope = r.scope,
           source_ids = common.jdecode(r.source_ids) or {}, revision = r.revision,
           refreshed_at = common.iso(r.refreshed_at), kind = r.kind,
           structured_doc = common.jdecode(r.structured_doc), source_timestamps = common.jdecode(r.source_timestamps) }
end

-- The current and archived rows as Store:_by reads them.
local MODELS = { tbl = "mental_models", cols = SELECT, of = model_of }
local REVISIONS = { tbl = "mental_model_revisions", cols = SELECT, of = model_of }

-- MentalModelStore.upsert: stores the model as a new revision; returns it.
function _M:upsert(model, bank_id)
  local dto, verr = self:_input(model, bank_id, "MentalModel", "model", true)
  if not dto then return nil, verr end
  local doc
  if dto.structured_doc ~= nil then
    local e
    doc, e = util.encode(dto.structured_doc)
    if not doc then return nil, "postgres mental_model: structured_doc: " .. tostring(e) end
  end
  local S = self.S
  return self:_tx("upsert", bank_id, function(q)
    local r, rerr = common.next_revision(q, S, "mental_models", "model_id", COLS, bank_id, dto.model_id)
    if not r then return nil, rerr end
    local w, werr = q(fmt([[INSERT INTO %s.mental_models (%s) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, now(), $8,
        $9::jsonb, $10::jsonb, false)
      ON CONFLICT (bank_id, model_id) DO UPDATE SET title = excluded.title, content = excluded.content,
        scope = excluded.scope, source_ids = excluded.source_ids, revision = excluded.revision,
        refreshed_at = excluded.refreshed_at, kind = excluded.kind, structured_doc = excluded.structured_doc,
        source_timestamps = excluded.source_timestamps, deleted = false]], S, COLS),
      { bank_id, dto.model_id, dto.title, dto.content, dto.scope, common.jlist(dto.source_ids), r, dto.kind, doc,
        dto.source_timestamps and common.jlist(dto.source_timestamps) or nil, n = 10 })
    if not w then return nil, werr end
    return r
  end)
end

-- MentalModelStore.get: the current revision, or nil if missing/deleted.
function _M:get(model_id, bank_id)
  return self:_by(MODELS, "model_id", model_id, bank_id, "get", " AND NOT deleted")
end

-- MentalModelStore.list(bank_id, opts): current revisions; opts = {scope?, kind?}.
function _M:list(bank_id, opts)
  opts = opts or {}
  local p = common.params(bank_id)
  local where = "bank_id = $1 AND NOT deleted"
  if opts.scope ~= nil then where = where .. " AND scope = " .. p:add(opts.scope) end
  if opts.kind ~= nil then where = where .. " AND kind = " .. p:add(opts.kind) end
  return self:_rows(fmt("SELECT %s FROM %s.mental_models WHERE %s ORDER BY model_id", SELECT, self.S, where), p,
    model_of, "list", bank_id)
end

-- MentalModelStore.delete: soft delete; false if absent or already deleted.
function _M:delete(model_id, bank_id)
  local res, err = self.ctx.pool:query(fmt("UPDATE %s.mental_models SET deleted = true WHERE bank_id = $1 AND model_id = $2 AND NOT deleted",
    self.S), { bank_id, model_id })
  if not res then return nil, self:_err("delete", bank_id, err) end
  return res.cmd_tuples > 0
end

local render = mmdoc.render

-- MentalModelStore.update_via_ops: new_revision, {applied, skipped,
-- changed}; nil if the model is missing; unchanged → current revision.
function _M:update_via_ops(model_id, bank_id, ops)
  local m, err = self:get(model_id, bank_id)
  if not m then return nil, err end
  if type(ops) ~= "table" then return nil, "postgres mental_model: operations must be an array" end
  local doc, summary = mmdoc.apply_ops(m.structured_doc, ops)
  if not summary.changed then return m.revision, summary end
  m.structured_doc, m.content = doc, render(doc)
  local rev; rev, err = self:upsert(m, bank_id)
  if not rev then return nil, err end
  return rev, summary
end

-- MentalModelStore.refresh: merges new_source_ids (deduped, existing order
-- kept), bumps the revision; returns the new model or nil if missing.
function _M:refresh(model_id, bank_id, new_source_ids)
  local m, err = self:get(model_id, bank_id)
  if not m then return nil, err end
  local ids = mmdoc.merge_ids(m.source_ids, new_source_ids)
  m.source_ids = ids
  local rev; rev, err = self:upsert(m, bank_id)
  if not rev then return nil, err end
  return self:get(model_id, bank_id)
end

-- Extension: archived revisions of a model, oldest first.
function _M:list_revisions(model_id, bank_id)
  return self:_by(REVISIONS, "model_id", model_id, bank_id, "list_revisions", " ORDER BY revision", true)
end

return _M
