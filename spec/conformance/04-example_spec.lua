-- The custom VectorStore example (examples/custom_vector_store/my_store.lua):
-- it passes the VectorStore suite, and an engine opened with
-- vector_store = "my_store:Store" retains and recalls through it.
package.path = "examples/custom_vector_store/?.lua;" .. package.path

local testing = require "astrocyte.testing"
local my_store = require "my_store"

describe("examples/custom_vector_store", function()
  testing.vector_store(function() return my_store.Store.new({}) end, { dims = 8 })

  describe("as the engine's vector store", function()
    local astrocyte = require "astrocyte"
    local eng

    before_each(function()
      eng = assert(astrocyte.open({ vector_store = "my_store:Store", document_store = nil }))
    end)
    after_each(function() eng:close() end)

    it("is the store the engine uses", function()
      assert.equal(my_store.Store, getmetatable(eng.vector_store))
    end)

    it("retains and recalls through it", function()
      local res = assert(eng:retain("Ana prefers green tea in the morning.", { bank_id = "ana" }))
      assert.is_true(res.stored)
      assert(eng:retain("The deploy pipeline runs on nginx.", { bank_id = "ana" }))
      assert(eng:retain("Ben drinks espresso.", { bank_id = "ben" }))
      local rec = assert(eng:recall("what tea does Ana prefer?", { bank_id = "ana" }))
      assert.equal("Ana prefers green tea in the morning.", rec.hits[1].text)
      for _, h in ipairs(rec.hits) do
        assert.not_equal("Ben drinks espresso.", h.text)
        assert.is_true(h.score >= 0 and h.score <= 1)
      end
    end)
  end)
end)
