-- Conformance of the postgres provider: every store SPI it implements
-- (vector, document, graph, wiki, mental model, source) runs its
-- astrocyte.testing suite against a real PostgreSQL server: PGlite with
-- pgvector started on 127.0.0.1 for this spec (one connection, so
-- pool_size 1), and also the server of ASTRO_PG_DSN when that is set. Each
-- case gets a fresh schema, dropped afterwards.
local pgs = require "support.pg_server"
local testing = require "astrocyte.testing"
local pg = require "astrocyte.providers.postgres"

for _, target in ipairs(pgs.targets()) do
  describe("postgres provider on " .. target.name, function()
    local dsn

    setup(function()
      local err
      dsn, err = target.start(target)
      assert(dsn, err)
    end)
    teardown(function() target.stop(target) end)

    -- Factory for `group`: a store on a new schema; the cleanup drops it.
    local function factory(group, extra)
      return function()
        assert(dsn, "the server did not start (see the setup error above)")
        local conf = { dsn = dsn, pool_size = target.pool_size, schema = pgs.schema("conf") }
        for k, v in pairs(extra or {}) do conf[k] = v end
        local store, err = pg[group](conf)
        if not store then return nil, err end
        return store, function(s)
          s.ctx.pool:query('DROP SCHEMA "' .. conf.schema .. '" CASCADE', nil, { prepare = false })
          s:close()
        end
      end
    end

    testing.vector_store(factory("vector_stores", { dimensions = 8 }), { dims = 8, title = "VectorStore (hnsw, dims configured)" })
    testing.vector_store(factory("vector_stores", { vector_index = "ivfflat" }), { dims = 8, title = "VectorStore (ivfflat, dims inferred)" })
    testing.document_store(factory("document_stores"))
    testing.graph_store(factory("graph_stores"))
    testing.wiki_store(factory("wiki_stores"))
    testing.mental_model_store(factory("mental_model_stores"))
    testing.source_store(factory("source_stores"))
  end)
end
