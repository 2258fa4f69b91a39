-- astrocyte.providers.postgres.migrations: the versioned schema of the
-- postgres provider. Applied when a store opens: the tenant schema is
-- created if missing, the pgvector extension is located (created when
-- absent), and every migration newer than the schema's schema_version runs
-- in its own transaction together with its schema_version row, under an
-- advisory lock, so that concurrent openers and re-runs are harmless
-- (idempotent: applied versions are skipped, statements use IF NOT EXISTS).
-- The vector column gets its dimension and ANN index once the dimension is
-- known (config or first write): ensure_vector_index().
--
-- S and E below are the quoted tenant schema and extension schema.
-- Identifiers are validated before they reach this file; no value is ever
-- formatted into SQL (index parameters are integers checked by common.lua).
local fmt, ipairs, tostring = string.format, ipairs, tostring

local _M = {}

-- Each migration: { version, name, function(S, E) → list of statements }.
local MIGRATIONS = {
  { 1, "memories: vectors, full text, store metadata", function(S, E)
    return {
      fmt([[CREATE TABLE IF NOT EXISTS %s.memories (
        bank_id      text NOT NULL,
        id           text NOT NULL,
        text         text NOT NULL,
        embedding    %s.vector,
        metadata     jsonb,
        tags         jsonb,
        fact_type    text,
        memory_layer text,
        chunk_id     text,
        occurred_at  timestamptz,
        retained_at  timestamptz NOT NULL,
        tsv          tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
        PRIMARY KEY (bank_id, id))]], S, E),
      fmt("CREATE INDEX IF NOT EXISTS memories_tsv_gin ON %s.memories USING gin (tsv)", S),
      fmt("CREATE INDEX IF NOT EXISTS memories_tags_gin ON %s.memories USING gin (tags)", S),
      fmt("CREATE TABLE IF NOT EXISTS %s.store_meta (key text PRIMARY KEY, value text NOT NULL)", S),
    }
  end },
  { 2, "graph: entities, entity links, memory associations, memory links", function(S)
    return {
      fmt([[CREATE TABLE IF NOT EXISTS %s.entities (
        bank_id text NOT NULL, id text NOT NULL, name text NOT NULL, entity_type text NOT NULL,
        aliases jsonb, metadata jsonb, embedding jsonb, mention_count integer NOT NULL DEFAULT 1,
        PRIMARY KEY (bank_id, id))]], S),
      fmt([[CREATE TABLE IF NOT EXISTS %s.entity_links (
        bank_id text NOT NULL, id text NOT NULL, entity_a text NOT NULL, entity_b text NOT NULL,
        link_type text NOT NULL, evidence text NOT NULL DEFAULT '', confidence float8 NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL, metadata jsonb,
        PRIMARY KEY (bank_id, id), UNIQUE (bank_id, entity_a, entity_b, link_type))]], S),
      fmt("CREATE INDEX IF NOT EXISTS entity_links_b ON %s.entity_links (bank_id, entity_b)", S),
      fmt([[CREATE TABLE IF NOT EXISTS %s.memory_entities (
        bank_id text NOT NULL, memory_id text NOT NULL, entity_id text NOT NULL, text text,
        PRIMARY KEY (bank_id, memory_id, entity_id))]], S),
      fmt("CREATE INDEX IF NOT EXISTS memory_entities_entity ON %s.memory_entities (bank_id, entity_id)", S),
      fmt([[CREATE TABLE IF NOT EXISTS %s.memory_links (
        bank_id text NOT NULL, id text NOT NULL, source_memory_id text NOT NULL,
        target_memory_id text NOT NULL, link_type text NOT NULL, evidence text NOT NULL DEFAULT '',
        confidence float8 NOT NULL DEFAULT 1, weight float8 NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL, metadata jsonb, seq bigserial,
        PRIMARY KEY (bank_id, id), UNIQUE (bank_id, source_memory_id, target_memory_id, link_type))]], S),
      fmt("CREATE INDEX IF NOT EXISTS memory_links_target ON %s.memory_links (bank_id, target_memory_id)", S),
    }
  end },
  { 3, "wiki pages with archived revisions", function(S)
    local cols = [[bank_id text NOT NULL, page_id text NOT NULL, kind text NOT NULL, title text NOT NULL,
        content text NOT NULL, scope text NOT NULL, source_ids jsonb NOT NULL, cross_links jsonb NOT NULL,
        revision integer NOT NULL, revised_at timestamptz NOT NULL, tags jsonb, metadata jsonb]]
    return {
      fmt("CREATE TABLE IF NOT EXISTS %s.wiki_pages (%s, PRIMARY KEY (bank_id, page_id))", S, cols),
      fmt("CREATE TABLE IF NOT EXISTS %s.wiki_page_revisions (%s, archived_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (bank_id, page_id, revision))", S, cols),
    }
  end },
  { 4, "mental models with archived revisions", function(S)
    local cols = [[bank_id text NOT NULL, model_id text NOT NULL, title text NOT NULL, content text NOT NULL,
        scope text NOT NULL, source_ids jsonb NOT NULL, revision integer NOT NULL,
        refreshed_at timestamptz NOT NULL, kind text NOT NULL, structured_doc jsonb,
        source_timestamps jsonb, deleted boolean NOT NULL DEFAULT false]]
    return {
      fmt("CREATE TABLE IF NOT EXISTS %s.mental_models (%s, PRIMARY KEY (bank_id, model_id))", S, cols),
      fmt("CREATE TABLE IF NOT EXISTS %s.mental_model_revisions (%s, archived_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (bank_id, model_id, revision))", S, cols),
    }
  end },
  { 5, "source documents and chunks (provenance)", function(S)
    return {
      fmt([[CREATE TABLE IF NOT EXISTS %s.source_documents (
        bank_id text NOT NULL, id text NOT NULL, title text, source_uri text, content_hash text,
        content_type text, metadata jsonb, created_at timestamptz NOT NULL, seq bigserial,
        deleted boolean NOT NULL DEFAULT false, PRIMARY KEY (bank_id, id))]], S),
      fmt("CREATE INDEX IF NOT EXISTS source_documents_hash ON %s.source_documents (bank_id, content_hash) WHERE NOT deleted", S),
      fmt([[CREATE TABLE IF NOT EXISTS %s.source_chunks (
        bank_id text NOT NULL, id text NOT NULL, document_id text NOT NULL, chunk_index integer NOT NULL,
        text text NOT NULL, content_hash text, metadata jsonb, created_at timestamptz NOT NULL,
        deleted boolean NOT NULL DEFAULT false, PRIMARY KEY (bank_id, id))]], S),
      fmt("CREATE INDEX IF NOT EXISTS source_chunks_doc ON %s.source_chunks (bank_id, document_id, chunk_index)", S),
      fmt("CREATE INDEX IF NOT EXISTS source_chunks_hash ON %s.source_chunks (bank_id, content_hash) WHERE NOT deleted", S),
    }
  end },
}
_M.LATEST = #MIGRATIONS

