-- Several connections to one SQLite file (OpenResty workers, a CLI beside a
-- server) each keep in-memory indexes; the change log keeps them coherent.
describe("embedded sqlite store shared by several connections", function()
  local astrocyte = require "astrocyte"
  local sqlite_provider = require "astrocyte.providers.sqlite"
  local tmp = require "support.tmp"
  local dir, path

  before_each(function()
    dir = tmp.dir()
    path = dir .. "/shared.db"
  end)
  after_each(function() tmp.rm(dir) end)

  local function open_engine(extra)
    local vsc = { path = path }
    for k, v in pairs(extra or {}) do vsc[k] = v end
    return assert(astrocyte.open({ vector_store_config = vsc, signal_quality = { dedup = { enabled = false } } }))
  end

  local function recall_ids(eng, q, bank)
    local out = {}
    for _, h in ipairs(assert(eng:recall(q, { bank_id = bank or "b" })).hits) do out[h.memory_id] = h.text end
    return out
  end

  -- A unit vector along axis i (of d dims).
  local function axis(i, d)
    local v = {}
    for j = 1, d do v[j] = (j == i) and 1 or 0 end
    return v
  end

  it("sees memories retained and forgotten through another connection", function()
    local a, b = open_engine(), open_engine()
    assert.same({}, recall_ids(b, "zeppelin harbour"))
    local r = assert(a:retain("The zeppelin moored over the harbour at dawn", { bank_id = "b" }))
    assert.truthy(recall_ids(b, "zeppelin harbour")[r.memory_id])
    local r2 = assert(b:retain("A zeppelin crossed the harbour again at dusk", { bank_id = "b" }))
    local seen = recall_ids(a, "zeppelin harbour")
    assert.truthy(seen[r.memory_id]); assert.truthy(seen[r2.memory_id])

    assert(a:forget({ bank_id = "b", memory_ids = { r.memory_id } }))
    seen = recall_ids(b, "zeppelin harbour")
    assert.is_nil(seen[r.memory_id]); assert.truthy(seen[r2.memory_id])
    a:close(); b:close()
  end)

  it("detects a near-duplicate of a memory another connection retained", function()
    local a = assert(astrocyte.open({ vector_store_config = { path = path } }))
    local b = assert(astrocyte.open({ vector_store_config = { path = path } }))
    local text = "The quarterly budget review moved to Thursday at ten in the north room"
    assert.is_true(assert(a:retain(text, { bank_id = "d" })).stored)
    local res = assert(b:retain(text, { bank_id = "d" }))  -- b has not searched since a wrote
    assert.is_false(res.stored)
    assert.is_true(res.deduplicated)
    a:close(); b:close()
  end)

  it("replays archive, restore and same-id rewrites into the other store's indexes", function()
    local sa = assert(sqlite_provider.new({ path = path }))
    local sb = assert(sqlite_provider.new({ path = path }))
    assert(sa:store_vectors({ { id = "m1", bank_id = "b", vector = axis(1, 8), text = "copper kettle" },
                              { id = "m2", bank_id = "b", vector = axis(2, 8), text = "silver spoon" } }))
    assert.equal("m1", sb:search_similar(axis(1, 8), "b", 1)[1].id)
    assert.equal("m2", sb:search_fulltext("spoon", "b", 5)[1].id)

    assert.equal(1, sa:archive({ "m1" }, "b"))
    assert.same({}, sb:search_fulltext("kettle", "b", 5))
    assert.equal(1, sa:restore({ "m1" }, "b"))
    assert.equal("m1", sb:search_fulltext("kettle", "b", 5)[1].id)

    -- same id, new text and vector: the row key stays, the content changes
    assert(sa:store_vectors({ { id = "m1", bank_id = "b", vector = axis(3, 8), text = "brass lantern" } }))
    assert.same({}, sb:search_fulltext("kettle", "b", 5))
    assert.equal("m1", sb:search_fulltext("lantern", "b", 5)[1].id)
    local top = sb:search_similar(axis(3, 8), "b", 1)[1]
    assert.equal("m1", top.id)
    assert.near(1.0, top.score, 1e-6)

    -- the writer's own changes are not replayed twice, and deletes propagate
    assert.equal(1, sb:delete({ "m2" }, "b"))
    assert.same({}, sa:search_fulltext("spoon", "b", 5))
    assert.equal(1, #sa:search_similar(axis(2, 8), "b", 10))
    sa:close(); sb:close()
  end)

  it("rebuilds a reader that fell behind the pruned change log", function()
    local sa = assert(sqlite_provider.new({ path = path, change_log_keep = 10 }))
    local sb = assert(sqlite_provider.new({ path = path }))
    local items = {}
    for i = 1, 1100 do
      items[i] = { id = "k" .. i, bank_id = "b", vector = axis(1 + i % 8, 8), text = "item number " .. i }
    end
    assert(sa:store_vectors(items))            -- 1100 logged rows: the log is pruned to the last 10
    local n = sb.backend:query("SELECT count(*) AS n FROM astrocyte_changes")[1].n
    assert.equal(10, n)
    local old_index = sb.index
    assert.equal("k777", sb:search_fulltext("777", "b", 1)[1].id)
    assert.are_not.equal(old_index, sb.index) -- rebuilt, not replayed
    assert.equal(1100, #sb:list_vectors("b", 0, 2000))
    sa:close(); sb:close()
  end)

  it("does not restore an HNSW snapshot after another connection rewrote a vector under the same key", function()
    local d = 16
    local hnsw = { hnsw_threshold = 200 }
    local sa = assert(sqlite_provider.new({ path = path, vector_index = hnsw }))
    local items = {}
    for i = 1, 300 do
      local v = axis(1 + i % d, d)
      v[1 + (i * 7) % d] = v[1 + (i * 7) % d] + 0.5 + i / 1000
      items[i] = { id = "v" .. i, bank_id = "b", vector = v, text = "vector " .. i }
    end
    assert(sa:store_vectors(items))
    assert.equal("hnsw", sa.index:vector_kind("b"))
    sa:close()                                  -- saves the graph

    -- another connection rewrites v5's vector (its key does not change)
    -- and dies without closing, so its own snapshot is never saved
    local sc = assert(sqlite_provider.new({ path = path, vector_index = hnsw }))
    local target = {}
    for j = 1, d do target[j] = (j % 3 == 0) and 1 or -1 end
    assert(sc:store_vectors({ { id = "v5", bank_id = "b", vector = target, text = "vector 5" } }))
    sc.backend:close()

    local sd = assert(sqlite_provider.new({ path = path, vector_index = hnsw }))
    local top = sd:search_similar(target, "b", 1)[1]
    assert.equal("v5", top.id)
    assert.near(1.0, top.score, 1e-6)
    sd:close()
  end)

  it("restores the snapshot when nothing changed since it was saved", function()
    local hnsw = { hnsw_threshold = 200 }
    local sa = assert(sqlite_provider.new({ path = path, vector_index = hnsw }))
    local items = {}
    for i = 1, 250 do items[i] = { id = "s" .. i, bank_id = "b", vector = axis(1 + i % 8, 8), text = "s " .. i } end
    assert(sa:store_vectors(items))
    sa:close()
    local sb = assert(sqlite_provider.new({ path = path, vector_index = hnsw }))
    local fp = sb.backend:load_snapshots().b.fingerprint
    assert.equal(sb:_snapshot_fingerprint("b", sb.backend:vector_fingerprint("b")), fp)
    assert.matches(":%d+$", fp)
    sb:close()
  end)
end)
