-- astrocyte.providers.postgres.vector: VectorStore + DocumentStore on one
-- table (memories), as the reference's PostgresStore does. Vectors are
-- pgvector columns searched by cosine distance (HNSW / IVFFlat index, or a
-- scan), documents are ranked by ts_rank_cd over a generated tsvector with a
-- GIN index (keyword.lua). Every statement names bank_id in its WHERE clause
-- (list_banks, an engine extension that lists banks, is the one exception by
-- design) and takes every value as a parameter.
--
-- Scores: VectorHit.score = 1 - cosine distance clamped to [0,1] (= the
-- cosine similarity, negatives as 0), the same as the embedded store;
-- DocumentHit.score = ts_rank_cd (unbounded, higher is better).
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local common = require "astrocyte.providers.postgres.common"
local vector = require "astrocyte.store.vector"
local migrations = require "astrocyte.providers.postgres.migrations"
local keyword = require "astrocyte.providers.postgres.keyword"
local type, ipairs, fmt, tostring, concat = type, ipairs, string.format, tostring, table.concat

local _M = { SPI_VERSION = 1, name = "postgres" }
local mt = { __index = _M }

local pq -- loaded with the first store (astrocyte.pq)

-- new(conf, key_path) → store | nil, err.
function _M.new(conf, key_path)
  pq = pq or require "astrocyte.pq"
  local ctx, err = common.open(conf, key_path or "vector_store_config")
  if not ctx then return nil, err end
  local self = setmetatable({ ctx = ctx, S = ctx.S, E = ctx.E, dims = ctx.conf.dimensions }, mt)
  local res; res, err = ctx.pool:query(fmt("SELECT value FROM %s.store_meta WHERE key = 'dimensions'", ctx.S), nil)
  if not res then common.close(ctx); return nil, err end
  local stored = res.rows[1] and tonumber(res.rows[1].value)
  if stored and self.dims and stored ~= self.dims then
    common.close(ctx)
    return nil, fmt("%s.dimensions is %d but schema %s already stores %d-dimensional vectors",
      ctx.conf.key_path, self.dims, ctx.schema, stored)
  end
  self.dims = self.dims or stored
  if self.dims and not stored then
    local ok, ierr = migrations.ensure_vector_index(ctx, self.dims)
    if not ok then common.close(ctx); return nil, ierr end
  end
  self.indexed = self.dims ~= nil
  return self
end

local function perr(what, bank, err)
  if bank then return fmt("postgres: %s for bank '%s' failed: %s", what, tostring(bank), tostring(err)) end
  return fmt("postgres: %s failed: %s", what, tostring(err))
end

-- Converts a vector (numbers or packed float32) into pgvector text after
-- checking the dimension; returns text, dims or nil, err.
function _M:vector_text(v, where)
  local packed, d = vector.pack(v, self.dims, where, true)
  if not packed then return nil, d end
  return pq.vector_literal(packed), d
end

-- Validates one VectorItem / Document into the parameter row of UPSERT.
local function row_of(self, it, bank_id, where, need_vector, now)
  if type(it) ~= "table" then return nil, where .. " must be a table" end
  if type(it.id) ~= "string" or it.id == "" then return nil, where .. ".id must be a non-empty string" end
  if type(bank_id) ~= "string" or bank_id == "" then return nil, where .. ".bank_id must be a non-empty string" end
  if type(it.text) ~= "string" or it.text == "" then return nil, where .. ".text must be a non-empty string" end
  local vec, d, err
  if need_vector or it.vector ~= nil then
    vec, d = self:vector_text(it.vector, where .. ".vector")
    if not vec then return nil, d end
  end
  if it.metadata ~= nil and type(it.metadata) ~= "table" then return nil, where .. ".metadata must be a map" end
  if it.tags ~= nil and type(it.tags) ~= "table" then return nil, where .. ".tags must be an array of strings" end
  local occ, ret
  occ, err = common.time_param(it.occurred_at, where .. ".occurred_at"); if err then return nil, err end
  ret, err = common.time_param(it.retained_at, where .. ".retained_at"); if err then return nil, err end
  return { bank_id, it.id, it.text, vec, common.jmap(it.metadata),
           it.tags and #it.tags > 0 and common.jlist(it.tags) or nil,
           it.fact_type, it.memory_layer, it.chunk_id, occ, ret or now, n = 11 }, d