local function quote(name) return '"' .. name:gsub('"', '""') .. '"' end

-- Finds (creating if needed) the schema that holds the vector extension.
local function extension_schema(pool)
  local sql = "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'"
  local res, err = pool:query(sql, nil, { prepare = false })
  if not res then return nil, err end
  if res.rows[1] then return res.rows[1].nspname end
  local ok, cerr = pool:query("CREATE EXTENSION IF NOT EXISTS vector", nil, { prepare = false })
  if not ok then
    return nil, "postgres: the pgvector extension is not installed and cannot be created: " .. tostring(cerr)
  end
  res, err = pool:query(sql, nil, { prepare = false })
  if not res or not res.rows[1] then return nil, err or "postgres: pgvector extension not found after CREATE EXTENSION" end
  return res.rows[1].nspname
end

-- Applies every pending migration for ctx ({pool, S, schema}). Sets
-- ctx.ext_schema. Returns true or nil, err.
function _M.apply(ctx)
  local pool, S = ctx.pool, ctx.S
  local noprep = { prepare = false }
  local ok, err = pool:query(fmt("CREATE SCHEMA IF NOT EXISTS %s", S), nil, noprep)
  if not ok then return nil, fmt("postgres: cannot create schema %s: %s", ctx.schema, tostring(err)) end
  local ext; ext, err = extension_schema(pool)
  if not ext then return nil, err end
  ctx.ext_schema = ext
  local E = quote(ext)
  ok, err = pool:query(fmt([[CREATE TABLE IF NOT EXISTS %s.schema_version (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())]], S), nil, noprep)
  if not ok then return nil, fmt("postgres: cannot create %s.schema_version: %s", ctx.schema, tostring(err)) end
  local res; res, err = pool:query(fmt("SELECT coalesce(max(version), 0) AS v FROM %s.schema_version", S), nil, noprep)
  if not res then return nil, err end
  local current = res.rows[1].v
  if current > _M.LATEST then
    return nil, fmt("postgres: schema %s is at version %d, newer than this build supports (%d)", ctx.schema, current, _M.LATEST)
  end
  for _, m in ipairs(MIGRATIONS) do
    local version, name, stmts = m[1], m[2], m[3]
    if version > current then
      local applied, merr = pool:tx(function(q)
        local lok, lerr = q("SELECT pg_advisory_xact_lock(hashtext($1))", { "astrocyte:" .. ctx.schema }, false)
        if not lok then return nil, lerr end
        local r, rerr = q(fmt("SELECT 1 AS done FROM %s.schema_version WHERE version = $1", S), { version }, false)
        if not r then return nil, rerr end
        if r.rows[1] then return true end
        for _, sql in ipairs(stmts(S, E)) do
          local sok, serr = q(sql, nil, false)
          if not sok then return nil, serr end
        end
        local iok, ierr = q(fmt("INSERT INTO %s.schema_version (version, name) VALUES ($1, $2)", S), { version, name }, false)
        if not iok then return nil, ierr end
        return true
      end, { idempotent = true })
      if not applied then
        return nil, fmt("postgres: migration %d (%s) failed in schema %s: %s", version, name, ctx.schema, tostring(merr))
      end
    end
  end
  return true
