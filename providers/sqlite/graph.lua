-- astrocyte.providers.sqlite.graph: the GraphStore of the embedded default
-- (spi.md §1.2), in the same SQLite file (WAL) as the vector store, with the
-- semantics of the in-memory reference (providers/in_memory/graph.lua).
-- Tables: entities, entity_aliases, entity_links, memory_entities and
-- memory_links, created idempotently; bank_id is part of every key and every
-- WHERE, values are always bound parameters, and each method runs in one
-- transaction (IMMEDIATE for writes, a deferred snapshot for reads).
-- store_entities upserts: a known id gets the new name/type, keeps the
-- metadata/embedding it is not given, merges aliases (case-insensitively)
-- and counts one more mention. query_neighbors walks ≤ max_depth hops
-- (memory↔entity = 1, each entity↔entity link + 1) and reads hit texts from
-- the `memories` table of the file. Extension: unlink_memories(ids, bank_id)
-- drops the associations and memory links of forgotten memories.
-- Storage plumbing (schema, statements, transactions): graph_db.lua.
local DB = require "astrocyte.providers.sqlite.graph_db"
local util = require "astrocyte.util"
local similarity = require "astrocyte.store.similarity"
local gstore = require "astrocyte.store.graph"
local type, pairs, ipairs, min, tostring = type, pairs, ipairs, math.min, tostring
local lower, sort = string.lower, table.sort
local marks, chunks, encode_map, decode = DB.marks, DB.chunks, DB.encode_map, DB.decode

local _M = { SPI_VERSION = 1, name = "sqlite" }
local mt = { __index = _M }
-- The statement cache, query(), q() and tx() methods.
_M.stmt, _M.query, _M.q, _M.tx, _M.query_in = DB.stmt, DB.query, DB.q, DB.tx, DB.query_in

local LABEL = "sqlite graph"

---------------------------------------------------------------------------
-- Entities
---------------------------------------------------------------------------

local ENTITY_UPSERT = [[
INSERT INTO entities (bank_id, id, name, entity_type, metadata, embedding, mention_count, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bank_id, id) DO UPDATE SET
  name = excluded.name, entity_type = excluded.entity_type,
  metadata = COALESCE(excluded.metadata, entities.metadata),
  embedding = COALESCE(excluded.embedding, entities.embedding),
  mention_count = entities.mention_count + 1, updated_at = excluded.updated_at]]

local ALIAS_INSERT = "INSERT INTO entity_aliases (bank_id, entity_id, alias) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"

-- Extension: runs fn() with every graph write inside one transaction (one
-- commit and one fsync for a whole retain's entities, links and
-- associations instead of one each). Returns fn's result or nil, err; on
-- failure nothing fn wrote is kept.
function _M:batch(fn)
  return self:tx("batch", true, function()
    self.in_tx = true
    local ok, res, err = pcall(fn)
    self.in_tx = nil
    if not ok then error(res, 0) end
    if res == nil then return nil, err end
    return res
  end)
end

-- GraphStore.store_entities: upserts; returns the ids in input order.
function _M:store_entities(entities, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "Entity", entities, "entities", true)
  if not list then return nil, err end
  if #list == 0 then return {} end
  return self:tx("store_entities", true, function()
    local now, ids = util.now_ms(), {}
    for i, e in ipairs(list) do
      local emb = e.embedding and #e.embedding > 0 and util.encode(e.embedding) or nil
      local ok, qerr = self:q(ENTITY_UPSERT, bank_id, e.id, e.name, e.entity_type, encode_map(e.metadata),
                              emb, e.mention_count or 1, now, now)
      if not ok then return nil, qerr end
      for _, al in ipairs(e.aliases or {}) do
        if al ~= "" then
          ok, qerr = self:q(ALIAS_INSERT, bank_id, e.id, al)
          if not ok then return nil, qerr end
        end
      end
      ids[i] = e.id
    end
    return ids
  end)
end

local ENTITY_COLS = "e.key, e.id, e.name, e.entity_type, e.metadata, e.embedding, e.mention_count, e.updated_at"

