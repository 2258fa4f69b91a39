-- Whole-bank snapshots of the sqlite store: a bank past the HNSW threshold
-- without an associative index is saved at close with its graph, its BM25
-- index (<db>-<hex bank>.bm25) and its tags, and the next open installs it
-- without reading one of its rows. Deletes and archives made behind the
-- change log (plain SQL) move the bank's counter, so the bank is then
-- loaded from its rows; so is one whose BM25 file is damaged or was built
-- with other options.
describe("sqlite whole-bank snapshots", function()
  local astrocyte = require "astrocyte"
  local sqlite = require "astrocyte.sqlite"
  local tmp = require "support.tmp"
  local dir, cfg

  before_each(function()
    dir = tmp.dir()
    cfg = { vector_store_config = { path = dir .. "/s.db", vector_index = { hnsw_threshold = 100 },
                                    assoc = { max_docs = 50 } },
            signal_quality = { dedup = { enabled = false } } }
  end)
  after_each(function() tmp.rm(dir) end)

  local function fill(eng, bank, from, to, tags)
    local items = {}
    for i = from, to do items[#items + 1] = ("entry %d: team %s shipped feature %d"):format(i, "t" .. i % 13, i) end
    assert(eng:retain_many(items, { bank_id = bank, tags = tags }))
  end

  local QUERIES = { "team t5 feature 22", "shipped feature 140", "entry 7 team t7", "feature 201 shipped" }

  -- The ids recall returns per query (and with a tag filter), and the
  -- store's keyword hits: what a restored bank must answer alike.
  local function answers(eng, bank)
    local out = {}
    for _, q in ipairs(QUERIES) do
      for _, tags in ipairs({ false, { "odd" } }) do
        local ids = {}
        local r = assert(eng:recall(q, { bank_id = bank, tags = tags or nil }))
        for i, h in ipairs(r.hits) do ids[i] = h.memory_id end
        out[#out + 1] = ids
      end
      local ids = {}
      for i, h in ipairs(assert(eng.providers.vector_store:search_fulltext(q, bank, 10))) do ids[i] = h.document_id or h.id end
      out[#out + 1] = ids
    end
    return out
  end

  -- Opens cfg counting the rows each bank has read at open.
  local function open_counting()
    local probe = assert(astrocyte.open({ vector_store_config = { path = dir .. "/probe.db" } }))   -- not cfg's file: its close saves
    local Backend = getmetatable(probe.providers.vector_store.backend).__index
    probe:close()
    local each_row, read = Backend.each_row, {}
    Backend.each_row = function(self, fn, ...)
      return each_row(self, function(r)
        read[r.bank_id] = (read[r.bank_id] or 0) + 1
        return fn(r)
      end, ...)
    end
    local ok, eng = pcall(astrocyte.open, cfg)
    Backend.each_row = each_row
    assert(ok, eng)
    return assert(eng), read
  end

  local function sql(stmt)
    local db = assert(sqlite.open(dir .. "/s.db"))
    assert(db:exec(stmt))
    db:close()
  end

  local function build()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, "big", 1, 150, { "odd" })
    fill(eng, "big", 151, 260, { "even", "late" })
    fill(eng, "a", 1, 12)
    fill(eng, "zz", 1, 12, { "odd" })
    return eng
  end

  it("restores a large bank without reading its rows, and it answers as before", function()
    local eng = build()
    local before, small = answers(eng, "big"), answers(eng, "zz")
    eng:close()
    local f = io.open(dir .. "/s.db-626967.bm25", "rb")            -- hex("big")
    assert.is_not_nil(f)
    f:close()
    local eng2, read = open_counting()
    local store = eng2.providers.vector_store
    assert.is_string(store._whole_fp.big)
    assert.is_nil(read.big)                                      -- not one row of it
    assert.equal(12, read.a)                                     -- the banks around it are read
    assert.equal(12, read.zz)
    assert.same(before, answers(eng2, "big"))
    assert.same(small, answers(eng2, "zz"))
    assert.equal(260, store.index.banks.big.count)
    eng2:close()
  end)

  it("keeps writes made after a whole restore, and saves the bank again", function()
    local eng = build()
    eng:close()
    local eng2 = assert(astrocyte.open(cfg))
    assert.is_string(eng2.providers.vector_store._whole_fp.big)
    fill(eng2, "big", 261, 300, { "odd" })
    local hits = assert(eng2:recall("feature 22", { bank_id = "big" })).hits
    local gone = hits[1].memory_id
    assert.equal(1, eng2:forget({ bank_id = "big", memory_ids = { gone } }).deleted_count)
    local after = answers(eng2, "big")
    eng2:close()
    local eng3, read = open_counting()
    assert.is_string(eng3.providers.vector_store._whole_fp.big)
    assert.is_nil(read.big)
    assert.same(after, answers(eng3, "big"))
    assert.equal(299, eng3.providers.vector_store.index.banks.big.count)
    for _, h in ipairs(assert(eng3:recall("feature 22", { bank_id = "big", max_results = 50 })).hits) do
      assert.not_equal(gone, h.memory_id)
    end
    eng3:close()
  end)

  it("reads the rows of a bank whose rows were deleted or archived with plain SQL", function()
    for _, stmt in ipairs({ "DELETE FROM memories WHERE bank_id = 'big' AND text LIKE 'entry 22:%'",
                            "UPDATE memories SET archived_at = 1 WHERE bank_id = 'big' AND text LIKE 'entry 22:%'" }) do
      local eng = build()
      eng:close()
      sql(stmt)
      local eng2, read = open_counting()
      assert.is_nil(eng2.providers.vector_store._whole_fp.big, stmt)
      assert.equal(259, read.big, stmt)
      for _, h in ipairs(assert(eng2:recall("entry 22 feature 22", { bank_id = "big", max_results = 50 })).hits) do
        assert.not_equal("entry 22: team t9 shipped feature 22", h.text, stmt)
      end
      eng2:close()
      tmp.rm(dir)
      dir = tmp.dir()
      cfg.vector_store_config.path = dir .. "/s.db"
    end
  end)

  it("reads the rows when the BM25 file is damaged or was built with other options", function()
    local eng = build()
    local before = answers(eng, "big")
    eng:close()
    local file = dir .. "/s.db-626967.bm25"
    local f = assert(io.open(file, "rb"))
    local bytes = f:read("a")
    f:close()
    f = assert(io.open(file, "wb"))
    f:write(bytes:sub(1, #bytes - 100))
    f:close()
    local eng2, read = open_counting()
    assert.is_nil(eng2.providers.vector_store._whole_fp.big)
    assert.equal(260, read.big)
    assert.same(before, answers(eng2, "big"))
    eng2:close()                                                 -- saved again, whole
    cfg.vector_store_config.bm25 = { stem = false }
    local eng3, read3 = open_counting()
    assert.is_nil(eng3.providers.vector_store._whole_fp.big)
    assert.equal(260, read3.big)
    eng3:close()
  end)
end)