end

function _M:_upsert_sql(keep_vector)
  return fmt([[INSERT INTO %s.memories AS m (bank_id, id, text, embedding, metadata, tags, fact_type,
      memory_layer, chunk_id, occurred_at, retained_at)
    VALUES ($1, $2, $3, $4::%s.vector, $5::jsonb, $6::jsonb, $7, $8, $9, $10::timestamptz, $11::timestamptz)
    ON CONFLICT (bank_id, id) DO UPDATE SET text = excluded.text, %s metadata = excluded.metadata,
      tags = excluded.tags, %s memory_layer = excluded.memory_layer, chunk_id = excluded.chunk_id,
      %s]], self.S, self.E,
    keep_vector and "" or "embedding = excluded.embedding,",
    keep_vector and "fact_type = coalesce(excluded.fact_type, m.fact_type), occurred_at = coalesce(excluded.occurred_at, m.occurred_at),"
      or "fact_type = excluded.fact_type, occurred_at = excluded.occurred_at,",
    keep_vector and "retained_at = m.retained_at" or "retained_at = excluded.retained_at")
end

-- Writes rows in one transaction. Upserts keyed by (bank_id, id) carrying
-- the whole row are idempotent, so a retry after a lost connection is safe.
function _M:_write(rows, keep_vector, what, bank)
  local sql = self:_upsert_sql(keep_vector)
  local ok, err = common.exec_rows(self.ctx.pool, sql, rows)
  if not ok then return nil, perr(what, bank, err) end
  return true
end

-- Keeps the planner's row statistics current. Until the planner knows how
-- many rows a bank has it guesses a few hundred and scans the bank, sorting
-- every row by distance, instead of using the HNSW index (or the GIN index
-- on tsv): 1.5 s per recall at 100k memories on PGlite. Autovacuum analyzes
-- on a server that runs it (PGlite runs none), so after every 10% growth —
-- at least analyze_min_rows (default 1000; 0 = never) — the store runs
-- ANALYZE itself (a sampled read), and merges the GIN index's pending list
-- (new rows' entries wait there, fastupdate; only autovacuum's analyze
-- merges it, and while it holds them every keyword search reads all of it and
-- the planner, counting it, scans the bank even for a rare term). Best
-- effort: a failure keeps old plans.
function _M:_note_written(n)
  local ctx = self.ctx
  local min_rows = ctx.conf.analyze_min_rows
  if min_rows == 0 then return end
  local st = ctx.entry.state
  st.unanalyzed = (st.unanalyzed or 0) + n
  if st.unanalyzed < math.max(min_rows, 0.1 * (st.analyzed_rows or 0)) then return end
  st.unanalyzed = 0
  local table_name = self.S .. ".memories"
  if not ctx.pool:query("ANALYZE " .. table_name, nil, { prepare = false }) then return end
  ctx.pool:query("SELECT gin_clean_pending_list(to_regclass($1))", { self.S .. ".memories_tsv_gin" })
  local res = ctx.pool:query("SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1)", { table_name })
  st.analyzed_rows = res and res.rows[1] and tonumber(res.rows[1].n) or st.analyzed_rows
end

