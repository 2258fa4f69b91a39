-- The postgres store keeps the planner's statistics current after bulk
-- writes, so vector searches use the HNSW index instead of scanning and
-- sorting the whole bank, and keyword plans rest on the bank's real size (PGlite runs no autovacuum; without ANALYZE the
-- planner guesses a few hundred rows per bank).
local pgs = require "support.pg_server"
local pg = require "astrocyte.providers.postgres"

for _, target in ipairs(pgs.targets()) do
  describe("postgres planner statistics (" .. target.name .. ")", function()
    local dsn

    setup(function()
      local err
      dsn, err = target.start(target)
      assert(dsn, err)
    end)
    teardown(function() target.stop(target) end)

    -- Stores n rows in bank "b" through store_vectors (batches of 500).
    local function fill(store, n)
      for start = 1, n, 500 do
        local items = {}
        for i = start, math.min(n, start + 499) do
          local v = {}
          for j = 1, 8 do v[j] = math.sin(i * j) end
          items[#items + 1] = { id = "m" .. i, bank_id = "b", vector = v, text = "note " .. i .. " about harbour cranes" }
        end
        assert(store:store_vectors(items))
      end
    end

    local function plan(store, sql, params)
      local res = assert(store.ctx.pool:query("EXPLAIN " .. sql, params, { prepare = false }))
      local lines = {}
      for _, r in ipairs(res.rows) do lines[#lines + 1] = r["QUERY PLAN"] end
      return table.concat(lines, "\n")
    end

    local function plans(store)
      local S = store.S
      local vec = plan(store, ("SELECT id FROM %s.memories WHERE bank_id = 'b' AND embedding IS NOT NULL"
        .. " ORDER BY embedding OPERATOR(%s.<=>) '[1,0,0,0,0,0,0,0]'::%s.vector LIMIT 10"):format(S, store.E, store.E))
      return vec
    end

    local function open(extra)
      local conf = { dsn = dsn, pool_size = target.pool_size, schema = pgs.schema("plan"), dimensions = 8 }
      for k, v in pairs(extra or {}) do conf[k] = v end
      return assert(pg.vector_stores(conf)), conf.schema
    end

    local function drop(store, schema)
      store.ctx.pool:query('DROP SCHEMA "' .. schema .. '" CASCADE', nil, { prepare = false })
      store:close()
    end

    it("uses the HNSW index after a bulk load", function()
      local store, schema = open()
      finally(function() drop(store, schema) end)
      fill(store, 2000)
      local vec = plans(store)
      assert.matches("memories_embedding_hnsw", vec, 1, true)
      -- the planner knows the bank's size (what the keyword search's plan
      -- choice between the GIN index and a scan rests on)
      assert.matches("rows=2000", plan(store, ("SELECT id FROM %s.memories WHERE bank_id = 'b'"):format(store.S)), 1, true)
    end)

    it("scans the bank without the statistics (analyze_min_rows = 0)", function()
      local store, schema = open({ analyze_min_rows = 0 })
      finally(function() drop(store, schema) end)
      fill(store, 2000)
      local vec = plans(store)
      assert.is_nil(vec:find("memories_embedding_hnsw", 1, true), vec)
    end)
  end)
end
