-- astrocyte.testing.vector_store: the VectorStore conformance cases (spi.md
-- §1.1 and §5.2). opts.dims (default 8, at least 3) is the embedding
-- dimension the factory's store is configured for; vectors are built from
-- unit axes so expected orders are exact.
local common = require "astrocyte.testing.common"
local cos, sin, pi, sqrt = math.cos, math.sin, math.pi, math.sqrt

local function dims(t) return t.opts.dims or 8 end

-- Unit vector at `deg` degrees in the plane of axes 1 and 2.
local function angle(t, deg)
  local v = {}
  for i = 1, dims(t) do v[i] = 0 end
  v[1], v[2] = cos(deg * pi / 180), sin(deg * pi / 180)
  return v
end

-- Unit vector along axis i.
local function axis(t, i)
  local v = {}
  for k = 1, dims(t) do v[k] = 0 end
  v[i] = 1
  return v
end

-- A vector close to axis 1 (all filter fixtures match an e1 query).
local function near1(t, k)
  local v = axis(t, 1)
  v[3] = 0.01 * k
  local n = sqrt(1 + v[3] * v[3])
  v[1], v[3] = v[1] / n, v[3] / n
  return v
end

local function item(_, id, bank, vec, text, extra)
  local it = { id = id, bank_id = bank, vector = vec, text = text or ("text of " .. id) }
  for k, v in pairs(extra or {}) do it[k] = v end
  return it
end

local function search(t, bank, q, limit, filters)
  return t.list(t.call("search_similar", q, bank, limit or 100, filters), "search_similar result")
end

-- Fixture for the filter cases: three items in bank "filters".
local function filter_fixture(t)
  t.call("store_vectors", {
    item(t, "fa", "filters", near1(t, 1), "alpha", { tags = { "x" }, fact_type = "world",
      occurred_at = "2024-01-10T00:00:00Z", retained_at = "2024-01-01T00:00:00Z",
      metadata = { color = "red", session_id = "s1" } }),
    item(t, "fb", "filters", near1(t, 2), "beta", { tags = { "y" }, fact_type = "experience",
      occurred_at = "2024-03-10T00:00:00Z", retained_at = "2024-06-01T00:00:00Z",
      metadata = { color = "blue", session_id = "s2" } }),
    item(t, "fc", "filters", near1(t, 3), "gamma", { tags = { "x", "y" }, fact_type = "observation",
      retained_at = "2024-02-01T00:00:00Z", metadata = { color = "red" } }),
  })
  t.same({ "fa", "fb", "fc" }, t.ids(search(t, "filters", axis(t, 1))), "unfiltered search of the filter fixture")
end

local function filter_case(name, filters, expected)
  return { "search_similar honours filters." .. name, function(t)
    filter_fixture(t)
    t.same(expected, t.ids(search(t, "filters", axis(t, 1), 100, filters)),
           "ids returned with filters " .. t.show(filters))
  end }
end

