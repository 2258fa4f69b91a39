-- astrocyte.providers.in_memory.graph: the ephemeral GraphStore (spi.md
-- §1.2, mirroring the reference's InMemoryGraphStore). Entities, entity
-- links, memory↔entity associations and memory links live in per-bank Lua
-- tables. Name search is a case-insensitive substring match on name and
-- aliases; query_neighbors walks entity links breadth-first; name similarity
-- is difflib's SequenceMatcher ratio (2·matches / total length).
local types = require "astrocyte.types"
local util = require "astrocyte.util"
local similarity = require "astrocyte.store.similarity"
local gstore = require "astrocyte.store.graph"
local type, pairs, ipairs, fmt, min = type, pairs, ipairs, string.format, math.min
local lower, sort = string.lower, table.sort

-- process_local: only this process writes it (the recall cache needs no
-- change generations from it).
local _M = { SPI_VERSION = 1, name = "in_memory", process_local = true }
local mt = { __index = _M }

function _M.new()
  return setmetatable({ banks = {} }, mt)
end

local function bank(self, bank_id)
  local b = self.banks[bank_id]
  if not b then
    b = { entities = {}, order = {}, links = {}, link_keys = {}, adj = {}, mem_ent = {}, ent_mem = {},
          mem_links = {}, mem_link_keys = {}, seq = 0 }
    self.banks[bank_id] = b
  end
  return b
end

local LABEL = "in_memory graph"

-- Name similarity (difflib ratio over name and aliases), shared with the
-- sqlite graph store; _M.ratio stays for callers of the old export.
_M.ratio = similarity.ratio
local contains = similarity.contains

-- Checks items (DTOs named dto) and puts each into the bank with
-- put(b, item) → id; returns the ids in input order, or nil, err.
local function put_each(self, bank_id, dto, items, what, put)
  local list, err = gstore.dtos(LABEL, bank_id, dto, items, what)
  if not list then return nil, err end
  local b = bank(self, bank_id)
  local ids = {}
  for i, x in ipairs(list) do ids[i] = put(b, x) end
  return ids
end

-- GraphStore.store_entities: upserts; returns ids in input order.
function _M:store_entities(entities, bank_id)
  return put_each(self, bank_id, "Entity", entities, "entities", function(b, e)
    if not b.entities[e.id] then b.order[#b.order + 1] = e.id end
    b.entities[e.id] = e
    return e.id
  end)
end

local function link_key(l) return l.entity_a .. "\0" .. l.entity_b .. "\0" .. l.link_type end

-- Stores one EntityLink (deduplicated on (entity_a, entity_b, link_type));
-- returns its id or nil, err.
local function put_link(self, link, bank_id, where)
  local dto, verr = types.EntityLink(link)
  if not dto then return nil, fmt("in_memory graph: %s: %s", where, verr.message) end
  local b = bank(self, bank_id)
  local key = link_key(dto)
  local id = b.link_keys[key]
  if not id then
    id = link.id or util.new_id()
    b.link_keys[key] = id
    -- adjacency for the walk (a link's key holds its ends: they never change)
    local a, z = dto.entity_a, dto.entity_b
    if a ~= z then
      local na, nz = b.adj[a], b.adj[z]
      if not na then na = {}; b.adj[a] = na end
      if not nz then nz = {}; b.adj[z] = nz end
      na[z], nz[a] = true, true
    end
  end
  dto.id = id
  dto.created_at = dto.created_at or util.iso(util.now_ms())
  b.links[id] = dto
  return id
end

-- GraphStore.store_links: returns one link id per link, in input order.
function _M:store_links(links, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "EntityLink", links, "links", true)
  if not list then return nil, err end
  local ids = {}
  for i, l in ipairs(list) do ids[i] = put_link(self, l, bank_id, "links[" .. i .. "]") end
  return ids
end

-- GraphStore.store_entity_link: one confirmed link; returns its id.
function _M:store_entity_link(link, bank_id)
  local _, err = gstore.bank_arg(LABEL, bank_id); if err then return nil, err end
  return put_link(self, link, bank_id, "link")
end

-- GraphStore.link_memories_to_entities: records memory ↔ entity edges.
-- An association may carry `text` (an extension) returned in GraphHit.text.
function _M:link_memories_to_entities(assocs, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "MemoryEntityAssociation", assocs, "associations", true)
  if not list then return nil, err end
  local b = bank(self, bank_id)
  for _, a in ipairs(list) do
    local m = b.mem_ent[a.memory_id]
    if not m then m = { entities = {}, text = "" }; b.mem_ent[a.memory_id] = m end
    m.entities[a.entity_id] = true
    if type(a.text) == "string" then m.text = a.text end
    local e = b.ent_mem[a.entity_id]
    if not e then e = {}; b.ent_mem[a.entity_id] = e end
    e[a.memory_id] = true
  end
  return true
end

-- Extension used by the engine's forget: drops the memory ↔ entity edges of
-- memory_ids; returns how many memories had edges.
function _M:unlink_memories(memory_ids, bank_id)
  local b = self.banks[bank_id]
  local n = 0
  if not b or type(memory_ids) ~= "table" then return n end
  for _, mid in ipairs(memory_ids) do
    local m = b.mem_ent[mid]
    if m then
      for eid in pairs(m.entities) do
        local set = b.ent_mem[eid]
        if set then set[mid] = nil end
      end
      b.mem_ent[mid] = nil
      n = n + 1
    end
  end
  return n
end

-- Entity ids adjacent to `id` through any entity link (both directions),
-- sorted.
local function neighbours(b, id)
  local out = {}
  for n in pairs(b.adj[id] or {}) do out[#out + 1] = n end
  sort(out)
  return out
end

-- GraphStore.query_neighbors: memories linked to the seed entities or to
-- entities reachable from them. A memory linked to a seed has depth 1; each
-- entity hop adds 1; depth ≤ max_depth. Score = 1 / depth; best first, ties
-- by memory id.
function _M:query_neighbors(entity_ids, bank_id, max_depth, limit)
  max_depth, limit = max_depth or 2, limit or 20
  local b = self.banks[bank_id]
  if not b or type(entity_ids) ~= "table" or max_depth < 1 or limit < 1 then return {} end
  local dist, frontier = {}, {}
  for _, id in ipairs(entity_ids) do
    if dist[id] == nil then dist[id] = 0; frontier[#frontier + 1] = id end
  end
  local d = 0
  while #frontier > 0 and d + 1 < max_depth do
    d = d + 1
    local nextf = {}
    for _, id in ipairs(frontier) do
      for _, n in ipairs(neighbours(b, id)) do
        if dist[n] == nil then dist[n] = d; nextf[#nextf + 1] = n end
      end
    end
    frontier = nextf
  end
  -- Memories by depth (the shallowest entity reaching them), each depth's
  -- ids sorted (plain string order), until `limit` are found: a speaker's
  -- name can reach most of a bank in two hops, and the first hop often
  -- fills the page already.
  local at = {}
  for eid, ed in pairs(dist) do
    local l = at[ed]
    if not l then l = {}; at[ed] = l end
    l[#l + 1] = eid
  end
  local hits, seen_mem = {}, {}
  for ed = 0, max_depth - 1 do
    if #hits >= limit then break end
    local level = {}
    for _, eid in ipairs(at[ed] or {}) do
      for mid in pairs(b.ent_mem[eid] or {}) do
        if not seen_mem[mid] then seen_mem[mid] = true; level[#level + 1] = mid end
      end
    end
    sort(level)
    for i = 1, min(#level, limit - #hits) do
      hits[#hits + 1] = { memory_id = level[i], score = 1 / (ed + 1), depth = ed + 1 }
    end
  end
  -- Only the returned hits get their text and connected entities.
  for _, h in ipairs(hits) do
    local m = b.mem_ent[h.memory_id]
    local conn = {}
    for eid in pairs(m.entities) do if dist[eid] then conn[#conn + 1] = eid end end
    sort(conn)
    h.text, h.connected_entities = m.text, conn
  end
  return hits
end

-- GraphStore.query_entities: case-insensitive substring match on name and
-- aliases; exact name matches first, then shorter names, then by id.
function _M:query_entities(query, bank_id, limit)
  limit = limit or 10
  local b = self.banks[bank_id]
  if not b or type(query) ~= "string" or query == "" then return {} end
  local q = lower(query)
  local list = {}
  for _, id in ipairs(b.order) do
    local e = b.entities[id]
    if contains(e, q) then list[#list + 1] = e end
  end
  sort(list, function(x, y)
    local ex, ey = lower(x.name) == q, lower(y.name) == q
    if ex ~= ey then return ex end
    if #x.name ~= #y.name then return #x.name < #y.name end
    return x.id < y.id
  end)
  local out = {}
  for i = 1, min(limit, #list) do out[i] = util.deepcopy(list[i]) end
  return out
end

-- GraphStore.find_entity_candidates: entities whose name/alias similarity
-- is ≥ threshold or that contain / are contained in `name`
-- (case-insensitive); similarity descending.
function _M:find_entity_candidates(name, bank_id, threshold, limit)
  threshold, limit = threshold or 0.8, limit or 5
  local b = self.banks[bank_id]
  if not b or type(name) ~= "string" or name == "" then return {} end
  local list = {}
  for i, id in ipairs(b.order) do list[i] = b.entities[id] end
  local out = similarity.candidates(name, list, threshold, limit)
  for i, e in ipairs(out) do out[i] = util.deepcopy(e) end
  return out
end

-- GraphStore.find_entity_candidates_scored(name, bank_id, opts):
-- opts = { name_embedding?, trigram_threshold = 0.3, limit = 10 }.
-- Returns EntityCandidateMatch list, best name similarity first.
function _M:find_entity_candidates_scored(name, bank_id, opts)
  opts = opts or {}
  local b = self.banks[bank_id]
  if not b or type(name) ~= "string" or name == "" then return {} end
  local list = {}
  for i, id in ipairs(b.order) do list[i] = b.entities[id] end
  local out = similarity.scored(name, list, opts.trigram_threshold or 0.3, opts.limit or 10, opts.name_embedding)
  for _, m in ipairs(out) do
    local co = {}
    for _, n in ipairs(neighbours(b, m.entity.id)) do
      if b.entities[n] then co[#co + 1] = b.entities[n].name end
    end
    m.co_occurring_names, m.entity = co, util.deepcopy(m.entity)
  end
  return out
end

-- GraphStore.store_memory_links (optional): memory → memory links,
-- deduplicated on (source, target, link_type); returns ids in input order.
function _M:store_memory_links(links, bank_id)
  return put_each(self, bank_id, "MemoryLink", links, "links", function(b, l)
    local key = l.source_memory_id .. "\0" .. l.target_memory_id .. "\0" .. l.link_type
    local id = b.mem_link_keys[key]
    if not id then
      id = util.new_id()
      b.mem_link_keys[key] = id
      b.seq = b.seq + 1
      l.seq = b.seq
    else
      l.seq = b.mem_links[id].seq
    end
    l.id = id
    l.created_at = l.created_at or util.iso(util.now_ms())
    b.mem_links[id] = l
    return id
  end)
end

-- GraphStore.find_memory_links(seed_ids, bank_id, opts): links whose source
-- or target is a seed; opts = { link_types?, limit = 200 }; insertion order.
function _M:find_memory_links(seed_ids, bank_id, opts)
  opts = opts or {}
  local limit = opts.limit or 200
  local b = self.banks[bank_id]
  if not b or type(seed_ids) ~= "table" then return {} end
  local seeds, kinds = {}, nil
  for _, s in ipairs(seed_ids) do seeds[s] = true end
  if opts.link_types then
    kinds = {}
    for _, k in ipairs(opts.link_types) do kinds[k] = true end
  end
  local list = {}
  for _, l in pairs(b.mem_links) do
    if (seeds[l.source_memory_id] or seeds[l.target_memory_id]) and (not kinds or kinds[l.link_type]) then
      list[#list + 1] = l
    end
  end
  sort(list, function(x, y) return x.seq < y.seq end)
  local out = {}
  for i = 1, min(limit, #list) do
    local c = util.deepcopy(list[i]); c.seq = nil
    out[i] = c
  end
  return out
end

function _M:health()
  return { healthy = true, message = "in_memory graph: ok" }
end

-- Extension used by export_bank: the entities linked to each memory →
-- { memory_id = { {id, name, entity_type, aliases}, ... } } (by entity id).
function _M:get_memory_entities(memory_ids, bank_id)
  local b = self.banks[bank_id]
  local out = {}
  if not b or type(memory_ids) ~= "table" then return out end
  for _, mid in ipairs(memory_ids) do
    local m = b.mem_ent[mid]
    if m then
      local ids = {}
      for eid in pairs(m.entities) do ids[#ids + 1] = eid end
      sort(ids)
      local list = {}
      for _, eid in ipairs(ids) do
        local e = b.entities[eid]
        if e then
          list[#list + 1] = { id = e.id, name = e.name, entity_type = e.entity_type, aliases = util.deepcopy(e.aliases) or {} }
        end
      end
      if #list > 0 then out[mid] = list end
    end
  end
  return out
end

return _M
