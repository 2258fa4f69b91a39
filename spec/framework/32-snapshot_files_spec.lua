-- HNSW snapshots in files next to the SQLite database: close writes
-- <db>-<hex bank>.hnsw (the row keeps the fingerprint), reopen restores from
-- it, a close with nothing changed does not rewrite it, and a snapshot kept
-- in the row by an older build still loads.
describe("sqlite HNSW snapshot files", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir, cfg, file

  before_each(function()
    dir = tmp.dir()
    cfg = { vector_store_config = { path = dir .. "/s.db", vector_index = { hnsw_threshold = 100 } },
            signal_quality = { dedup = { enabled = false } } }
    file = dir .. "/s.db-626967.hnsw"                    -- hex("big")
  end)
  after_each(function() tmp.rm(dir) end)

  local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end

  local function fill(eng, from, to)
    local items = {}
    for i = from, to do items[#items + 1] = ("entry %d: team %s shipped feature %d"):format(i, "t" .. i % 13, i) end
    assert(eng:retain_many(items, { bank_id = "big" }))
  end

  local function top(eng)
    local out = {}
    for i, h in ipairs(assert(eng:recall("team t5 feature 22", { bank_id = "big" })).hits) do out[i] = h.memory_id end
    return out
  end

  it("saves the graph to a file at close and restores it at open", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 1, 250)
    assert.equal("hnsw", eng.providers.vector_store.index:vector_kind("big"))
    local before = top(eng)
    eng:close()
    assert.is_true(exists(file))
    local eng2 = assert(astrocyte.open(cfg))
    local store = eng2.providers.vector_store
    local snap = store.backend:load_snapshots().big
    assert.equal(file, snap.file)
    assert.is_nil(snap.graph)
    assert.is_string(store._snapshot_fp.big)          -- restored, not rebuilt
    assert.same(before, top(eng2))
    eng2:close()
  end)

  it("does not rewrite an unchanged graph, and writes a changed one again", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 1, 250)
    eng:close()
    eng = assert(astrocyte.open(cfg))
    assert.is_string(eng.providers.vector_store._snapshot_fp.big)
    assert(os.remove(file))
    eng:close()                                         -- nothing changed: no write
    assert.is_false(exists(file))
    eng = assert(astrocyte.open(cfg))                   -- the file is gone: rebuilt
    assert.is_nil(eng.providers.vector_store._snapshot_fp.big)
    fill(eng, 251, 260)
    local before = top(eng)
    eng:close()
    assert.is_true(exists(file))
    eng = assert(astrocyte.open(cfg))
    assert.is_string(eng.providers.vector_store._snapshot_fp.big)
    assert.same(before, top(eng))
    assert.equal(260, eng:banks()[1].memory_count)
    eng:close()
  end)

  it("takes the fingerprint at close from the index, equal to the rows'", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 1, 250)
    local store = eng.providers.vector_store
    assert.equal(store.backend:vector_fingerprint("big"), store.index:vector_fingerprint("big"))
    local ids = {}
    for _, h in ipairs(assert(eng:recall("team t5", { bank_id = "big", max_results = 3 })).hits) do ids[#ids + 1] = h.memory_id end
    assert.equal(1, store:delete({ ids[1] }, "big"))
    assert.equal(1, store:archive({ ids[2] }, "big"))
    assert.equal(store.backend:vector_fingerprint("big"), store.index:vector_fingerprint("big"))
    eng:close()
    eng = assert(astrocyte.open(cfg))
    assert.is_string(eng.providers.vector_store._snapshot_fp.big)   -- the saved fingerprint matched the rows
    assert.equal(248, eng:banks()[1].memory_count)
    eng:close()
  end)

  it("loads a snapshot an older build kept in the row", function()
    local eng = assert(astrocyte.open(cfg))
    fill(eng, 1, 250)
    local store = eng.providers.vector_store
    local b = store.index.banks.big
    local fp = store:_snapshot_fingerprint("big", store.backend:vector_fingerprint("big"))
    assert(store.backend:save_snapshot("big", b.flat:save_string(), fp))
    store._snapshot_fp.big = fp                         -- close keeps the row as it is
    local before = top(eng)
    eng:close()
    assert.is_false(exists(file))
    eng = assert(astrocyte.open(cfg))
    assert.is_string(eng.providers.vector_store.backend:load_snapshots().big.graph)
    assert.is_string(eng.providers.vector_store._snapshot_fp.big)
    assert.same(before, top(eng))
    eng:close()
  end)
end)