-- Turns entity rows into Entity DTOs (aliases from entity_aliases, in
-- insertion order). Runs inside the caller's transaction.
function _M:entity_dtos(bank_id, rows)
  local out, by_id, ids = {}, {}, {}
  for i, r in ipairs(rows) do
    local e = { id = r.id, name = r.name, entity_type = r.entity_type, aliases = {},
                metadata = decode(r.metadata), embedding = decode(r.embedding),
                mention_count = r.mention_count, _updated_at = r.updated_at }
    out[i], by_id[r.id], ids[i] = e, e, r.id
  end
  local ok, err = self:query_in("SELECT entity_id, alias FROM entity_aliases WHERE bank_id = ? AND entity_id",
                                 " ORDER BY key", bank_id, ids, function(rows2)
    for _, a in ipairs(rows2) do
      local e = by_id[a.entity_id]
      e.aliases[#e.aliases + 1] = a.alias
    end
  end)
  if not ok then return nil, err end
  return out
end

local function public(e)
  local c = {}
  for k, v in pairs(e) do if k ~= "_updated_at" then c[k] = v end end
  return c
end

-- GraphStore.query_entities: case-insensitive substring match on name and
-- aliases; exact name matches first, then shorter names, then by id.
function _M:query_entities(query, bank_id, limit)
  limit = limit or 10
  if type(bank_id) ~= "string" or type(query) ~= "string" or query == "" or limit < 1 then return {} end
  local q = lower(query)
  local list, err = self:tx("query_entities", false, function()
    local rows, qerr = self:q("SELECT " .. ENTITY_COLS .. " FROM entities e WHERE e.bank_id = ? AND (instr(lower(e.name), ?) > 0"
      .. " OR EXISTS (SELECT 1 FROM entity_aliases a WHERE a.bank_id = e.bank_id AND a.entity_id = e.id"
      .. " AND instr(lower(a.alias), ?) > 0))"
      .. " ORDER BY lower(e.name) = ? DESC, length(CAST(e.name AS BLOB)), e.id LIMIT ?", bank_id, q, q, q, limit)
    if not rows then return nil, qerr end
    return self:entity_dtos(bank_id, rows)
  end)
  if not list then return nil, err end
  for i, e in ipairs(list) do list[i] = public(e) end
  return list
end

-- Every entity of a bank (insertion order), as DTOs.
function _M:all_entities(bank_id)
  local rows, err = self:q("SELECT " .. ENTITY_COLS .. " FROM entities e WHERE e.bank_id = ? ORDER BY e.key", bank_id)
  if not rows then return nil, err end
  return self:entity_dtos(bank_id, rows)
end

-- GraphStore.find_entity_candidates: entities whose name/alias similarity
-- is ≥ threshold or that contain / are contained in `name`
-- (case-insensitive); similarity descending, then by id.
function _M:find_entity_candidates(name, bank_id, threshold, limit)
  threshold, limit = threshold or 0.8, limit or 5
  if type(bank_id) ~= "string" or type(name) ~= "string" or name == "" then return {} end
  local all, err = self:tx("find_entity_candidates", false, function() return self:all_entities(bank_id) end)
  if not all then return nil, err end
  local out = similarity.candidates(name, all, threshold, limit)
  for i, e in ipairs(out) do out[i] = public(e) end
  return out
end

-- Names of the entities linked to `id` (either direction), sorted.
function _M:linked_names(bank_id, id)
  local rows, err = self:q("SELECT DISTINCT e.name FROM entity_links l JOIN entities e"
    .. " ON e.bank_id = l.bank_id AND e.id = (CASE WHEN l.entity_a = ? THEN l.entity_b ELSE l.entity_a END)"
    .. " WHERE l.bank_id = ? AND (l.entity_a = ? OR l.entity_b = ?) ORDER BY e.name", id, bank_id, id, id)
  if not rows then return nil, err end
  local out = {}
  for i, r in ipairs(rows) do out[i] = r.name end
  return out
end

-- GraphStore.find_entity_candidates_scored(name, bank_id, opts):
-- opts = { name_embedding?, trigram_threshold = 0.3, limit = 10 }. Returns
-- EntityCandidateMatch list, best name similarity first (then embedding
-- similarity, then id); embedding_similarity only when both embeddings exist.
function _M:find_entity_candidates_scored(name, bank_id, opts)
  opts = opts or {}
  local threshold, limit = opts.trigram_threshold or 0.3, opts.limit or 10
  if type(bank_id) ~= "string" or type(name) ~= "string" or name == "" then return {} end
  return self:tx("find_entity_candidates_scored", false, function()
    local all, err = self:all_entities(bank_id)
    if not all then return nil, err end
    local out = similarity.scored(name, all, threshold, limit, opts.name_embedding)
    for _, m in ipairs(out) do
      local names, nerr = self:linked_names(bank_id, m.entity.id)
      if not names then return nil, nerr end
      m.co_occurring_names = names
      m.last_seen = m.entity._updated_at and util.iso(m.entity._updated_at) or nil
      m.entity = public(m.entity)
    end
    return out
  end)
end

---------------------------------------------------------------------------
-- Entity links and memory associations
---------------------------------------------------------------------------

local LINK_UPSERT = [[
INSERT INTO entity_links (bank_id, id, entity_a, entity_b, link_type, evidence, confidence, created_at, metadata)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bank_id, entity_a, entity_b, link_type) DO UPDATE SET
  evidence = excluded.evidence, confidence = excluded.confidence,
  metadata = COALESCE(excluded.metadata, entity_links.metadata)
RETURNING id]]

