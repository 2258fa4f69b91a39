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
local checks = require "astrocyte.engine.checks"
local errors = require "astrocyte.errors"
local governance = require "astrocyte.engine.governance"
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

return _M
