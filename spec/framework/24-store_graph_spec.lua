describe("astrocyte.store.graph", function()
  local gstore = require "astrocyte.store.graph"

  describe("dtos()", function()
    it("returns validated copies, keeping id and text when asked", function()
      local list = assert(gstore.dtos("g", "b1", "MemoryEntityAssociation",
        { { memory_id = "m1", entity_id = "e1", text = "hi", id = "x" } }, "associations", true))
      assert.equal("m1", list[1].memory_id)
      assert.equal("hi", list[1].text)
      assert.equal("x", list[1].id)
    end)

    it("names the store, the argument and the item", function()
      assert.same({ nil, "g: bank_id must be a non-empty string" }, { gstore.dtos("g", "", "Entity", {}, "entities") })
      assert.same({ nil, "g: entities must be an array" }, { gstore.dtos("g", "b1", "Entity", "x", "entities") })
      local ok, err = gstore.dtos("g", "b1", "EntityLink", { { entity_a = "a" } }, "links")
      assert.is_nil(ok)
      assert.truthy(err:find("^g: links%[1%]: "), err)
    end)
  end)

  describe("link_query()", function()
    it("returns the limit and link types, 200 and nil by default", function()
      assert.same({ 200 }, { gstore.link_query({ "m1" }, "b1") })
      assert.same({ 5, { "causes" } }, { gstore.link_query({ "m1" }, "b1", { limit = 5, link_types = { "causes" } }) })
    end)

    it("returns nil when the answer is empty anyway", function()
      assert.is_nil(gstore.link_query({}, "b1"))
      assert.is_nil(gstore.link_query({ "m1" }, nil))
      assert.is_nil(gstore.link_query({ "m1" }, "b1", { limit = 0 }))
      assert.is_nil(gstore.link_query({ "m1" }, "b1", { link_types = {} }))
    end)
  end)

  describe("the sqlite graph's query_in()", function()
    local graph = require "astrocyte.providers.sqlite.graph"
    local path = os.tmpname()
    local g
    setup(function()
      os.remove(path)
      g = assert(graph.new({ path = path }))
      local ents = {}
      for i = 1, 450 do ents[i] = { id = "e" .. i, name = "n" .. i, entity_type = "thing" } end
      assert(g:store_entities(ents, "b1"))
    end)
    teardown(function()
      if g then g:close() end
      for _, sfx in ipairs({ "", "-wal", "-shm" }) do os.remove(path .. sfx) end
    end)

    it("queries every chunk of ids with the bank bound first", function()
      local ids, calls, seen = {}, 0, 0
      for i = 1, 450 do ids[i] = "e" .. i end
      ids[451] = "missing"
      assert(g:query_in("SELECT id FROM entities WHERE bank_id = ? AND id", " ORDER BY id", "b1", ids, function(rows)
        calls, seen = calls + 1, seen + #rows
      end))
      assert.equal(3, calls)
      assert.equal(450, seen)
      seen = 0
      assert(g:query_in("SELECT id FROM entities WHERE bank_id = ? AND id", "", "other", ids, function(rows)
        seen = seen + #rows
      end))
      assert.equal(0, seen)
    end)

    it("stops at the first error of the query or of each", function()
      local calls = 0
      local ok, err = g:query_in("SELECT id FROM entities WHERE bank_id = ? AND id", "", "b1", { "e1", "e2" }, function()
        calls = calls + 1
        return nil, "each failed"
      end)
      assert.is_nil(ok)
      assert.equal("each failed", err)
      assert.equal(1, calls)
      ok, err = g:query_in("SELECT nope FROM entities WHERE bank_id = ? AND id", "", "b1", { "e1" }, function() end)
      assert.is_nil(ok)
      assert.truthy(tostring(err):find("nope"), tostring(err))
    end)
  end)

  describe("top_hits()", function()
    it("sorts by score, ties by memory_id, and keeps limit hits", function()
      local hits = { { memory_id = "c", score = 0.5 }, { memory_id = "a", score = 1 },
                     { memory_id = "b", score = 0.5 }, { memory_id = "d", score = 0.1 } }
      local out = gstore.top_hits(hits, 3)
      assert.same({ "a", "b", "c" }, { out[1].memory_id, out[2].memory_id, out[3].memory_id })
      assert.equal(3, #out)
    end)
  end)
end)