local cases = {
  common.spi_case("vector_stores"),

  { "store_vectors({}) returns {}", function(t)
    local ids = t.call("store_vectors", {})
    t.same({}, t.list(ids, "store_vectors({})"), "store_vectors({})")
  end },

  { "store_vectors returns the ids in input order", function(t)
    local ids = t.call("store_vectors", {
      item(t, "c", "b1", axis(t, 1)), item(t, "a", "b1", axis(t, 2)), item(t, "b", "b1", axis(t, 3)) })
    t.same({ "c", "a", "b" }, ids, "store_vectors ids")
  end },

  { "store_vectors upserts an existing id", function(t)
    t.call("store_vectors", { item(t, "u", "b1", axis(t, 1), "old text") })
    local ids = t.call("store_vectors", { item(t, "u", "b1", axis(t, 2), "new text") })
    t.same({ "u" }, ids, "ids of the second store")
    local all = t.call("list_vectors", "b1", 0, 100)
    t.eq(1, #all, "number of items after re-storing the same id")
    t.eq("new text", all[1].text, "text after upsert")
    local hits = search(t, "b1", axis(t, 2), 1)
    t.eq("u", hits[1] and hits[1].id, "id found with the new vector")
    t.ok(hits[1].score > 0.99, "the new vector must score ~1.0 after upsert, got %s", tostring(hits[1].score))
  end },

  { "store_vectors rejects a vector of the wrong dimension", function(t)
    t.call("store_vectors", { item(t, "ok", "b1", axis(t, 1)) })
    local bad = {}
    for i = 1, dims(t) + 1 do bad[i] = 1 / sqrt(dims(t) + 1) end
    t.fails("a vector of " .. (dims(t) + 1) .. " dims in a " .. dims(t) .. "-dim store",
            "store_vectors", { item(t, "bad", "b1", bad) })
  end },

  { "search_similar rejects a query of the wrong dimension", function(t)
    t.call("store_vectors", { item(t, "ok", "b1", axis(t, 1)) })
    local bad = {}
    for i = 1, dims(t) - 1 do bad[i] = 1 / sqrt(dims(t) - 1) end
    t.fails("a query of " .. (dims(t) - 1) .. " dims in a " .. dims(t) .. "-dim store",
            "search_similar", bad, "b1", 10)
  end },

  { "search_similar sorts by score descending with every score in [0,1]", function(t)
    local degs = { 120, 0, 180, 60, 90, 30 }
    local items = {}
    for i, d in ipairs(degs) do items[i] = item(t, "deg" .. d, "b1", angle(t, d)) end
    t.call("store_vectors", items)
    local hits = search(t, "b1", axis(t, 1), 100)
    t.eq(#degs, #hits, "number of hits")
    for i, h in ipairs(hits) do
      t.valid("VectorHit", h, "hit " .. i)
      t.ok(h.score >= 0 and h.score <= 1, "hit %d (%s) score %s is outside [0,1]", i, h.id, tostring(h.score))
      if i > 1 then
        t.ok(hits[i - 1].score >= h.score, "hits are not sorted by score descending: %s (%s) before %s (%s)",
             hits[i - 1].id, tostring(hits[i - 1].score), h.id, tostring(h.score))
      end
    end
    -- Positive cosines must come out strictly in angle order.
    t.same({ "deg0", "deg30", "deg60" }, { hits[1].id, hits[2].id, hits[3].id }, "order of the three closest hits")
  end },

  { "search_similar scores an identical vector ~1.0", function(t)
    t.call("store_vectors", { item(t, "same", "b1", angle(t, 40)), item(t, "other", "b1", angle(t, 100)) })
    local hits = search(t, "b1", angle(t, 40), 10)
    t.eq("same", hits[1] and hits[1].id, "best hit for an identical vector")
    t.ok(math.abs(hits[1].score - 1.0) < 0.01, "identical vector must score ~1.0, got %s", tostring(hits[1].score))
  end },

  { "search_similar respects limit", function(t)
    local items = {}
    for i = 1, 6 do items[i] = item(t, "l" .. i, "b1", angle(t, i * 10)) end
    t.call("store_vectors", items)
    t.eq(3, #search(t, "b1", axis(t, 1), 3), "number of hits with limit 3")
    t.eq(1, #search(t, "b1", axis(t, 1), 1), "number of hits with limit 1")
  end },

  { "search_similar on an unknown bank returns {}", function(t)
    t.call("store_vectors", { item(t, "a", "b1", axis(t, 1)) })
    t.same({}, search(t, "no-such-bank", axis(t, 1), 10), "hits of an unknown bank")
  end },

  { "search_similar never returns another bank's vectors", function(t)
    t.call("store_vectors", { item(t, "a1", "bank-a", axis(t, 1), "in bank a"),
                              item(t, "b1", "bank-b", axis(t, 1), "in bank b"),
                              item(t, "shared", "bank-a", axis(t, 2), "shared in a"),
                              item(t, "shared", "bank-b", axis(t, 2), "shared in b") })
    t.same({ "a1", "shared" }, t.ids(search(t, "bank-a", axis(t, 1), 100)), "ids seen from bank-a")
    for _, h in ipairs(search(t, "bank-b", axis(t, 2), 100)) do
      t.ok(h.text ~= "shared in a" and h.text ~= "in bank a", "bank-b search returned bank-a text %q", h.text)
    end
  end },

  filter_case("tags", { tags = { "y" } }, { "fb", "fc" }),
  filter_case("fact_types", { fact_types = { "world", "observation" } }, { "fa", "fc" }),
  filter_case("time_range", { time_range = { "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z" } }, { "fa" }),
  filter_case("metadata_filters", { metadata_filters = { color = "red" } }, { "fa", "fc" }),
  filter_case("as_of", { as_of = "2024-03-01T00:00:00Z" }, { "fa", "fc" }),
  filter_case("session_id", { session_id = "s1" }, { "fa" }),

  { "delete returns the number actually deleted", function(t)
    t.call("store_vectors", { item(t, "d1", "b1", axis(t, 1)), item(t, "d2", "b1", axis(t, 2)) })
    t.eq(1, t.call("delete", { "d1", "missing" }, "b1"), "delete({d1, missing}) count")
    t.same({ "d2" }, t.ids(t.call("list_vectors", "b1", 0, 100)), "ids left after delete")
    t.eq(0, t.call("delete", { "d1" }, "b1"), "count of deleting an already deleted id")
  end },

  { "delete({}) returns 0", function(t)
    t.call("store_vectors", { item(t, "d1", "b1", axis(t, 1)) })
    t.eq(0, t.call("delete", {}, "b1"), "delete({}) count")
    t.eq(1, #t.call("list_vectors", "b1", 0, 100), "items left after delete({})")
  end },

  { "delete never removes an id of another bank", function(t)
    t.call("store_vectors", { item(t, "only-b", "bank-b", axis(t, 1)),
                              item(t, "both", "bank-a", axis(t, 2)), item(t, "both", "bank-b", axis(t, 2)) })
    t.eq(0, t.call("delete", { "only-b" }, "bank-a"), "count of deleting a bank-b id in bank-a")
    t.eq(1, t.call("delete", { "both" }, "bank-a"), "count of deleting a shared id in bank-a")
    t.same({ "both", "only-b" }, t.ids(t.call("list_vectors", "bank-b", 0, 100)), "bank-b ids after deletes in bank-a")
  end },

  { "list_vectors pages in a stable order covering every item exactly once", function(t)
    local order = { 5, 2, 7, 1, 4, 6, 3 }
    local items = {}
    for i, n in ipairs(order) do items[i] = item(t, "p" .. n, "b1", angle(t, n * 7)) end
    t.call("store_vectors", items)
    local first = t.call("list_vectors", "b1", 0, 100)
    local again = t.call("list_vectors", "b1", 0, 100)
    t.eq(7, #first, "number of items listed")
    local seen, paged = {}, {}
    for offset = 0, 6, 3 do
      local page = t.list(t.call("list_vectors", "b1", offset, 3), "list_vectors page")
      t.ok(#page <= 3, "page at offset %d has %d items, limit was 3", offset, #page)
      for _, it in ipairs(page) do
        t.ok(not seen[it.id], "item %s appears on two pages", it.id)
        seen[it.id] = true
        paged[#paged + 1] = it.id
      end
    end
    t.eq(7, #paged, "items covered by pages of 3")
    for i = 1, 7 do
      t.eq(first[i].id, again[i].id, "position " .. i .. " of two listings")
      t.eq(first[i].id, paged[i], "position " .. i .. " of paged vs full listing")
    end
  end },

  { "list_vectors past the end or of an unknown bank returns {}", function(t)
    t.call("store_vectors", { item(t, "x1", "b1", axis(t, 1)), item(t, "x2", "b1", axis(t, 2)) })
    t.same({}, t.list(t.call("list_vectors", "b1", 2, 10), "offset 2 of 2"), "list_vectors at offset == count")
    t.same({}, t.list(t.call("list_vectors", "b1", 100, 10), "offset 100"), "list_vectors far past the end")
    t.same({}, t.list(t.call("list_vectors", "no-such-bank", 0, 10), "unknown bank"), "list_vectors of an unknown bank")
  end },

  { "list_vectors returns complete VectorItems", function(t)
    t.call("store_vectors", { item(t, "full", "b1", axis(t, 2), "full item",
      { tags = { "t1" }, fact_type = "world", metadata = { k = "v" }, occurred_at = "2024-05-01T10:00:00Z" }) })
    local it = t.call("list_vectors", "b1", 0, 10)[1]
    t.valid("VectorItem", it, "listed item")
    t.eq("full", it.id, "id"); t.eq("b1", it.bank_id, "bank_id"); t.eq("full item", it.text, "text")
    t.eq(dims(t), #it.vector, "vector length")
    t.ok(math.abs(it.vector[2] - 1) < 1e-3, "stored vector not returned (axis 2 expected), got %s", t.show(it.vector))
    t.same({ "t1" }, it.tags, "tags"); t.eq("world", it.fact_type, "fact_type")
    t.eq("v", it.metadata and it.metadata.k, "metadata.k")
  end },

  common.health_case(),
}

return { title = "VectorStore", group = "vector_stores", cases = cases }
