describe("astrocyte.store.revisions", function()
  local revisions = require "astrocyte.store.revisions"
  local wiki = require "astrocyte.providers.in_memory.wiki"
  local mm = require "astrocyte.providers.in_memory.mental_model"

  describe("put() / archived()", function()
    it("numbers revisions from 1 and archives the previous ones oldest first", function()
      local store = revisions.class().new()
      local b = revisions.bank(store, "b1")
      revisions.put(b, "x", { v = "one" })
      revisions.put(b, "x", { v = "two" })
      revisions.put(b, "x", { v = "three" })
      revisions.put(b, "y", { v = "other" })
      assert.same({ v = "three", revision = 3 }, b.current.x)
      assert.same({ v = "other", revision = 1 }, b.current.y)
      local copy = function(r) return { v = r.v, revision = r.revision } end
      assert.same({ { v = "one", revision = 1 }, { v = "two", revision = 2 } }, revisions.archived(store, "b1", "x", copy))
      assert.same({}, revisions.archived(store, "b1", "y", copy))
      assert.same({}, revisions.archived(store, "nobank", "x", copy))
    end)

    it("keeps banks apart", function()
      local store = revisions.class().new()
      revisions.put(revisions.bank(store, "a"), "x", {})
      revisions.put(revisions.bank(store, "b"), "x", {})
      assert.equal(1, revisions.bank(store, "b").current.x.revision)
    end)
  end)

  describe("list()", function()
    it("filters by scope and kind, skips soft-deleted revisions, sorts by the id field", function()
      local store = revisions.class().new()
      local b = revisions.bank(store, "b1")
      revisions.put(b, "c", { id = "c", scope = "s1", kind = "k1" })
      revisions.put(b, "a", { id = "a", scope = "s1", kind = "k2" })
      revisions.put(b, "b", { id = "b", scope = "s2", kind = "k1" })
      revisions.put(b, "d", { id = "d", scope = "s1", kind = "k1", deleted = true })
      local ids = function(l) local o = {}; for i, r in ipairs(l) do o[i] = r.id end; return o end
      local same = function(r) return r end
      assert.same({ "a", "b", "c" }, ids(revisions.list(store, "b1", nil, nil, same, "id")))
      assert.same({ "a", "c" }, ids(revisions.list(store, "b1", "s1", nil, same, "id")))
      assert.same({ "b", "c" }, ids(revisions.list(store, "b1", nil, "k1", same, "id")))
      assert.same({ "c" }, ids(revisions.list(store, "b1", "s1", "k1", same, "id")))
      assert.same({}, revisions.list(store, "nobank", nil, nil, same, "id"))
    end)
  end)

  describe("input()", function()
    it("copies the argument and tags it with the bank", function()
      local v = { page_id = "p" }
      local input = revisions.input("s", "page", v, "b1")
      assert.same({ page_id = "p", bank_id = "b1" }, input)
      assert.is_nil(v.bank_id)
    end)

    it("names the store and the bad argument", function()
      assert.same({ nil, "s: bank_id must be a non-empty string" }, { revisions.input("s", "page", {}, "") })
      assert.same({ nil, "s: page must be a table" }, { revisions.input("s", "page", "x", "b1") })
    end)
  end)

  describe("the in-memory stores built on it", function()
    it("wiki and mental_model report bad arguments with their own label", function()
      assert.same({ nil, "in_memory wiki: bank_id must be a non-empty string" },
                  { wiki.new():upsert_page({ page_id = "p" }, nil) })
      assert.same({ nil, "in_memory mental_model: model must be a table" },
                  { mm.new():upsert(42, "b1") })
    end)

    it("instances of one store class do not share banks", function()
      local a, b = wiki.new(), wiki.new()
      assert.truthy(a:upsert_page({ page_id = "topic:x", kind = "topic", scope = "bank", title = "X", content = "x" }, "b1"))
      assert.is_nil(b:get_page("topic:x", "b1"))
      assert.equal(1, a:get_page("topic:x", "b1").revision)
    end)
  end)
end)
