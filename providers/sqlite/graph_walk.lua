-- astrocyte.providers.sqlite.graph_walk: the traversal half of the sqlite
-- GraphStore (providers/sqlite/graph.lua installs these as its methods):
-- expand() reads entity-link neighbours into a per-call cache,
-- query_neighbors() walks ≤ max_depth hops from the seed entities and
-- scores the memories it reaches, has_memories() tells whether the file
-- holds the vector store's `memories` table (for hit texts).
local DB = require "astrocyte.providers.sqlite.graph_db"
local gstore = require "astrocyte.store.graph"
local type, pairs, ipairs = type, pairs, ipairs
local sort = table.sort
local marks, chunks = DB.marks, DB.chunks

local _M = {}

-- Fills cache[id] = {neighbour ids} (entity links, both directions) for the
-- ids of `frontier` not cached yet.
function _M:expand(bank_id, frontier, cache)
  local need, set = {}, {}
  for _, id in ipairs(frontier) do
    if not cache[id] then cache[id] = {}; set[id] = {}; need[#need + 1] = id end
  end
  local ok, err = chunks(need, function(slice)
    local m = marks(#slice)
    local args = { bank_id, n = 2 * #slice + 1 }
    for i, id in ipairs(slice) do args[i + 1], args[#slice + i + 1] = id, id end
    local rows, qerr = self:query("SELECT entity_a, entity_b FROM entity_links WHERE bank_id = ? AND (entity_a IN ("
                                  .. m .. ") OR entity_b IN (" .. m .. "))", args)
    if not rows then return nil, qerr end
    for _, r in ipairs(rows) do
      local a, b = r.entity_a, r.entity_b
      if set[a] and not set[a][b] and a ~= b then set[a][b] = true; cache[a][#cache[a] + 1] = b end
      if set[b] and not set[b][a] and a ~= b then set[b][a] = true; cache[b][#cache[b] + 1] = a end
    end
    return true
  end)
  if not ok then return nil, err end
  return true
end

-- True when the file holds the vector store's `memories` table.
function _M:has_memories()
  if self.memories_table then return true end
  local rows = self:q("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = 'memories'")
  self.memories_table = rows ~= nil and rows[1] ~= nil
  return self.memories_table
end

-- GraphStore.query_neighbors: memories linked to the seed entities or to
-- entities reachable from them. A memory linked to a seed has depth 1; each
-- entity hop adds 1; depth ≤ max_depth. With n seeds, k of them reaching
-- the memory, s of them linked to it directly and t entities linked to it in
-- all: score = 1 / (depth + (1 - k/n)/2 + (1 - s/t)/2) — 1/depth when every
-- seed reaches it and it mentions nothing else, always above any deeper
-- memory's score, in (0, 1]. Best first, ties by id.
function _M:query_neighbors(entity_ids, bank_id, max_depth, limit)
  max_depth, limit = max_depth or 2, limit or 20
  if type(bank_id) ~= "string" or type(entity_ids) ~= "table" or max_depth < 1 or limit < 1 then return {} end
  local seeds, seen = {}, {}
  for _, id in ipairs(entity_ids) do
    if type(id) == "string" and not seen[id] then seen[id] = true; seeds[#seeds + 1] = id end
  end
  if #seeds == 0 then return {} end
  return self:tx("query_neighbors", false, function()
    -- reach[eid] = { dist = min hops from any seed, seeds = {seed = true} }
    local reach, cache = {}, {}
    for _, seed in ipairs(seeds) do
      local dist, frontier = { [seed] = 0 }, { seed }
      for d = 1, max_depth - 1 do
        if #frontier == 0 then break end
        local ok, err = self:expand(bank_id, frontier, cache)
        if not ok then return nil, err end
        local nextf = {}
        for _, id in ipairs(frontier) do
          for _, n in ipairs(cache[id]) do
            if dist[n] == nil then dist[n] = d; nextf[#nextf + 1] = n end
          end
        end
        frontier = nextf
      end
      for eid, d in pairs(dist) do
        local r = reach[eid]
        if not r then r = { dist = d, seeds = {} }; reach[eid] = r end
        if d < r.dist then r.dist = d end
        r.seeds[seed] = true
      end
    end
    local eids = {}
    for eid in pairs(reach) do eids[#eids + 1] = eid end
    sort(eids)
    local found = {}
    local ok, err = self:query_in("SELECT memory_id, entity_id, text FROM memory_entities WHERE bank_id = ? AND entity_id", "",
                                  bank_id, eids, function(rows)
      for _, r in ipairs(rows) do
        local re = reach[r.entity_id]
        local h = found[r.memory_id]
        if not h then
          h = { memory_id = r.memory_id, text = r.text, connected_entities = {}, depth = re.dist + 1, seeds = {}, direct = 0 }
          found[r.memory_id] = h
        elseif re.dist + 1 < h.depth then
          h.depth = re.dist + 1
        end
        if h.text == nil then h.text = r.text end
        h.connected_entities[#h.connected_entities + 1] = r.entity_id
        if re.dist == 0 then h.direct = h.direct + 1 end
        for s in pairs(re.seeds) do h.seeds[s] = true end
      end
    end)
    if not ok then return nil, err end
    -- t: how many entities each found memory is linked to in all.
    local mids, total = {}, {}
    for mid in pairs(found) do mids[#mids + 1] = mid end
    ok, err = self:query_in("SELECT memory_id, count(*) AS n FROM memory_entities WHERE bank_id = ? AND memory_id",
                            " GROUP BY memory_id", bank_id, mids, function(rows)
      for _, r in ipairs(rows) do total[r.memory_id] = r.n end
    end)
    if not ok then return nil, err end
    local hits = {}
    for mid, h in pairs(found) do
      local k = 0
      for _ in pairs(h.seeds) do k = k + 1 end
      local t = total[mid] or #h.connected_entities
      h.score = 1 / (h.depth + (1 - k / #seeds) / 2 + (1 - h.direct / t) / 2)
      h.seeds, h.direct = nil, nil
      sort(h.connected_entities)
      hits[#hits + 1] = h
    end
    gstore.top_hits(hits, limit)
    -- Texts of the memories, from the vector store's table in this file.
    if #hits > 0 and self:has_memories() then
      local ids, by = {}, {}
      for i, h in ipairs(hits) do ids[i] = h.memory_id; by[h.memory_id] = h end
      ok, err = self:query_in("SELECT id, text FROM memories WHERE bank_id = ? AND id", "", bank_id, ids, function(rows)
        for _, r in ipairs(rows) do by[r.id].text = r.text end
      end)
      if not ok then return nil, err end
    end
    for _, h in ipairs(hits) do h.text = h.text or "" end
    return hits
  end)
end

return _M
