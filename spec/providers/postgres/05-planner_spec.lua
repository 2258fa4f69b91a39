-- The postgres store keeps the planner's statistics current after bulk
-- writes, so vector searches use the HNSW index instead of scanning and
-- sorting the whole bank, and keyword plans rest on the bank's real size (PGlite runs no autovacuum; without ANALYZE the
-- planner guesses a few hundred rows per bank). A keyword search ranks a
-- bounded candidate set, reading a rare term's rows through the GIN index.
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

    local function plan(store, sql, params, analyze)
      local res = assert(store.ctx.pool:query((analyze and "EXPLAIN ANALYZE " or "EXPLAIN ") .. sql, params,
        { prepare = false }))
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

    -- The actual rows of the node under the ts_rank_cd sort: how many rows
    -- the statement ranked.
    local function ranked(text)
      local after = text:match("Sort Key: %(ts_rank_cd.-\n(.*)")
      assert(after, text)
      for line in after:gmatch("[^\n]+") do
        if line:find("->", 1, true) then return tonumber(line:match("actual[^)]*rows=(%d+)")) end
      end
    end

    it("ranks a bounded set of keyword candidates, a rare term's through the GIN index", function()
      local store, schema = open({ fulltext_candidates = 50 })
      finally(function() drop(store, schema) end)
      -- 2000 notes about harbour cranes; every 100th also names a lighthouse
      for start = 1, 2000, 500 do
        local items = {}
        for i = start, start + 499 do
          items[#items + 1] = { id = "m" .. i, bank_id = "b", vector = { 1, 0, 0, 0, 0, 0, 0, i },
            text = "note " .. i .. " about harbour cranes" .. (i % 100 == 0 and " near the lighthouse" or "") }
        end
        assert(store:store_vectors(items))
      end
      local kw = require "astrocyte.providers.postgres.keyword"
      local terms = assert(kw.terms(store.ctx.pool, "the lighthouse cranes"))
      assert.same({ "'lighthous'", "'crane'" }, terms)
      local sql, params = kw.bounded(store.S, "id", terms, "b", 10, nil, 50)
      local bounded = plan(store, sql, params, true)
      assert.matches("Bitmap Index Scan on memories_tsv_gin", bounded, 1, true)
      assert.equal(50, ranked(bounded), bounded)
      sql, params = kw.exact(store.S, "id", "the lighthouse cranes", "b", 10)
      local exact = plan(store, sql, params, true)
      assert.equal(2000, ranked(exact), exact)
      -- the same top 10 either way: lighthouse notes hold both terms
      local function ids(hits)
        local out = {}
        for i, h in ipairs(hits) do
          assert.matches("lighthouse", h.text, 1, true)
          out[i] = h.id
        end
        return out
      end
      local got = ids(assert(store:search_fulltext("the lighthouse cranes", "b", 10)))
      store.ctx.conf.fulltext_candidates = 0
      assert.same(ids(assert(store:search_fulltext("the lighthouse cranes", "b", 10))), got)
      assert.equal(10, #got)
      -- only stopwords: nothing, with either statement
      assert.same({}, assert(store:search_fulltext("the of and", "b", 10)))
      store.ctx.conf.fulltext_candidates = 50
      assert.same({}, assert(store:search_fulltext("the of and", "b", 10)))
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
