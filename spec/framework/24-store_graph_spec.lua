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