-- Upserts validated EntityLink DTOs (deduplicated on (entity_a, entity_b,
-- link_type), which keep their first id); returns the ids.
function _M:put_links(list, bank_id)
  local now, ids = util.iso(util.now_ms()), {}
  for i, l in ipairs(list) do
    local rows, err = self:q(LINK_UPSERT, bank_id, l.id or util.new_id(), l.entity_a, l.entity_b, l.link_type,
                             l.evidence or "", l.confidence or 1.0, l.created_at or now, encode_map(l.metadata))
    if not rows then return nil, err end
    ids[i] = rows[1].id
  end
  return ids
end

-- GraphStore.store_links: one link id per link, in input order.
function _M:store_links(links, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "EntityLink", links, "links", true)
  if not list then return nil, err end
  if #list == 0 then return {} end
  return self:tx("store_links", true, function() return self:put_links(list, bank_id) end)
end

-- GraphStore.store_entity_link: one confirmed link; returns its id.
function _M:store_entity_link(link, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "EntityLink", { link }, "link", true)
  if not list then return nil, err end
  local ids; ids, err = self:tx("store_entity_link", true, function() return self:put_links(list, bank_id) end)
  if not ids then return nil, err end
  return ids[1]
end

local MEMORY_ENTITY_UPSERT = "INSERT INTO memory_entities (bank_id, memory_id, entity_id, text) VALUES (?, ?, ?, ?)"
  .. " ON CONFLICT (bank_id, memory_id, entity_id) DO UPDATE SET text = COALESCE(excluded.text, memory_entities.text)"

-- GraphStore.link_memories_to_entities: records memory ↔ entity edges. An
-- association may carry `text` (extension), used when the file has no
-- memory row for that id.
function _M:link_memories_to_entities(assocs, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "MemoryEntityAssociation", assocs, "associations", true)
  if not list then return nil, err end
  if #list == 0 then return true end
  return self:tx("link_memories_to_entities", true, function()
    -- one prepared statement stepped per association (no row tables)
    local st, serr = self:stmt(MEMORY_ENTITY_UPSERT)
    if not st then return nil, serr end
    for _, a in ipairs(list) do
      local ok, qerr = st:bind_values(bank_id, a.memory_id, a.entity_id, a.text)
      if ok then ok, qerr = st:step() end
      st:reset()
      if ok == nil then return nil, qerr end
    end
    return true
  end)
