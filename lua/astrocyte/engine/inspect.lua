-- astrocyte.engine.inspect: looking at one memory, for people (the
-- gateway's memory browser, the CLI) rather than for the recall pipeline:
--   engine:memory(bank_id, memory_id) → {memory_id, bank_id, text, tags,
--     metadata, fact_type, occurred_at, retained_at, archived_at,
--     entities = [{id, name, entity_type, aliases}],
--     history = [{at, event, ...}] (oldest first)} | nil, err
-- It needs `recall` on the bank. The text and fields come from the vector
-- store's get_items extension (archived memories included, marked by
-- archived_at); entities from the graph store's get_memory_entities when
-- there is one; the history from what the rows say (first retained, last
-- rewritten by a near-duplicate update, archived) and the bank's audit
-- records that name this memory (forget, restore ...).
--   engine:graph_search(query, {bank_id, limit = 10}) → [Entity]
--   engine:graph_neighbors(entity_ids, {bank_id, max_depth = 2, limit = 20})
--     → [GraphHit {memory_id, text, connected_entities, depth, score}]
-- The entity graph as the reference's public API has it (read permission,
-- through the graph store; CapabilityNotSupported without one).
local checks = require "astrocyte.engine.checks"
local errors = require "astrocyte.errors"
local governance = require "astrocyte.engine.governance"
local policy = require "astrocyte.policy"
local validate = require "astrocyte.validate"
local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring

local _M = { methods = {} }
local E = _M.methods

-- How many audit records are read to find the ones naming a memory.
local AUDIT_SCAN = 1000

-- Metadata as a person should see it: the engine's own keys (leading
-- underscore: indexed context, chunk position, creation time) are left out.
local function visible_metadata(md)
  if type(md) ~= "table" then return {} end
  local out = {}
  for k, v in pairs(md) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then out[k] = v end
  end
  return out
end

-- True when audit record rec names memory id.
local function names_memory(rec, id)
  if type(rec.memory_ids) ~= "table" then return false end
  for _, m in ipairs(rec.memory_ids) do
    if m == id then return true end
  end
  return false
end

