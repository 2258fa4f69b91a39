-- astrocyte.providers.in_memory: the ephemeral reference providers for tests
-- and throwaway engines. VectorStore + DocumentStore live here: rows in Lua
-- tables, search through the same C indexes as the SQLite store
-- (astrocyte.store.localstore). The other store SPIs and the engine provider are
-- one file each next to this one (graph, wiki, mental_model, source, engine).
-- Soft delete (row.archived_at), legal holds and the audit log live in the
-- same Lua tables, for the lifetime of the store.
local governance = require "astrocyte.store.governance"
local localstore = require "astrocyte.store.localstore"
local rowmatch = require "astrocyte.store.rowmatch"
local util = require "astrocyte.util"

local Backend = {}
Backend.__index = Backend

local function new_backend()
  return setmetatable({ rows = {}, by_id = {}, next_key = 1, meta = {}, open = true,
                        gov = governance.new("in_memory") }, Backend)
end

function Backend:get_meta(k) return self.meta[k] end
function Backend:set_meta(k, v) self.meta[k] = v; return true end
function Backend:each_row() return true end
function Backend:ping() return self.open, "in_memory: store is closed" end
function Backend:close() self.open = false; return true end

local function bank_ids(self, bank_id)
  local m = self.by_id[bank_id]
  if not m then m = {}; self.by_id[bank_id] = m end
  return m
end

-- Upserts rows; returns their keys. Cannot fail part-way (pure Lua tables).
function Backend:upsert(rows)
  local keys = {}
  for i, r in ipairs(rows) do
    local ids = bank_ids(self, r.bank_id)
    local key = ids[r.id]
    if not key then
      key = self.next_key
      self.next_key = key + 1
      ids[r.id] = key
    end
    local copy = util.copy(r)
    copy.key = key
    copy.metadata = util.copy(r.metadata)
    copy.tags = util.copy(r.tags)
    copy.archived_at = nil
    self.rows[key] = copy
    keys[i] = key
  end
  return keys
end

function Backend:get_rows(keys)
  local out = {}
  for _, k in ipairs(keys) do out[k] = self.rows[k] end
  return out
end

function Backend:get_by_id(bank_id, id)
  local ids = self.by_id[bank_id]
  local key = ids and ids[id]
  return key and self.rows[key] or nil
end

function Backend:delete(bank_id, ids)
  local m = self.by_id[bank_id]
  local keys = {}
  if not m then return keys end
  for _, id in ipairs(ids) do
    local key = m[id]
    if key then
      m[id] = nil
      self.rows[key] = nil
      keys[#keys + 1] = key
    end
  end
  if next(m) == nil then self.by_id[bank_id] = nil end
  return keys
end

-- Rows of a bank sorted by id (optionally only rows with vectors). `state`:
-- nil = live rows, "archived" = archived rows, "all" = both.
local function bank_rows(self, bank_id, vectors_only, state)
  local m = self.by_id[bank_id]
  local list = {}
  if not m then return list end
  for _, key in pairs(m) do
    local r = self.rows[key]
    local st_ok = state == "all" or (state == "archived") == (r.archived_at ~= nil)
    if st_ok and (not vectors_only or r.vector) then list[#list + 1] = r end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  return list
end

function Backend:list(bank_id, offset, limit, vectors_only, archived)
  local all = bank_rows(self, bank_id, vectors_only, archived and "archived" or nil)
  local out = {}
  for i = offset + 1, math.min(#all, offset + limit) do out[#out + 1] = all[i] end
  return out
end

function Backend:recent(bank_id, limit)
  local all = bank_rows(self, bank_id, true)
  table.sort(all, function(a, b)
    local ta, tb = a.occurred_at or a.retained_at, b.occurred_at or b.retained_at
    if ta ~= tb then return ta > tb end
    return a.id < b.id
  end)
  local out = {}
  for i = 1, math.min(#all, limit) do out[i] = all[i] end
  return out
end

function Backend:keys_matching(bank_id, pred)
  local out = {}
  for _, r in ipairs(bank_rows(self, bank_id)) do
    if rowmatch.matches(r, pred) then out[#out + 1] = r.key end
  end
  return out
end

function Backend:find_ids(bank_id, sel)
  local out = {}
  for _, r in ipairs(bank_rows(self, bank_id, false, not sel.live_only and "all" or nil)) do
    if rowmatch.selected(r, sel) then out[#out + 1] = r.id end
  end
  return out
end

function Backend:banks()
  local out = {}
  for bank_id, m in pairs(self.by_id) do
    local n = 0
    for _, key in pairs(m) do
      if not self.rows[key].archived_at then n = n + 1 end
    end
    if n > 0 then out[#out + 1] = { bank_id = bank_id, memory_count = n } end
  end
  table.sort(out, function(a, b) return a.bank_id < b.bank_id end)
  return out
end

-- Soft delete: archive (at_ms) or restore (nil) ids; returns changed keys.
function Backend:set_archived(bank_id, ids, at_ms)
  local m = self.by_id[bank_id]
  local keys = {}
  if not m then return keys end
  for _, id in ipairs(ids) do
    local r = m[id] and self.rows[m[id]]
    if r and (r.archived_at == nil) == (at_ms ~= nil) then
      r.archived_at = at_ms
      keys[#keys + 1] = r.key
    end
  end
  return keys
end

-- Legal holds and the audit log (astrocyte.store.governance).
for _, m in ipairs({ "put_hold", "delete_hold", "list_holds", "append_audit", "list_audit" }) do
  Backend[m] = function(self, ...) return self.gov[m](self.gov, ...) end
end

local function new(conf)
  local store, err = localstore.new(new_backend(), conf, "in_memory")
  -- Capability: nothing survives the process (the CLI warns one-shot writers).
  if store then store.persistent = false end
  return store, err
end

-- Each group's constructor takes its *_config table.
local function ctor(mod)
  return function(conf) return require("astrocyte.providers.in_memory." .. mod).new(conf) end
end

return {
  vector_stores = new, document_stores = new, new = new,
  graph_stores = ctor("graph"), wiki_stores = ctor("wiki"),
  mental_model_stores = ctor("mental_model"), source_stores = ctor("source"),
  engine_providers = ctor("engine"),
}