end

-- Gives the embedding column its dimension and creates the configured ANN
-- index (hnsw or ivfflat, cosine), recording the dimension in store_meta.
-- Idempotent. Returns true or nil, err.
function _M.ensure_vector_index(ctx, dims)
  local S, E, c = ctx.S, ctx.E, ctx.conf
  return ctx.pool:tx(function(q)
    local lok, lerr = q("SELECT pg_advisory_xact_lock(hashtext($1))", { "astrocyte:" .. ctx.schema }, false)
    if not lok then return nil, lerr end
    local r, err = q([[SELECT a.atttypmod AS typmod FROM pg_attribute a
      WHERE a.attrelid = to_regclass($1) AND a.attname = 'embedding']], { ctx.schema .. ".memories" }, false)
    if not r then return nil, err end
    local typmod = r.rows[1] and r.rows[1].typmod or -1
    if typmod ~= dims then
      if typmod > 0 then
        return nil, fmt("postgres: schema %s stores %d-dimensional vectors, not %d", ctx.schema, typmod, dims)
      end
      local ok, aerr = q(fmt("ALTER TABLE %s.memories ALTER COLUMN embedding TYPE %s.vector(%d)", S, E, dims), nil, false)
      if not ok then return nil, aerr end
    end
    local idx
    if c.vector_index == "hnsw" then
      idx = fmt("CREATE INDEX IF NOT EXISTS memories_embedding_hnsw ON %s.memories USING hnsw (embedding %s.vector_cosine_ops) WITH (m = %d, ef_construction = %d)",
        S, E, c.hnsw_m, c.hnsw_ef_construction)
    elseif c.vector_index == "ivfflat" then
      idx = fmt("CREATE INDEX IF NOT EXISTS memories_embedding_ivfflat ON %s.memories USING ivfflat (embedding %s.vector_cosine_ops) WITH (lists = %d)",
        S, E, c.ivf_lists)
    end
    if idx then
      local ok, ierr = q(idx, nil, false)
      if not ok then return nil, ierr end
    end
    local ok, merr = q(fmt([[INSERT INTO %s.store_meta (key, value) VALUES ('dimensions', $1)
      ON CONFLICT (key) DO NOTHING]], S), { tostring(dims) }, false)
    if not ok then return nil, merr end
    return true
  end, { idempotent = true })
end

return _M