-- The history of item h: events from its row, then audit records naming it.
-- An audit store that fails costs the audit part only (said in the result).
local function history_of(self, bank, h)
  local md = type(h.metadata) == "table" and h.metadata or {}
  local events = {}
  local created = md._created_at or h.retained_at
  events[#events + 1] = { at = created, event = "retained" }
  if h.retained_at and created and h.retained_at ~= created then
    events[#events + 1] = { at = h.retained_at, event = "updated",
                            note = "rewritten by a near-duplicate retain (tags and metadata merged)" }
  end
  if h.archived_at then events[#events + 1] = { at = h.archived_at, event = "archived" } end
  local recs, err = errors.call(governance.store(self), "list_audit", { bank_id = bank }, bank, AUDIT_SCAN)
  for _, rec in ipairs(recs or {}) do
    if names_memory(rec, h.id) then
      events[#events + 1] = { at = rec.at, event = rec.event, principal = rec.principal, reason = rec.reason }
    end
  end
  table.sort(events, function(a, b) return tostring(a.at or "") < tostring(b.at or "") end)
  return events, not recs and tostring(err) or nil
end

E.memory = checks.governed("recall", function(self, bank_id, memory_id)
  local cerr = checks.check_open(self, "memory"); if cerr then return nil, cerr end
  local bank, err = checks.bank_arg(self, bank_id); if not bank then return nil, err end
  if type(memory_id) ~= "string" or memory_id == "" or #memory_id > 256 then
    return nil, errors.validation("memory_id must be a non-empty string of at most 256 bytes", { field = "memory_id", bank_id = bank })
  end
  local vs = self.vector_store
  if not vs or type(vs.get_items) ~= "function" then
    return nil, errors.new("CapabilityNotSupported", "this engine's store cannot fetch a memory by id",
                           { capability = "get_items", bank_id = bank })
  end
  local items; items, err = errors.call(vs, "get_items", { bank_id = bank }, { memory_id }, bank, { include_archived = true })
  if not items then return nil, err end
  local h = items[memory_id]
  if not h then
    return nil, errors.new("NotFound", "no memory '" .. memory_id .. "' in bank '" .. bank .. "'",
                           { field = "memory_id", bank_id = bank, memory_id = memory_id })
  end
  local out = {
    memory_id = memory_id, bank_id = bank, text = h.text, tags = h.tags or {},
    metadata = visible_metadata(h.metadata), fact_type = h.fact_type, occurred_at = h.occurred_at,
    retained_at = h.retained_at, archived_at = h.archived_at, entities = {},
  }
  local gs = self.graph_store
  if gs and type(gs.get_memory_entities) == "function" then
    local ents; ents, err = errors.call(gs, "get_memory_entities", { bank_id = bank }, { memory_id }, bank)
    if not ents then return nil, err end
    out.entities = ents[memory_id] or {}
  end
  out.history, out.history_error = history_of(self, bank, { id = memory_id, metadata = h.metadata,
    retained_at = h.retained_at, archived_at = h.archived_at })
  return out
end)

local GRAPH_OPTS = checks.set { "bank_id", "limit", "max_depth", "context", "principal", "on_behalf_of" }

-- The common start of the graph verbs: options, bank, access (recall), the
-- graph store. Returns o, bank, gs or nil, err.
local function graph_call(self, what, opts)
  local cerr = checks.check_open(self, what); if cerr then return nil, cerr end
  local o, err = validate.opts(opts, GRAPH_OPTS, what); if not o then return nil, err end
  local bank; bank, err = checks.bank_arg(self, o.bank_id); if not bank then return nil, err end
  local ctx; ctx, err = policy.context(o, self._ctx); if ctx == false then return nil, err end
  local ok; ok, err = self.policy:admit("recall", bank, ctx); if not ok then return nil, err end
  local gs = self.graph_store
  if not gs then
    return nil, errors.new("CapabilityNotSupported", what .. " needs a graph store (graph_store in the config)",
                           { capability = "graph_store", bank_id = bank })
  end
  return o, bank, gs
end

function E:graph_search(query, opts)
  local o, bank, gs = graph_call(self, "graph_search", opts)
  if not o then return nil, bank end
  if type(query) ~= "string" or not query:find("%S") then
    return nil, errors.validation("query must be a non-empty string (an entity name or part of one)", { field = "query", bank_id = bank })
  end
  local limit, err = validate.int(o.limit, "limit", 1, 1000, 10); if not limit then return nil, err end
  return errors.call(gs, "query_entities", { bank_id = bank }, query, bank, limit)
end

function E:graph_neighbors(entity_ids, opts)
  local o, bank, gs = graph_call(self, "graph_neighbors", opts)
  if not o then return nil, bank end
  local ids, err = validate.str_list(entity_ids, "entity_ids")
  if err or not ids or #ids == 0 then
    return nil, err or errors.validation("entity_ids must be a non-empty array of entity ids", { field = "entity_ids", bank_id = bank })
  end
  local depth; depth, err = validate.int(o.max_depth, "max_depth", 1, 6, 2); if not depth then return nil, err end
  local limit; limit, err = validate.int(o.limit, "limit", 1, 1000, 20); if not limit then return nil, err end
  local hits; hits, err = errors.call(gs, "query_neighbors", { bank_id = bank }, ids, bank, depth, limit)
  if not hits then return nil, err end
  -- A graph store may keep only ids: the text comes from the vector store,
  -- and a memory it no longer has (forgotten, archived) is left out.
  local vs = self.vector_store
  if #hits == 0 or not vs or type(vs.get_items) ~= "function" then return hits end
  local mids = {}
  for i, h in ipairs(hits) do mids[i] = h.memory_id end
  local items; items, err = errors.call(vs, "get_items", { bank_id = bank }, mids, bank)
  if not items then return nil, err end
  local out = {}
  for _, h in ipairs(hits) do
    local m = items[h.memory_id]
    if m then
      if h.text == nil or h.text == "" then h.text = m.text end
      out[#out + 1] = h
    end
  end
  return out
end

return _M