end

-- Extension used by forget: drops the memory ↔ entity associations and the
-- memory links (either end) of the given memories. Returns the number of
-- associations removed.
function _M:unlink_memories(memory_ids, bank_id)
  local _, err = gstore.bank_arg(LABEL, bank_id); if err then return nil, err end
  if type(memory_ids) ~= "table" then return nil, "sqlite graph: memory_ids must be an array" end
  if #memory_ids == 0 then return 0 end
  return self:tx("unlink_memories", true, function()
    local removed = 0
    local ok, cerr = chunks(memory_ids, function(slice)
      local m = marks(#slice)
      local args = { bank_id, n = #slice + 1 }
      for i, id in ipairs(slice) do args[i + 1] = id end
      local rows, qerr = self:query("DELETE FROM memory_entities WHERE bank_id = ? AND memory_id IN (" .. m .. ") RETURNING memory_id", args)
      if not rows then return nil, qerr end
      removed = removed + #rows
      local args2 = { bank_id, n = 2 * #slice + 1 }
      for i, id in ipairs(slice) do args2[i + 1], args2[#slice + i + 1] = id, id end
      rows, qerr = self:query("DELETE FROM memory_links WHERE bank_id = ? AND (source_memory_id IN (" .. m
                              .. ") OR target_memory_id IN (" .. m .. "))", args2)
      if not rows then return nil, qerr end
      return true
    end)
    if not ok then return nil, cerr end
    return removed
  end)
end

-- Traversal (expand, has_memories, query_neighbors): graph_walk.lua.
local walk = require "astrocyte.providers.sqlite.graph_walk"
_M.expand, _M.has_memories, _M.query_neighbors = walk.expand, walk.has_memories, walk.query_neighbors

---------------------------------------------------------------------------
-- Memory links (optional part of the SPI)
---------------------------------------------------------------------------

local MEMORY_LINK_UPSERT = [[
INSERT INTO memory_links (bank_id, id, source_memory_id, target_memory_id, link_type, evidence, confidence, weight, created_at, metadata)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (bank_id, source_memory_id, target_memory_id, link_type) DO UPDATE SET
  evidence = excluded.evidence, confidence = excluded.confidence, weight = excluded.weight,
  metadata = COALESCE(excluded.metadata, memory_links.metadata)
RETURNING id]]

-- GraphStore.store_memory_links: memory → memory links, deduplicated on
-- (source, target, link_type); returns ids in input order.
function _M:store_memory_links(links, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "MemoryLink", links, "links", true)
  if not list then return nil, err end
  if #list == 0 then return {} end
  return self:tx("store_memory_links", true, function()
    local now, ids = util.iso(util.now_ms()), {}
    for i, l in ipairs(list) do
      local rows, qerr = self:q(MEMORY_LINK_UPSERT, bank_id, util.new_id(), l.source_memory_id, l.target_memory_id,
                                l.link_type, l.evidence or "", l.confidence or 1.0, l.weight or 1.0,
                                l.created_at or now, encode_map(l.metadata))
      if not rows then return nil, qerr end
      ids[i] = rows[1].id
    end
    return ids
  end)
end

-- GraphStore.find_memory_links(seed_ids, bank_id, opts): links whose source
-- or target is a seed; opts = { link_types?, limit = 200 }; insertion order.
function _M:find_memory_links(seed_ids, bank_id, opts)
  local limit, kinds = gstore.link_query(seed_ids, bank_id, opts)
  if not limit then return {} end
  local found, err = self:tx("find_memory_links", false, function()
    local by_key = {}
    local ok, cerr = chunks(seed_ids, function(slice)
      local m = marks(#slice)
      local args = { bank_id }
      for _, id in ipairs(slice) do args[#args + 1] = id end
      for _, id in ipairs(slice) do args[#args + 1] = id end
      local sql = "SELECT key, id, source_memory_id, target_memory_id, link_type, evidence, confidence, weight, created_at, metadata"
        .. " FROM memory_links WHERE bank_id = ? AND (source_memory_id IN (" .. m .. ") OR target_memory_id IN (" .. m .. "))"
      if type(kinds) == "table" then
        sql = sql .. " AND link_type IN (" .. marks(#kinds) .. ")"
        for _, k in ipairs(kinds) do args[#args + 1] = k end
      end
      sql = sql .. " ORDER BY key LIMIT ?"
      args[#args + 1] = limit
      args.n = #args
      local rows, qerr = self:query(sql, args)
      if not rows then return nil, qerr end
      for _, r in ipairs(rows) do by_key[r.key] = r end
      return true
    end)
    if not ok then return nil, cerr end
    return by_key
  end)
  if not found then return nil, err end
  local list = {}
  for _, r in pairs(found) do list[#list + 1] = r end
  sort(list, function(x, y) return x.key < y.key end)
  local out = {}
  for i = 1, min(limit, #list) do
    local r = list[i]
    out[i] = { id = r.id, source_memory_id = r.source_memory_id, target_memory_id = r.target_memory_id,
               link_type = r.link_type, evidence = r.evidence, confidence = r.confidence, weight = r.weight,
               created_at = r.created_at, metadata = decode(r.metadata) }
  end
  return out
end

---------------------------------------------------------------------------
-- Lifecycle
---------------------------------------------------------------------------

function _M:health()
  if not self.db:is_open() then return { healthy = false, message = "sqlite graph: database is closed" } end
  local rows, err = self:q("SELECT count(*) AS n FROM entities")
  if not rows then return { healthy = false, message = "sqlite graph: " .. tostring(err) } end
  return { healthy = true, message = "sqlite graph: ok (" .. self.path .. ")" }
end

function _M:close()
  for _, st in pairs(self.cache) do st:finalize() end
  self.cache = {}
  if not self.shared then self.db:close() end      -- a shared connection is the vector store's
  return true
end

-- Extension used by export_bank: the entities linked to each memory →
-- { memory_id = { {id, name, entity_type, aliases}, ... } } (by entity id).
function _M:get_memory_entities(memory_ids, bank_id)
  local out = {}
  if type(bank_id) ~= "string" or type(memory_ids) ~= "table" or #memory_ids == 0 then return out end
  local ok, err = self:tx("get_memory_entities", false, function()
    return self:query_in("SELECT memory_id, entity_id FROM memory_entities WHERE bank_id = ? AND memory_id",
                         " ORDER BY memory_id, entity_id", bank_id, memory_ids, function(pairs_rows)
      local eids, seen = {}, {}
      for _, r in ipairs(pairs_rows) do
        if not seen[r.entity_id] then seen[r.entity_id] = true; eids[#eids + 1] = r.entity_id end
      end
      local by_id = {}
      local eok, eerr = self:query_in("SELECT " .. ENTITY_COLS .. " FROM entities e WHERE e.bank_id = ? AND e.id", "",
                                      bank_id, eids, function(rows)
        local list, derr = self:entity_dtos(bank_id, rows)
        if not list then return nil, derr end
        for _, e in ipairs(list) do by_id[e.id] = e end
      end)
      if not eok then return nil, eerr end
      for _, r in ipairs(pairs_rows) do
        local e = by_id[r.entity_id]
        if e then
          local l = out[r.memory_id]
          if not l then l = {}; out[r.memory_id] = l end
          l[#l + 1] = { id = e.id, name = e.name, entity_type = e.entity_type, aliases = e.aliases }
        end
      end
      return true
    end)
  end)
  if not ok then return nil, err end
  return out
end

-- Opens (creating if needed) the graph tables in the database at conf.path
-- — the vector store's file. Returns the store or nil, err.
-- new(conf [, backend]) → store | nil, err. With the sqlite vector store's
-- backend, the graph shares its connection: graph writes made inside the
-- backend's batch() commit with the memories.
function _M.new(conf, backend)
  return DB.open(conf, mt, backend)
end

return _M
