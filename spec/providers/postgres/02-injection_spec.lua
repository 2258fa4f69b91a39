-- Injection: bank ids, ids, texts, tags, metadata keys and values, fact
-- types and filters full of quotes, semicolons, comments and SQL go through
-- every store and come back byte for byte, match only themselves, and leave
-- every table in place. A recording driver proves the point directly: no
-- hostile value ever appears in the SQL text sent to the server, so every
-- value travelled as a parameter.
local pgs = require "support.pg_server"
local pq = require "astrocyte.pq"
local pg = require "astrocyte.providers.postgres"

local EVIL = {
  "x'); DROP TABLE memories; --",
  "' OR '1'='1",
  "\"; DELETE FROM memories WHERE ''='",
  "$1; SELECT pg_sleep(10); --",
  "Robert'); DROP SCHEMA public CASCADE;--",
  "\\'; TRUNCATE entities; /* */",
  "E'\\x27' || chr(39) || ';'",
  "%_% LIKE '%'",
}

for _, target in ipairs(pgs.targets()) do
  describe("postgres provider injection safety on " .. target.name, function()
    local dsn, sent, real_connect
    local schema = pgs.schema("inj")

    setup(function()
      local err
      dsn, err = target.start(target)
      assert(dsn, err)
      -- Record the SQL text of every statement the pool sends.
      sent = {}
      real_connect = pq.connect
      pq.connect = function(info)
        local c, cerr = real_connect(info)
        if not c then return nil, cerr end
        local proxy = {}
        function proxy.exec_params(_, sql, params) sent[#sent + 1] = sql; return c:exec_params(sql, params) end
        function proxy.prepare(_, name, sql) sent[#sent + 1] = sql; return c:prepare(name, sql) end
        function proxy.exec_prepared(_, name, params) return c:exec_prepared(name, params) end
        for _, m in ipairs({ "status", "transaction_status", "reset", "close", "server_version" }) do
          proxy[m] = function(_, ...) return c[m](c, ...) end
        end
        return proxy
      end
    end)
    teardown(function()
      pq.connect = real_connect
      target.stop(target)
    end)

    local function conf() return { dsn = dsn, pool_size = target.pool_size, schema = schema, dimensions = 4 } end

    local function assert_no_value_in_sql()
      assert.is_true(#sent > 0)
      for _, sql in ipairs(sent) do
        for _, v in ipairs(EVIL) do
          assert.is_nil(sql:find(v, 1, true), "value found in SQL text: " .. sql)
        end
        assert.is_nil(sql:find("DROP TABLE", 1, true))
      end
    end

    it("vector and document stores keep hostile values as data", function()
      local vs = assert(pg.vector_stores(conf()))
      local items = {}
      for i, v in ipairs(EVIL) do
        items[i] = { id = v, bank_id = v, text = "text " .. v, vector = { 1, i, 0, 0 }, tags = { v, "plain" },
                     fact_type = v, metadata = { [v] = v, session_id = v } }
      end
      assert.same((function() local o = {} for i, v in ipairs(EVIL) do o[i] = v end return o end)(),
                  assert(vs:store_vectors(items)))
      for i, v in ipairs(EVIL) do
        local all = assert(vs:list_vectors(v, 0, 10))
        assert.equal(1, #all)
        assert.equal(v, all[1].id); assert.equal(v, all[1].bank_id); assert.equal("text " .. v, all[1].text)
        assert.same({ v, "plain" }, all[1].tags); assert.equal(v, all[1].fact_type)
        assert.equal(v, all[1].metadata[v])
        -- Each filter with the hostile value matches exactly its own row.
        for _, f in ipairs({ { tags = { v } }, { fact_types = { v } }, { metadata_filters = { [v] = v } }, { session_id = v } }) do
          local hits = assert(vs:search_similar({ 1, i, 0, 0 }, v, 10, f))
          assert.equal(1, #hits)
          assert.equal(v, hits[1].id)
        end
        -- A hostile value that is not stored matches nothing.
        assert.same({}, assert(vs:search_similar({ 1, 0, 0, 0 }, v, 10, { tags = { v .. "'--" } })))
        assert.same({}, assert(vs:search_fulltext(v, "' OR 1=1 --", 10)))
        local hits = assert(vs:search_fulltext("text", v, 10))
        assert.equal(1, #hits)
        assert.same({ v }, assert(vs:find_ids(v, { tags = { v } })))
        assert.same({ id = v, text = "text " .. v, tags = { v, "plain" }, metadata = { [v] = v, session_id = v } },
                    assert(vs:get_document(v, v)))
      end
      assert.equal(#EVIL, #assert(vs:list_banks()))
      assert.equal(0, assert(vs:delete({ "' OR '1'='1' --" }, EVIL[2])))
      assert.equal(1, assert(vs:delete({ EVIL[2] }, EVIL[2])))
      assert.equal(#EVIL - 1, #assert(vs:list_banks()))
      vs:close()
      assert_no_value_in_sql()
    end)

    it("graph, wiki, mental model and source stores keep hostile values as data", function()
      local gs = assert(pg.graph_stores(conf()))
      local ws = assert(pg.wiki_stores(conf()))
      local ms = assert(pg.mental_model_stores(conf()))
      local ss = assert(pg.source_stores(conf()))
      for _, v in ipairs(EVIL) do
        assert.same({ v }, assert(gs:store_entities({ { id = v, name = "N " .. v, entity_type = v, aliases = { v } } }, v)))
        assert(gs:link_memories_to_entities({ { memory_id = v, entity_id = v } }, v))
        assert.equal(v, assert(gs:query_entities(v, v, 5))[1].id)
        assert.equal(v, assert(gs:query_neighbors({ v }, v, 2, 5))[1].memory_id)
        assert.same({}, assert(gs:query_entities("' OR ''='", v, 5)))
        assert.equal(v, assert(ws:upsert_page({ page_id = v, kind = "topic", title = v, content = v, scope = v,
                                                source_ids = { v }, cross_links = { v } }, v)))
        assert.equal(v, assert(ws:list_pages(v, v, "topic"))[1].page_id)
        assert.equal(1, assert(ms:upsert({ model_id = v, title = v, content = v, scope = v, source_ids = { v } }, v)))
        assert.equal(v, assert(ms:list(v, { scope = v }))[1].model_id)
        assert.equal(v, assert(ss:store_document({ id = v, bank_id = v, title = v, content_hash = v })))
        assert.equal(v, assert(ss:find_document_by_hash(v, v)).id)
        assert.same({ v }, assert(ss:store_chunks({ { id = v, bank_id = v, document_id = v, chunk_index = 0, text = v, content_hash = v } })))
      end
      for _, v in ipairs(EVIL) do
        assert.equal(1, #assert(gs:query_entities(v, v, 5)))
        assert.equal(1, #assert(ws:list_pages(v)))
        assert.equal(1, #assert(ms:list(v)))
        assert.equal(1, #assert(ss:list_chunks(v, v)))
      end
      for _, s in ipairs({ gs, ws, ms, ss }) do assert.is_true(s:health().healthy); s:close() end
      assert_no_value_in_sql()
    end)

    it("rejects a schema name that is not a plain identifier, naming the key", function()
      local st, err = pg.vector_stores({ dsn = dsn, schema = 'x"; DROP SCHEMA public; --' })
      assert.is_nil(st)
      assert.matches("vector_store_config.schema must match", err, 1, true)
    end)
  end)
end
