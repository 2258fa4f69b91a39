-- astrocyte.providers.postgres: the recommended production store, PostgreSQL
-- through libpq (astrocyte.pq). One provider in six groups, as the
-- reference's astrocyte-postgres: vector_stores and document_stores (one
-- class on the memories table: pgvector + tsvector/GIN), graph_stores,
-- wiki_stores, mental_model_stores and source_stores (plain tables). Stores
-- of one process that name the same server and schema share one connection
-- pool; the schema is migrated when the first of them opens.
--
-- Config (any *_config): dsn (URI or key=value) or host/port/user/password/
-- dbname; schema (per-tenant schema, ^[a-z_][a-z0-9_]{0,62}$, created if
-- missing; default public); pool_size (4); dimensions (else inferred on the
-- first write and recorded); vector_index = "hnsw" | "ivfflat" | "none" with
-- vector_index_params {m, ef_construction, ef_search | lists, probes};
-- reconnect_attempts (3), reconnect_backoff_ms (50); analyze_min_rows
-- (1000; ANALYZE after that many written rows or 10% growth, 0 = leave it to
-- autovacuum); fulltext_candidates (200; rows a keyword search ranks, rarest
-- query terms first, 0 = every matching row); driver = "auto" (default:
-- inside nginx, in phases with cosockets, the Lua wire-protocol client of
-- wire.lua, so a query never blocks the worker; libpq elsewhere) | "libpq" |
-- "wire" (the Lua client everywhere, over LuaSocket outside nginx). The
-- password never appears in an error message.
--
-- Modules load lazily, so listing providers works without libpq.
local function ctor(mod, key_path)
  return function(conf)
    return require("astrocyte.providers.postgres." .. mod).new(conf, key_path)
  end
end

return {
  vector_stores = ctor("vector", "vector_store_config"),
  document_stores = ctor("vector", "document_store_config"),
  graph_stores = ctor("graph", "graph_store_config"),
  wiki_stores = ctor("wiki", "wiki_store_config"),
  mental_model_stores = ctor("mental_model", "mental_model_store_config"),
  source_stores = ctor("source", "source_store_config"),
}
