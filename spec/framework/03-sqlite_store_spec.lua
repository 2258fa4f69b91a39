describe("sqlite store (embedded default)", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir, path

  before_each(function()
    dir = tmp.dir()
    path = dir .. "/mem.db"
  end)
  after_each(function() tmp.rm(dir) end)

  local function open() return assert(astrocyte.open(nil, { db = path })) end

  local function bank_counts(eng)
    local out = {}
    for _, b in ipairs(assert(eng:banks())) do out[b.bank_id] = b.memory_count end
    return out
  end

  it("keeps 1,000 memories across 3 banks isolated, forgets some, and reopens with exactly the rest", function()
    local eng = open()
    local banks = { "alpha", "beta", "gamma" }
    local ids = { alpha = {}, beta = {}, gamma = {} }
    for i = 1, 1000 do
      local b = banks[(i % 3) + 1]
      local res = assert(eng:retain(("note %d for bank %s: item-%d shows token%d"):format(i, b, i, i),
                                    { bank_id = b, tags = { "t" .. (i % 5) } }))
      ids[b][#ids[b] + 1] = res.memory_id
    end
    assert.same({ alpha = 333, beta = 334, gamma = 333 }, bank_counts(eng))

    -- strict isolation: a query naming a beta item never surfaces outside beta
    for _, b in ipairs(banks) do
      local res = assert(eng:recall("item-10 token10", { bank_id = b, max_results = 50 }))
      for _, h in ipairs(res.hits) do assert.equal(b, h.bank_id) end
    end
    local res = assert(eng:recall("item-10 token10", { bank_id = "beta" }))
    assert.equal("note 10 for bank beta: item-10 shows token10", res.hits[1].text)

    -- forget: 100 alpha ids, every beta memory tagged t0, nothing in gamma
    local gone = {}
    for i = 1, 100 do gone[i] = ids.alpha[i] end
    assert.equal(100, eng:forget({ bank_id = "alpha", memory_ids = gone }).deleted_count)
    local t0 = eng:forget({ bank_id = "beta", tags = { "t0" } }).deleted_count
    assert.is_true(t0 > 0)
    local expected = { alpha = 233, beta = 334 - t0, gamma = 333 }
    assert.same(expected, bank_counts(eng))
    eng:close()

    -- reopen from the file: exactly the remaining memories, indexes rebuilt
    local eng2 = open()
    assert.same(expected, bank_counts(eng2))
    local r = assert(eng2:recall("item-3 token3", { bank_id = "alpha" }))
    for _, h in ipairs(r.hits) do
      for _, g in ipairs(gone) do assert.not_equal(g, h.memory_id) end
    end
    local kept = ids.alpha[150]
    local found = false
    for _, h in ipairs(assert(eng2:recall("note", { bank_id = "alpha", max_results = 1000 })).hits) do
      if h.memory_id == kept then found = true end
    end
    assert.is_true(found)
    eng2:close()
  end)

  it("is durable when retain returns (a second connection sees it at once)", function()
    local eng = open()
    local res = assert(eng:retain("durable fact about WAL mode", { bank_id = "d" }))
    local other = open()
    local hits = assert(other:recall("WAL mode", { bank_id = "d" })).hits
    assert.equal(res.memory_id, hits[1].memory_id)
    other:close()
    eng:close()
  end)

  it("uses WAL journal mode", function()
    local eng = open()
    eng:close()
    local sqlite = require "astrocyte.sqlite"
    local db = assert(sqlite.open(path))
    local st = assert(db:prepare("PRAGMA journal_mode"))
    assert.is_true(st:step())
    assert.equal("wal", st:row()[1])
    st:finalize()
    db:close()
  end)

  it("reads the file through mmap (vector_store_config.mmap_size, default 1 GiB; 0 turns it off)", function()
    local function mmap_size(conf)
      conf.path = path
      local eng = assert(astrocyte.open({ vector_store_config = conf }))
      assert(eng:retain("mapped note", { bank_id = "b" }))
      local rows = assert(eng.vector_store.backend:query("PRAGMA mmap_size"))
      local res = assert(eng:recall("mapped", { bank_id = "b" }))
      assert.equal("mapped note", res.hits[1].text)
      eng:close()
      return rows[1].mmap_size
    end
    assert.equal(1073741824, mmap_size({}))
    assert.equal(0, mmap_size({ mmap_size = 0 }))
    assert.equal(65536, mmap_size({ mmap_size = 65536 }))
    local eng, err = astrocyte.open({ vector_store_config = { path = path, mmap_size = -1 } })
    assert.is_nil(eng)
    assert.truthy(tostring(err):find("vector_store_config.mmap_size", 1, true), tostring(err))
  end)

  it("stores nothing when a store_vectors batch has one bad item", function()
    local eng = open()
    local vs = eng.vector_store
    local good = { id = "g1", bank_id = "b", text = "fine", vector = { 1, 0, 0, 0 } }
    local bad = { id = "g2", bank_id = "b", text = "broken", vector = { 1, 0 / 0, 0, 0 } }
    local ids, err = vs:store_vectors({ good, bad })
    assert.is_nil(ids)
    assert.truthy(err:find("items[2].vector", 1, true))
    assert.same({}, vs:list_vectors("b", 0, 10))
    eng:close()
  end)

  it("commits a retain's memories and entity graph together, or neither", function()
    local eng = open()
    local gs = eng.providers.graph_store
    assert.equal(eng.providers.vector_store.backend, gs.shared)   -- one connection
    local real_stmt = gs.stmt
    gs.stmt = function(self, sql)
      if sql:find("INSERT INTO memory_entities", 1, true) then return nil, "disk full (injected)" end
      return real_stmt(self, sql)
    end
    local res, err = eng:retain("Mira and Jonas moved the standup to 9:30.", { bank_id = "atomic" })
    assert.is_nil(res)
    assert.equal("StorageError", err.kind)
    assert.truthy(err.message:find("disk full (injected)", 1, true), err.message)
    gs.stmt = nil                                    -- back to the class method
    assert.same({}, eng.vector_store:list_vectors("atomic", 0, 10))
    assert.same({}, assert(eng:recall("standup", { bank_id = "atomic" })).hits)
    assert.same({}, gs:query_entities("Mira", "atomic", 5))
    assert(eng:retain("Mira and Jonas moved the standup to 9:30.", { bank_id = "atomic" }))
    eng:close()
    local again = open()
    assert.equal(1, again:banks()[1].memory_count)
    assert.equal(1, #again.providers.graph_store:query_entities("Mira", "atomic", 5))
    again:close()
  end)

  it("reports an unwritable database path as a StorageError naming the key", function()
    local eng, err = astrocyte.open(nil, { db = "/proc/astrocyte/nope.db" })
    assert.is_nil(eng)
    assert.equal("StorageError", err.kind)
    assert.equal("vector_store", err.key_path)
    assert.equal("vector_store: sqlite: cannot open '/proc/astrocyte/nope.db': unable to open database file", err.message)
  end)

  it("puts the database under XDG_DATA_HOME when no path is configured", function()
    local config = require "astrocyte.config"
    local cfg = assert(config.load({}))
    local base = os.getenv("XDG_DATA_HOME")
    if base and base ~= "" then
      assert.equal(base .. "/astrocyte/astrocyte.db", cfg.vector_store_config.path)
    else
      assert.equal(os.getenv("HOME") .. "/.local/share/astrocyte/astrocyte.db", cfg.vector_store_config.path)
    end
  end)
end)