-- VectorStore.store_vectors: upserts items in one transaction; returns ids
-- in input order. Everything is validated before anything is written.
function _M:store_vectors(items)
  if type(items) ~= "table" then return nil, "postgres: items must be an array" end
  if #items == 0 then return {} end
  local now = util.iso(util.now_ms())
  local rows, ids = {}, {}
  for i, it in ipairs(items) do
    local row, d = row_of(self, it, type(it) == "table" and it.bank_id or nil, fmt("items[%d]", i), true, now)
    if not row then return nil, "postgres: " .. d end
    if not self.dims then self.dims = d end
    rows[i], ids[i] = row, it.id
  end
  if not self.indexed then
    local ok, err = migrations.ensure_vector_index(self.ctx, self.dims)
    if not ok then self.dims = nil; return nil, perr("creating the vector index", nil, err) end
    self.indexed = true
  end
  local ok, err = self:_write(rows, false, "store_vectors", items[1].bank_id)
  if not ok then return nil, err end
  self:_note_written(#rows)
  return ids
end

local SELECT_COLS = "id, bank_id, text, metadata::text AS metadata, tags::text AS tags, fact_type, memory_layer, chunk_id, "
  .. common.ms("occurred_at") .. ", " .. common.ms("retained_at")

local function hit_of(r, score)
  return {
    id = r.id, text = r.text, score = score, metadata = common.jdecode(r.metadata),
    tags = common.jdecode(r.tags), fact_type = r.fact_type, occurred_at = common.iso(r.occurred_at),
    memory_layer = r.memory_layer, retained_at = common.iso(r.retained_at), chunk_id = r.chunk_id,
    bank_id = r.bank_id,
  }
end

local function check_limit(limit)
  limit = limit or 10
  if type(limit) ~= "number" or limit < 0 then return nil, "postgres: limit must be a non-negative number" end
  return math.floor(limit)
end

-- VectorStore.search_similar: top `limit` by cosine, honouring filters.
function _M:search_similar(query_vector, bank_id, limit, filters)
  local lim, lerr = check_limit(limit); if not lim then return nil, lerr end
  local qv, err = self:vector_text(query_vector, "query_vector")
  if not qv then return nil, "postgres: " .. err end
  if not self.dims or lim == 0 then return {} end
  local p = common.params(qv, bank_id)
  local where = { "bank_id = $2", "embedding IS NOT NULL" }
  local ok, ferr = common.filters(filters, p, where)
  if not ok then return nil, "postgres: " .. ferr end
  local sql = fmt("SELECT %s, embedding OPERATOR(%s.<=>) $1::%s.vector AS dist FROM %s.memories WHERE %s ORDER BY dist LIMIT %s",
    SELECT_COLS, self.E, self.E, self.S, concat(where, " AND "), p:add(lim))
  local res; res, err = self.ctx.pool:query(sql, p)
  if not res then return nil, perr("search_similar", bank_id, err) end
  local hits = {}
  for i, r in ipairs(res.rows) do
    local s = 1 - (r.dist or 1)
    if s < 0 then s = 0 elseif s > 1 then s = 1 end
    hits[i] = hit_of(r, s)
  end
  return hits
end

-- VectorStore.delete: removes ids of this bank only; returns the count.
function _M:delete(ids, bank_id)
  if type(ids) ~= "table" then return nil, "postgres: ids must be an array" end
  if #ids == 0 then return 0 end
  for i, id in ipairs(ids) do
    if type(id) ~= "string" then return nil, fmt("postgres: ids[%d] must be a string", i) end
  end
  local res, err = self.ctx.pool:query(fmt([[DELETE FROM %s.memories WHERE bank_id = $1
    AND id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))]], self.S), { bank_id, common.jlist(ids) })
  if not res then return nil, perr("delete", bank_id, err) end
  return res.cmd_tuples
end

