-- astrocyte.providers.neo4j.traverse: the second half of the neo4j
-- GraphStore (init.lua holds the connection, entities and links):
-- query_neighbors (one Cypher statement with a bounded variable-length
-- :LINK pattern, scored client-side like the sqlite store), the optional
-- memory links, the engine's extensions unlink_memories and
-- get_memory_entities, health and close. Called once by init.lua with the
-- module table; returns the registry's { graph_stores = constructor }.
local shared = require "astrocyte.providers.shared"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local gstore = require "astrocyte.store.graph"
local type, ipairs, pairs, fmt, floor, sort = type, ipairs, pairs, string.format, math.floor, table.sort
local null = shared.null

return function(_M, _, h)
  local q1, bank_arg, dtos, json_text = h.q1, h.bank_arg, h.dtos, h.json_text

  -- Memories mentioning an entity within `hops` :LINK hops of a seed: one
  -- row per (memory, reached entity, seed) with the hop count and how many
  -- entities the memory mentions in all. %d is the validated hop bound.
  local NEIGHBORS = "MATCH (s:Entity {bank_id: $bank_id}) WHERE s.id IN $seeds"
    .. " MATCH (s)-[hops:LINK*0..%d]-(e:Entity {bank_id: $bank_id})"
    .. " WITH s, e, min(size(hops)) AS dist"
    .. " MATCH (m:Memory {bank_id: $bank_id})-[:MENTIONS]->(e)"
    .. " MATCH (m)-[:MENTIONS]->(x:Entity {bank_id: $bank_id})"
    .. " RETURN m.id AS memory_id, m.text AS text, e.id AS entity_id, s.id AS seed, dist, count(x) AS total"

  -- GraphStore.query_neighbors: memories linked to the seed entities or to
  -- entities reachable from them. A memory linked to a seed has depth 1;
  -- each entity hop adds 1; depth ≤ max_depth. With n seeds, k of them
  -- reaching the memory, s of its entities being seeds and t entities linked
  -- to it: score = 1 / (depth + (1 - k/n)/2 + (1 - s/t)/2), in (0, 1] and
  -- above any deeper memory's score. Best first, ties by id.
  function _M:query_neighbors(entity_ids, bank_id, max_depth, limit)
    max_depth, limit = max_depth or 2, limit or 20
    if type(bank_id) ~= "string" or type(entity_ids) ~= "table" or type(max_depth) ~= "number"
       or max_depth < 1 or limit < 1 then
      return {}
    end
    local seeds, seen = {}, {}
    for _, id in ipairs(entity_ids) do
      if type(id) == "string" and not seen[id] then seen[id] = true; seeds[#seeds + 1] = id end
    end
    if #seeds == 0 then return {} end
    local hops = math.min(floor(max_depth), self.depth_cap) - 1
    local rows, err = q1(self, "query_neighbors", fmt(NEIGHBORS, hops), { bank_id = bank_id, seeds = seeds })
    if not rows then return nil, err end
    -- reach[entity] = { dist = min hops from any seed, seeds = {seed = true} }
    local reach, found = {}, {}
    for _, r in ipairs(rows) do
      r.dist, r.total = floor(r.dist), floor(r.total or 0)
      local re = reach[r.entity_id]
      if not re then re = { dist = r.dist, seeds = {} }; reach[r.entity_id] = re end
      if r.dist < re.dist then re.dist = r.dist end
      re.seeds[r.seed] = true
      local hit = found[r.memory_id]
      if not hit then
        hit = { memory_id = r.memory_id, text = r.text or "", entities = {}, total = r.total }
        found[r.memory_id] = hit
      end
      hit.entities[r.entity_id] = true
    end
    local hits = {}
    for _, hit in pairs(found) do
      local depth, direct, ks, ents = nil, 0, {}, {}
      for eid in pairs(hit.entities) do
        local re = reach[eid]
        ents[#ents + 1] = eid
        if not depth or re.dist + 1 < depth then depth = re.dist + 1 end
        if re.dist == 0 then direct = direct + 1 end
        for s in pairs(re.seeds) do ks[s] = true end
      end
      local k = 0
      for _ in pairs(ks) do k = k + 1 end
      local t = (hit.total and hit.total > 0) and hit.total or #ents
      sort(ents)
      hits[#hits + 1] = { memory_id = hit.memory_id, text = hit.text, connected_entities = ents, depth = depth,
                          score = 1 / (depth + (1 - k / #seeds) / 2 + (1 - direct / t) / 2) }
    end
    return gstore.top_hits(hits, limit)
  end

  local STORE_MEMORY_LINKS = "UNWIND $links AS l"
    .. " MERGE (s:Memory {bank_id: $bank_id, id: l.source_memory_id})"
    .. " MERGE (t:Memory {bank_id: $bank_id, id: l.target_memory_id})"
    .. " MERGE (s)-[r:MEMORY_LINK {bank_id: $bank_id, link_type: l.link_type}]->(t)"
    .. " ON CREATE SET r.id = l.id, r.created_at = l.created_at, r.seq = l.seq"
    .. " SET r.evidence = l.evidence, r.confidence = l.confidence, r.weight = l.weight,"
    .. " r.metadata = coalesce(l.metadata, r.metadata)"
    .. " RETURN l.idx AS idx, r.id AS id"

  -- GraphStore.store_memory_links: memory → memory links, deduplicated on
  -- (source, target, link_type); returns ids in input order.
  function _M:store_memory_links(links, bank_id)
    local list, err = dtos(bank_id, "MemoryLink", links, "links")
    if not list then return nil, err end
    if #list == 0 then return {} end
    local ms = util.now_ms()
    local now, rows = util.iso(ms), {}
    for i, l in ipairs(list) do
      rows[i] = { idx = i, id = util.new_id(), source_memory_id = l.source_memory_id, target_memory_id = l.target_memory_id,
                  link_type = l.link_type, evidence = l.evidence or "", confidence = l.confidence or 1.0,
                  weight = l.weight or 1.0, created_at = l.created_at or now, metadata = json_text(l.metadata),
                  seq = ms * 1000 + i }
    end
    local res; res, err = q1(self, "store_memory_links", STORE_MEMORY_LINKS, { links = rows, bank_id = bank_id })
    if not res then return nil, err end
    local ids = {}
    for _, r in ipairs(res) do ids[r.idx] = r.id end
    return ids
  end

  -- GraphStore.find_memory_links(seed_ids, bank_id, opts): links whose
  -- source or target is a seed; opts = { link_types?, limit = 200 };
  -- insertion order.
  function _M:find_memory_links(seed_ids, bank_id, opts)
    local limit, kinds = gstore.link_query(seed_ids, bank_id, opts)
    if not limit then return {} end
    local rows, err = q1(self, "find_memory_links",
      "MATCH (s:Memory {bank_id: $bank_id})-[r:MEMORY_LINK]->(t:Memory {bank_id: $bank_id})"
      .. " WHERE (s.id IN $ids OR t.id IN $ids) AND ($types IS NULL OR r.link_type IN $types)"
      .. " RETURN r AS link, s.id AS source, t.id AS target ORDER BY r.seq, r.id LIMIT $limit",
      { bank_id = bank_id, ids = seed_ids, types = type(kinds) == "table" and kinds or null, limit = floor(limit) })
    if not rows then return nil, err end
    local out = {}
    for i, r in ipairs(rows) do
      local l = r.link or {}
      local md = type(l.metadata) == "string" and require("cjson.safe").decode(l.metadata) or nil
      out[i] = { id = l.id, source_memory_id = r.source, target_memory_id = r.target, link_type = l.link_type,
                 evidence = l.evidence or "", confidence = l.confidence or 1.0, weight = l.weight or 1.0,
                 created_at = l.created_at, metadata = type(md) == "table" and h.unnull(md) or nil }
    end
    return out
  end

  -- Extension used by forget: drops the given memories — their :MENTIONS
  -- associations and :MEMORY_LINKs (either end). Returns the number of
  -- associations removed.
  function _M:unlink_memories(memory_ids, bank_id)
    local _, err = bank_arg(bank_id); if err then return nil, err end
    if type(memory_ids) ~= "table" then return nil, errors.validation("neo4j: memory_ids must be an array") end
    if #memory_ids == 0 then return 0 end
    local rows; rows, err = q1(self, "unlink_memories", "MATCH (m:Memory {bank_id: $bank_id}) WHERE m.id IN $ids"
      .. " OPTIONAL MATCH (m)-[r:MENTIONS]->(:Entity)"
      .. " WITH m, count(r) AS n DETACH DELETE m RETURN sum(n) AS removed", { bank_id = bank_id, ids = memory_ids })
    if not rows then return nil, err end
    return rows[1] and floor(rows[1].removed or 0) or 0
  end

  -- Extension used by export_bank: the entities linked to each memory →
  -- { memory_id = { {id, name, entity_type, aliases}, ... } } (by entity id).
  function _M:get_memory_entities(memory_ids, bank_id)
    local out = {}
    if type(bank_id) ~= "string" or type(memory_ids) ~= "table" or #memory_ids == 0 then return out end
    local rows, err = q1(self, "get_memory_entities",
      "MATCH (m:Memory {bank_id: $bank_id})-[:MENTIONS]->(e:Entity {bank_id: $bank_id})"
      .. " WHERE m.id IN $ids AND e.name IS NOT NULL"
      .. " RETURN m.id AS memory_id, e AS entity ORDER BY memory_id, e.id", { bank_id = bank_id, ids = memory_ids })
    if not rows then return nil, err end
    for _, r in ipairs(rows) do
      local e = h.entity_of(r.entity)
      local l = out[r.memory_id]
      if not l then l = {}; out[r.memory_id] = l end
      l[#l + 1] = { id = e.id, name = e.name, entity_type = e.entity_type, aliases = e.aliases }
    end
    return out
  end

  function _M:health()
    return shared.health(function()
      local rows, err = q1(self, "health", "RETURN 1 AS ok", {})
      if not rows then return nil, err end
      if not rows[1] or rows[1].ok ~= 1 then return nil, "neo4j: health: RETURN 1 gave an unexpected result" end
      return true
    end)
  end

  function _M:close()
    if self.http then self.http:close(); self.http = nil end
    return true
  end

  return { graph_stores = _M.new, new = _M.new, module = _M }
end
