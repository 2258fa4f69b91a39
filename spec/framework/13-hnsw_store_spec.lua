describe("embedded store with HNSW banks", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir, cfg

  before_each(function()
    dir = tmp.dir()
    cfg = { vector_store_config = { path = dir .. "/h.db", vector_index = { hnsw_threshold = 200 } },
            signal_quality = { dedup = { enabled = false } } }
  end)
  after_each(function() tmp.rm(dir) end)

  local function fill(eng, n)
    for i = 1, n do
      assert(eng:retain(("entry %d: project %s shipped feature %d"):format(i, ("p" .. i % 17), i), { bank_id = "big" }))
    end
  end

  local function ids(res)
    local out = {}
    for i, h in ipairs(res.hits) do out[i] = h.memory_id end
    return out
  end

  it("switches a bank to HNSW past the threshold and restores the graph on reopen", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 400)
    local store = eng.providers.vector_store
    assert.equal("hnsw", store.index:vector_kind("big"))
    local before = ids(assert(eng:recall("project p5 feature 22", { bank_id = "big" })))
    eng:close()

    local eng2 = assert(astrocyte.open(cfg))
    local b = eng2.providers.vector_store.index.banks.big
    assert.equal("hnsw", b.kind)
    assert.same(before, ids(assert(eng2:recall("project p5 feature 22", { bank_id = "big" }))))
    eng2:close()
  end)

  it("migrates to HNSW a batch per write, answering from flat meanwhile", function()
    cfg.vector_store_config.vector_index = { hnsw_threshold = 200, migrate_batch = 40 }
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 201)                                     -- crosses the threshold
    local idx = eng.providers.vector_store.index
    assert.equal("flat", idx:vector_kind("big"))
    assert.is_table(idx.banks.big.migration)
    local first = assert(eng:retain("a note about zeppelins over the harbour", { bank_id = "big" }))
    local qv = eng.embedder:embed_packed({ "a note about zeppelins over the harbour" })[1]
    assert.equal(first.memory_id, eng.vector_store:search_similar(qv, "big", 1)[1].id)
    for _ = 1, 5 do fill(eng, 1) end
    assert.equal("hnsw", idx:vector_kind("big"))       -- 203+ keys / 40 per write
    assert.is_nil(idx.banks.big.migration)
    assert.equal(first.memory_id, eng.vector_store:search_similar(qv, "big", 1)[1].id)
    eng:close()
  end)

  it("rebuilds instead of restoring when rows changed after the snapshot", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 300)
    eng:close()
    -- A second process writes without closing cleanly: the snapshot is stale.
    local other = assert(astrocyte.open(cfg))
    local res = assert(other:retain("a brand new entry about zeppelins", { bank_id = "big" }))
    other.providers.vector_store.backend.db:close()      -- no snapshot saved
    local eng2 = assert(astrocyte.open(cfg))
    local hits = assert(eng2:recall("zeppelins", { bank_id = "big" })).hits
    assert.equal(res.memory_id, hits[1].memory_id)
    assert.equal(301, eng2:banks()[1].memory_count)
    -- the vector index itself (not just BM25) must hold the new memory
    local qv = eng2.embedder:embed_packed({ "a brand new entry about zeppelins" })[1]
    assert.equal(res.memory_id, eng2.vector_store:search_similar(qv, "big", 1)[1].id)
    eng2:close()
  end)

  it("rebuilds when the rows changed behind the change log, keeping the same seq", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 300)
    local gone = assert(eng:retain("a note about zeppelins to be removed by hand", { bank_id = "big" })).memory_id
    eng:close()
    -- An outside tool deletes a row with plain SQL: no change is logged, so
    -- the snapshot's seq still matches; its keys do not.
    local sqlite = require "astrocyte.sqlite"
    local db = assert(sqlite.open(cfg.vector_store_config.path))
    assert(db:exec("DELETE FROM memories WHERE id = '" .. gone .. "'"))
    db:close()
    local eng2 = assert(astrocyte.open(cfg))
    local store = eng2.providers.vector_store
    assert.is_nil(store._snapshot_fp.big)               -- not trusted: rebuilt
    assert.equal("hnsw", store.index:vector_kind("big"))
    assert.equal(300, eng2:banks()[1].memory_count)
    local qv = eng2.embedder:embed_packed({ "a note about zeppelins to be removed by hand" })[1]
    local hits = assert(eng2.vector_store:search_similar(qv, "big", 10))
    assert.equal(10, #hits)                             -- no key without a row among them
    for _, h in ipairs(hits) do assert.not_equal(gone, h.id) end
    eng2:close()
    -- reopened after that close, the graph saved then is restored again
    local eng3 = assert(astrocyte.open(cfg))
    assert.is_string(eng3.providers.vector_store._snapshot_fp.big)
    eng3:close()
  end)
end)
