-- Search hits of the embedded stores are built lazily (store/localstore):
-- metadata, tags and the ISO times are made from the row the first time
-- they are read. A hit reads the same as an eagerly built one, a read field
-- is kept, and what recall returns are plain MemoryHits (no metatable, no
-- internal fields), whichever rerank path built them.
describe("lazy search hits", function()
  local astrocyte = require "astrocyte"
  local util = require "astrocyte.util"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local OCCURRED = "2024-05-01T10:00:00Z"
  local RETAINED = "2024-05-02T11:30:00.250Z"

  local function open(provider, extra)
    local cfg = { vector_store = provider, signal_quality = { dedup = { enabled = false } } }
    if provider == "sqlite" then cfg.vector_store_config = { path = dir .. "/h.db" } end
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return assert(astrocyte.open(cfg))
  end

  local function put(eng, id, text, extra)
    local vec = eng.embedder:embed_packed({ text })[1]
    local it = { id = id, bank_id = "b", text = text, vector = vec, fact_type = "experience",
                 metadata = { session_id = "s1", n = 2, nested = { a = { 1, 2 } } }, tags = { "x", "y" },
                 occurred_at = OCCURRED, retained_at = RETAINED }
    for k, v in pairs(extra or {}) do it[k] = v end
    assert(eng.vector_store:store_vectors({ it }))
  end

  for _, provider in ipairs({ "sqlite", "in_memory" }) do
    describe(provider, function()
      it("reads every field of a search hit as an eager hit would, and keeps what it read", function()
        local eng = open(provider)
        put(eng, "m1", "orchids need indirect light")
        local vec = eng.embedder:embed_packed({ "orchids need indirect light" })[1]
        local sem = assert(eng.vector_store:search_similar(vec, "b", 5))
        local kw = assert(eng.vector_store:search_fulltext("orchids", "b", 5))
        for _, h in ipairs({ sem[1], kw[1] }) do
          assert.equal("m1", h.id)
          assert.equal("orchids need indirect light", h.text)
          assert.equal("b", h.bank_id)
          assert.equal("experience", h.fact_type)
          assert.is_nil(rawget(h, "metadata"))            -- not made before it is read
          assert.same({ session_id = "s1", n = 2, nested = { a = { 1, 2 } } }, h.metadata)
          assert.equal(h.metadata, rawget(h, "metadata")) -- kept: the same table on the next read
          assert.same({ "x", "y" }, h.tags)
          assert.equal(util.iso(util.parse_iso(OCCURRED)), h.occurred_at)
          assert.equal(util.iso(util.parse_iso(RETAINED)), h.retained_at)
          assert.is_nil(h.memory_id)
          assert.is_nil(h.no_such_field)
        end
        assert.equal("m1", kw[1].document_id)
        -- the extensions that list items are unchanged
        local items = assert(eng.vector_store:get_items({ "m1" }, "b"))
        assert.same(sem[1].metadata, items.m1.metadata)
        assert.equal(sem[1].occurred_at, items.m1.occurred_at)
        eng:close()
      end)

      it("returns plain MemoryHits from recall, on the pruned and on the full rerank path", function()
        for _, penalty in ipairs({ 0, 0.08 }) do
          local eng = open(provider, { pipeline = { session_diversity_penalty = penalty } })
          put(eng, "m1", "orchids need indirect light")
          for i = 2, 30 do
            put(eng, "m" .. i, "note " .. i .. " about orchids and ferns in pots " .. i,
                { metadata = { session_id = "s" .. i }, tags = { "t" .. i } })
          end
          local res = assert(eng:recall("orchids indirect light", { bank_id = "b", max_results = 3 }))
          assert.equal(3, #res.hits)
          assert.equal("m1", res.hits[1].memory_id)
          for _, h in ipairs(res.hits) do
            assert.is_nil(getmetatable(h))
            local keys = {}
            for k in pairs(h) do keys[k] = true end
            assert.is_nil(keys._row)
            assert.is_nil(keys._fk)
            assert.is_true(keys.metadata and keys.tags and keys.occurred_at and keys.retained_at and true)
          end
          local h = res.hits[1]
          assert.same({ session_id = "s1", n = 2, nested = { a = { 1, 2 } } }, h.metadata)
          assert.same({ "x", "y" }, h.tags)
          assert.equal(util.iso(util.parse_iso(OCCURRED)), h.occurred_at)
          assert.equal("b", h.bank_id)
          assert.is_true(res.total_available > 3)
          eng:close()
        end
      end)
    end)
  end
end)