-- VectorStore.list_vectors: stable order by id; offset past end → {}.
function _M:list_vectors(bank_id, offset, limit)
  offset, limit = offset or 0, limit or 100
  local res, err = self.ctx.pool:query(fmt([[SELECT %s, embedding::text AS embedding FROM %s.memories
    WHERE bank_id = $1 AND embedding IS NOT NULL ORDER BY id LIMIT $2 OFFSET $3]], SELECT_COLS, self.S),
    { bank_id, math.floor(limit), math.floor(offset) })
  if not res then return nil, perr("list_vectors", bank_id, err) end
  local out = {}
  for i, r in ipairs(res.rows) do
    local it = hit_of(r, nil)
    it.score = nil
    local packed = pq.parse_vector(r.embedding)
    it.vector = packed and core.vec_unpack(packed) or nil
    out[i] = it
  end
  return out
end

-- DocumentStore.store_document: a row without vector, or an update of the
-- text/metadata/tags of an existing row whose vector is kept.
function _M:store_document(doc, bank_id)
  local row, err = row_of(self, doc, bank_id, "document", false, util.iso(util.now_ms()))
  if not row then return nil, "postgres: " .. err end
  local ok; ok, err = self:_write({ row }, true, "store_document", bank_id)
  if not ok then return nil, err end
  return doc.id
end

-- DocumentStore.search_fulltext: ts_rank_cd over any query term (OR of the
-- stemmed terms), best first, ranking at most fulltext_candidates rows
-- (keyword.lua); filters as search_similar's.
function _M:search_fulltext(query, bank_id, limit, filters)
  if type(query) ~= "string" then return nil, "postgres: query must be a string" end
  local lim, lerr = check_limit(limit); if not lim then return nil, lerr end
  if lim == 0 then return {} end
  local res, err, what = keyword.search(self.ctx, SELECT_COLS, query, bank_id, lim, filters)
  if not res then return nil, what == "filters" and "postgres: " .. err or perr("search_fulltext", bank_id, err) end
  local hits = {}
  for i, r in ipairs(res.rows) do
    local h = hit_of(r, r.rank or 0)
    h.document_id = h.id
    hits[i] = h
  end
  return hits
end

-- DocumentStore.get_document: the document in this bank, or nil.
function _M:get_document(document_id, bank_id)
  local res, err = self.ctx.pool:query(fmt([[SELECT id, text, metadata::text AS metadata, tags::text AS tags
    FROM %s.memories WHERE bank_id = $1 AND id = $2]], self.S), { bank_id, document_id })
  if not res then return nil, perr("get_document", bank_id, err) end
  local r = res.rows[1]
  if not r then return nil end
  return { id = r.id, text = r.text, metadata = common.jdecode(r.metadata), tags = common.jdecode(r.tags) }
end

function _M:health()
  return common.health(self.ctx, "vector store")
end

-- Extension: banks with their memory counts, sorted by bank id (the one
-- statement that spans banks: it lists them).
function _M:list_banks()
  local res, err = self.ctx.pool:query(fmt(
    "SELECT bank_id, count(*)::int8 AS memory_count FROM %s.memories GROUP BY bank_id ORDER BY bank_id", self.S), nil)
  if not res then return nil, perr("list_banks", nil, err) end
  return res.rows
end

-- Extension: ids in a bank matching any of sel.tags and/or stored before
-- sel.before (ms; occurred_at else retained_at); all ids when both are nil.
function _M:find_ids(bank_id, sel)
  sel = sel or {}
  local p = common.params(bank_id)
  local where = { "bank_id = $1" }
  if sel.tags and #sel.tags > 0 then
    where[#where + 1] = fmt("tags ?| ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))", p:add(common.jlist(sel.tags)))
  end
  if sel.before then
    where[#where + 1] = fmt("coalesce(occurred_at, retained_at) < %s::timestamptz", p:add(util.iso(sel.before)))
  end
  local res, err = self.ctx.pool:query(fmt("SELECT id FROM %s.memories WHERE %s ORDER BY id", self.S, concat(where, " AND ")), p)
  if not res then return nil, perr("find_ids", bank_id, err) end
  local out = {}
  for i, r in ipairs(res.rows) do out[i] = r.id end
  return out
end

function _M:close()
  return common.close(self.ctx)
end

return _M
