-- astrocyte.providers.postgres.graph: GraphStore (spi.md §1.2) on plain
-- tables: entities, entity_links, memory_entities and memory_links, each
-- keyed by bank_id first. query_neighbors is one recursive CTE over entity
-- links (both directions) bounded by max_depth. Name search is a
-- case-insensitive substring match (strpos, so % and _ in a query are plain
-- characters); name similarity is trigram similarity computed as pg_trgm
-- does (words padded with two spaces before and one after, Jaccard of the
-- trigram sets), in Lua so that no extra extension is needed.
local util = require "astrocyte.util"
local types = require "astrocyte.types"
local common = require "astrocyte.providers.postgres.common"
local similarity = require "astrocyte.store.similarity"
local gstore = require "astrocyte.store.graph"
local type, ipairs, fmt = type, ipairs, string.format
local lower, sort = string.lower, table.sort

local _M = common.class("graph", "graph store", "graph_store_config")
local function perr(what, bank, err) return _M._err(_M, what, bank, err) end
local LABEL = "postgres graph"

-- Trigram similarity as pg_trgm computes it, over name and aliases.
_M.similarity = similarity.trigram
local function best_similarity(name, e) return similarity.entity(name, e, similarity.trigram) end

local ENTITY_COLS = "id, name, entity_type, aliases::text AS aliases, metadata::text AS metadata, embedding::text AS embedding, mention_count"

local function entity_of(r)
  return { id = r.id, name = r.name, entity_type = r.entity_type, aliases = common.jdecode(r.aliases),
           metadata = common.jdecode(r.metadata), embedding = common.jdecode(r.embedding),
           mention_count = r.mention_count }
end

-- Runs sql once per parameter row, all in one idempotent transaction;
-- returns the results in order, or nil and an error naming `what` and bank.
local function exec_rows(self, what, bank_id, sql, rows)
  local out, err = common.exec_rows(self.ctx.pool, sql, rows)
  if not out then return nil, perr(what, bank_id, err) end
  return out
end

-- GraphStore.store_entities: upserts (keyed by (bank_id, id)); ids in input order.
function _M:store_entities(entities, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "Entity", entities, "entities")
  if not list then return nil, err end
  local rows, ids = {}, {}
  for i, dto in ipairs(list) do
    rows[i] = { bank_id, dto.id, dto.name, dto.entity_type, common.jlist(dto.aliases), common.jmap(dto.metadata),
                dto.embedding and common.jlist(dto.embedding) or nil, dto.mention_count, n = 8 }
    ids[i] = dto.id
  end
  local sql = fmt([[INSERT INTO %s.entities (bank_id, id, name, entity_type, aliases, metadata, embedding, mention_count)
    VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8)
    ON CONFLICT (bank_id, id) DO UPDATE SET name = excluded.name, entity_type = excluded.entity_type,
      aliases = excluded.aliases, metadata = excluded.metadata, embedding = excluded.embedding,
      mention_count = excluded.mention_count]], self.S)
  local ok; ok, err = exec_rows(self, "store_entities", bank_id, sql, rows)
  if not ok then return nil, err end
  return ids
end

-- Upserts one EntityLink on (bank_id, entity_a, entity_b, link_type) with q;
-- returns its id (the existing one on conflict).
local function put_link(self, q, link, bank_id, where)
  local dto, verr = types.EntityLink(link)
  if not dto then return nil, fmt("postgres graph: %s: %s", where, verr.message) end
  local created = common.time_param(dto.created_at, where .. ".created_at") or util.iso(util.now_ms())
  local res, err = q(fmt([[INSERT INTO %s.entity_links (bank_id, id, entity_a, entity_b, link_type, evidence,
      confidence, created_at, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9::jsonb)
    ON CONFLICT (bank_id, entity_a, entity_b, link_type) DO UPDATE SET evidence = excluded.evidence,
      confidence = excluded.confidence, metadata = excluded.metadata
    RETURNING id]], self.S), { bank_id, link.id or util.new_id(), dto.entity_a, dto.entity_b, dto.link_type,
      dto.evidence, dto.confidence, created, common.jmap(dto.metadata), n = 9 })
  if not res then return nil, err end
  return res.rows[1].id
end

-- GraphStore.store_links: one link id per link, in input order.
function _M:store_links(links, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "EntityLink", links, "links", true)
  if not list then return nil, err end
  local ids; ids, err = self.ctx.pool:tx(function(q)
    local out = {}
    for i, l in ipairs(list) do
      local id, lerr = put_link(self, q, l, bank_id, "links[" .. i .. "]")
      if not id then return nil, lerr end
      out[i] = id
    end
    return out
  end, { idempotent = true })
  if not ids then return nil, perr("store_links", bank_id, err) end
  return ids
end

-- GraphStore.store_entity_link: one confirmed link; returns its id.
function _M:store_entity_link(link, bank_id)
  local _, err = gstore.bank_arg(LABEL, bank_id); if err then return nil, err end
  local id; id, err = self.ctx.pool:tx(function(q) return put_link(self, q, link, bank_id, "link") end, { idempotent = true })
  if not id then return nil, perr("store_entity_link", bank_id, err) end
  return id
