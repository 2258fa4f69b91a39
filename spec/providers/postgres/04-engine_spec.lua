-- The engine end to end on postgres: astrocyte.open with vector_store =
-- "postgres" (the store is reused as the document store since it has
-- search_fulltext), then retain, recall with bank isolation and filters,
-- banks(), forget by ids, by tags and everything, and reopen.
local pgs = require "support.pg_server"
local astrocyte = require "astrocyte"

for _, target in ipairs(pgs.targets()) do
  describe("engine on postgres (" .. target.name .. ")", function()
    local dsn
    local schema = pgs.schema("eng")

    setup(function()
      local err
      dsn, err = target.start(target)
      assert(dsn, err)
    end)
    teardown(function() target.stop(target) end)

    local function open()
      return assert(astrocyte.open({ vector_store = "postgres",
        vector_store_config = { dsn = dsn, pool_size = target.pool_size, schema = schema } }))
    end

    it("retains, recalls, lists banks and forgets", function()
      local eng = open()
      assert.equal(eng.vector_store, eng.document_store)
      local ids = {}
      for i = 1, 30 do
        local bank = i % 2 == 0 and "even" or "odd"
        local r = assert(eng:retain(("note %d about topic%d: the pgvector index keeps item-%d"):format(i, i % 5, i),
                                    { bank_id = bank, tags = { "t" .. (i % 3) } }))
        assert.is_true(r.stored)
        ids[i] = r.memory_id
      end
      local res = assert(eng:recall("item-7 topic2", { bank_id = "odd", max_results = 5 }))
      assert.equal("note 7 about topic2: the pgvector index keeps item-7", res.hits[1].text)
      for _, h in ipairs(res.hits) do
        assert.equal("odd", h.bank_id)
        assert.is_true(h.score >= 0 and h.score <= 1)
      end
      local tagged = assert(eng:recall("note", { bank_id = "even", tags = { "t0" }, max_results = 50 }))
      for _, h in ipairs(tagged.hits) do assert.same({ "t0" }, h.tags) end

      local counts = {}
      for _, b in ipairs(assert(eng:banks())) do counts[b.bank_id] = b.memory_count end
      assert.same({ even = 15, odd = 15 }, counts)

      assert.equal(1, assert(eng:forget({ bank_id = "odd", memory_ids = { ids[7], ids[8] } })).deleted_count)
      res = assert(eng:recall("item-7 topic2", { bank_id = "odd", max_results = 5 }))
      for _, h in ipairs(res.hits) do assert.not_equal(ids[7], h.memory_id) end
      assert.equal(5, assert(eng:forget({ bank_id = "even", tags = { "t1" } })).deleted_count)
      eng:close()

      eng = open()
      counts = {}
      for _, b in ipairs(assert(eng:banks())) do counts[b.bank_id] = b.memory_count end
      assert.same({ even = 10, odd = 14 }, counts)
      assert.equal(14, assert(eng:forget({ bank_id = "odd", scope = "all" })).deleted_count)
      assert.is_true(eng:health().healthy)
      eng:close()
    end)

    it("returns a StorageError naming the bank when the server is unreachable", function()
      local eng = assert(astrocyte.open({ vector_store = "postgres",
        vector_store_config = { dsn = dsn, pool_size = target.pool_size, schema = schema } }))
      -- Break the pool's connection string so every reconnect fails.
      local pool = eng.vector_store.ctx.pool
      pool.conninfo, pool.retries, pool.backoff_ms = "host=127.0.0.1 port=1 connect_timeout=2", 0, 1
      for _, s in ipairs(pool.slots) do if s.conn then s.conn:close() end end
      local r, err = eng:retain("unreachable", { bank_id = "odd" })
      assert.is_nil(r)
      assert.equal("StorageError", err.kind, err.message)
      assert.equal("odd", err.bank_id)
      eng:close()
    end)
  end)
end