end

-- GraphStore.link_memories_to_entities: memory ↔ entity edges; an
-- association may carry `text` (an extension) returned in GraphHit.text.
function _M:link_memories_to_entities(assocs, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "MemoryEntityAssociation", assocs, "associations", true)
  if not list then return nil, err end
  local sql = fmt([[INSERT INTO %s.memory_entities (bank_id, memory_id, entity_id, text) VALUES ($1, $2, $3, $4)
    ON CONFLICT (bank_id, memory_id, entity_id) DO UPDATE SET text = coalesce(excluded.text, memory_entities.text)]], self.S)
  local rows = {}
  for i, a in ipairs(list) do rows[i] = { bank_id, a.memory_id, a.entity_id, type(a.text) == "string" and a.text or nil, n = 4 } end
  local ok; ok, err = exec_rows(self, "link_memories_to_entities", bank_id, sql, rows)
  if not ok then return nil, err end
  return true
end

-- GraphStore.query_neighbors: memories linked to the seeds or to entities
-- within max_depth - 1 link hops; depth = hops + 1, score = 1 / depth;
-- nearest first, ties by memory id.
function _M:query_neighbors(entity_ids, bank_id, max_depth, limit)
  max_depth, limit = max_depth or 2, limit or 20
  if type(entity_ids) ~= "table" or #entity_ids == 0 or max_depth < 1 or limit < 1 then return {} end
  local S = self.S
  local res, err = self.ctx.pool:query(fmt([[WITH RECURSIVE walk(entity_id, d) AS (
      SELECT s.e, 0 FROM jsonb_array_elements_text($2::jsonb) AS s(e)
      UNION
      SELECT CASE WHEN l.entity_a = w.entity_id THEN l.entity_b ELSE l.entity_a END, w.d + 1
      FROM walk w JOIN %s.entity_links l
        ON l.bank_id = $1 AND (l.entity_a = w.entity_id OR l.entity_b = w.entity_id)
      WHERE w.d + 1 < $3),
    best AS (SELECT entity_id, min(d) AS d FROM walk GROUP BY entity_id)
    SELECT me.memory_id, coalesce(max(me.text), '') AS text, (min(b.d) + 1)::int4 AS depth,
      array_to_json(array_agg(DISTINCT me.entity_id ORDER BY me.entity_id))::text AS ents
    FROM best b JOIN %s.memory_entities me ON me.bank_id = $1 AND me.entity_id = b.entity_id
    GROUP BY me.memory_id ORDER BY depth, me.memory_id LIMIT $4]], S, S),
    { bank_id, common.jlist(entity_ids), math.floor(max_depth), math.floor(limit) })
  if not res then return nil, perr("query_neighbors", bank_id, err) end
  local out = {}
  for i, r in ipairs(res.rows) do
    out[i] = { memory_id = r.memory_id, text = r.text, depth = r.depth, score = 1 / r.depth,
               connected_entities = common.jdecode(r.ents) }
  end
  return out
end

-- GraphStore.query_entities: substring match on name and aliases; exact
-- names first, then shorter names, then by id.
function _M:query_entities(query, bank_id, limit)
  limit = limit or 10
  if type(query) ~= "string" or query == "" then return {} end
  local res, err = self.ctx.pool:query(fmt([[SELECT %s FROM %s.entities
    WHERE bank_id = $1 AND (strpos(lower(name), lower($2)) > 0 OR EXISTS (
      SELECT 1 FROM jsonb_array_elements_text(coalesce(aliases, '[]'::jsonb)) a(v) WHERE strpos(lower(a.v), lower($2)) > 0))
    ORDER BY (lower(name) = lower($2)) DESC, length(name), id LIMIT $3]], ENTITY_COLS, self.S),
    { bank_id, query, math.floor(limit) })
  if not res then return nil, perr("query_entities", bank_id, err) end
  local out = {}
  for i, r in ipairs(res.rows) do out[i] = entity_of(r) end
  return out
end

-- Every entity of a bank with its co-occurring (linked) entity names.
function _M:_entities(bank_id)
  local res, err = self.ctx.pool:query(fmt("SELECT %s FROM %s.entities WHERE bank_id = $1 ORDER BY id", ENTITY_COLS, self.S), { bank_id })
  if not res then return nil, perr("reading entities", bank_id, err) end
  local list = {}
  for i, r in ipairs(res.rows) do list[i] = entity_of(r) end
  return list
end

-- GraphStore.find_entity_candidates: similarity ≥ threshold, or one name
-- containing the other (case-insensitive); most similar first.
function _M:find_entity_candidates(name, bank_id, threshold, limit)
  threshold, limit = threshold or 0.8, limit or 5
  if type(name) ~= "string" or name == "" then return {} end
  local list, err = self:_entities(bank_id)
  if not list then return nil, err end
  local q = lower(name)
  local scored = {}
  for _, e in ipairs(list) do
    local s = best_similarity(name, e)
    local ln = lower(e.name)
    if s >= threshold or ln:find(q, 1, true) or q:find(ln, 1, true) then scored[#scored + 1] = { e = e, s = s } end
  end
  sort(scored, function(x, y) if x.s ~= y.s then return x.s > y.s end return x.e.id < y.e.id end)
  local out = {}
  for i = 1, math.min(limit, #scored) do out[i] = scored[i].e end
  return out
end

-- GraphStore.find_entity_candidates_scored(name, bank_id, opts): opts =
-- {name_embedding?, trigram_threshold = 0.3, limit = 10}; best first.
function _M:find_entity_candidates_scored(name, bank_id, opts)
  opts = opts or {}
  local threshold, limit = opts.trigram_threshold or 0.3, opts.limit or 10
  if type(name) ~= "string" or name == "" then return {} end
  local list, err = self:_entities(bank_id)
  if not list then return nil, err end
  local out = similarity.scored(name, list, threshold, limit, opts.name_embedding, similarity.trigram)
  for _, m in ipairs(out) do m.co_occurring_names = {} end
  if #out > 0 then
    local ids = {}
    for i, m in ipairs(out) do ids[i] = m.entity.id end
    local res, cerr = self.ctx.pool:query(fmt([[SELECT l.entity_a AS a, l.entity_b AS b, e.name
      FROM %s.entity_links l JOIN %s.entities e ON e.bank_id = $1
        AND e.id = CASE WHEN l.entity_a = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb))) THEN l.entity_b ELSE l.entity_a END
      WHERE l.bank_id = $1 AND (l.entity_a = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))
        OR l.entity_b = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))) ORDER BY e.name]], self.S, self.S),
      { bank_id, common.jlist(ids) })
    if not res then return nil, perr("find_entity_candidates_scored", bank_id, cerr) end
    for _, m in ipairs(out) do
      for _, r in ipairs(res.rows) do
        if r.a == m.entity.id or r.b == m.entity.id then m.co_occurring_names[#m.co_occurring_names + 1] = r.name end
      end
    end
  end
  return out
end

-- GraphStore.store_memory_links (optional): deduplicated on (source,
-- target, link_type); ids in input order.
function _M:store_memory_links(links, bank_id)
  local list, err = gstore.dtos(LABEL, bank_id, "MemoryLink", links, "links")
  if not list then return nil, err end
  local rows = {}
  for i, dto in ipairs(list) do
    rows[i] = { bank_id, util.new_id(), dto.source_memory_id, dto.target_memory_id, dto.link_type, dto.evidence,
                dto.confidence, dto.weight, common.time_param(dto.created_at, "created_at") or util.iso(util.now_ms()),
                common.jmap(dto.metadata), n = 10 }
  end
  local sql = fmt([[INSERT INTO %s.memory_links (bank_id, id, source_memory_id, target_memory_id, link_type,
      evidence, confidence, weight, created_at, metadata)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::jsonb)
    ON CONFLICT (bank_id, source_memory_id, target_memory_id, link_type) DO UPDATE SET evidence = excluded.evidence,
      confidence = excluded.confidence, weight = excluded.weight, metadata = excluded.metadata
    RETURNING id]], self.S)
  local res; res, err = exec_rows(self, "store_memory_links", bank_id, sql, rows)
  if not res then return nil, err end
  local ids = {}
  for i, x in ipairs(res) do ids[i] = x.rows[1].id end
  return ids
end

-- GraphStore.find_memory_links(seed_ids, bank_id, opts): links with a seed
-- as source or target; opts = {link_types?, limit = 200}; insertion order.
function _M:find_memory_links(seed_ids, bank_id, opts)
  opts = opts or {}
  if type(seed_ids) ~= "table" or #seed_ids == 0 then return {} end
  local p = common.params(bank_id, common.jlist(seed_ids))
  local kinds = ""
  if opts.link_types then
    kinds = fmt(" AND link_type = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))", p:add(common.jlist(opts.link_types)))
  end
  local res, err = self.ctx.pool:query(fmt([[SELECT id, source_memory_id, target_memory_id, link_type, evidence,
      confidence, weight, %s, metadata::text AS metadata FROM %s.memory_links
    WHERE bank_id = $1 AND (source_memory_id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))
      OR target_memory_id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb))))%s
    ORDER BY seq LIMIT %s]], common.ms("created_at"), self.S, kinds, p:add(math.floor(opts.limit or 200))), p)
  if not res then return nil, perr("find_memory_links", bank_id, err) end
  local out = {}
  for i, r in ipairs(res.rows) do
    out[i] = { id = r.id, source_memory_id = r.source_memory_id, target_memory_id = r.target_memory_id,
               link_type = r.link_type, evidence = r.evidence, confidence = r.confidence, weight = r.weight,
               created_at = common.iso(r.created_at), metadata = common.jdecode(r.metadata) }
  end
  return out
end

return _M
