-- The sqlite store's row cache (providers/sqlite/rowcache.lua): search hits
-- come from it on a repeat, yet every change is seen at once — this
-- connection's writes, a rolled-back write, another connection's writes —
-- and a caller changing a hit changes no cached row.
describe("sqlite row cache", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function open(extra)
    local vsc = { path = dir .. "/r.db" }
    for k, v in pairs(extra or {}) do vsc[k] = v end
    return assert(astrocyte.open({ vector_store_config = vsc, signal_quality = { dedup = { enabled = false } } }))
  end

  local function text_of(eng, query, id)
    for _, h in ipairs(assert(eng.vector_store:search_fulltext(query, "b", 10))) do
      if h.id == id then return h.text, h end
    end
  end

  local function upsert(eng, id, text)
    local vec = eng.embedder:embed_packed({ text })[1]
    assert(eng.vector_store:store_vectors({ { id = id, bank_id = "b", text = text, vector = vec, metadata = { v = text } } }))
  end

  it("answers a repeated search from the cache, and copies what it hands out", function()
    local eng = open()
    upsert(eng, "m1", "orchids need indirect light")
    local backend = eng.vector_store.backend
    local _, h = text_of(eng, "orchids", "m1")
    assert.equal(1, backend.rows:count())
    h.metadata.v = "changed by the caller"
    local reads = 0
    local query = backend.query
    backend.query = function(self, sql, ...)
      if sql:find("FROM memories WHERE key IN", 1, true) then reads = reads + 1 end
      return query(self, sql, ...)
    end
    local text, h2 = text_of(eng, "orchids", "m1")
    backend.query = query
    assert.equal(0, reads)
    assert.equal("orchids need indirect light", text)
    assert.equal("orchids need indirect light", h2.metadata.v)
    eng:close()
  end)

  it("sees this connection's rewrite, archive and restore at once", function()
    local eng = open()
    upsert(eng, "m1", "orchids need indirect light")
    assert.equal("orchids need indirect light", text_of(eng, "orchids", "m1"))
    upsert(eng, "m1", "orchids need bright indirect light")
    assert.equal("orchids need bright indirect light", text_of(eng, "orchids", "m1"))
    assert.equal(1, eng.vector_store:archive({ "m1" }, "b"))
    assert.is_nil(text_of(eng, "orchids", "m1"))
    assert.equal(1, eng.vector_store:restore({ "m1" }, "b"))
    local _, h = text_of(eng, "orchids", "m1")
    assert.is_nil(h.archived_at)
    eng:close()
  end)

  it("keeps nothing a rolled-back write showed", function()
    local eng = open()
    upsert(eng, "m1", "orchids need indirect light")
    assert.equal("orchids need indirect light", text_of(eng, "orchids", "m1"))
    local res, err = eng.vector_store:write_batch(function()
      upsert(eng, "m1", "orchids need darkness")
      -- read inside the transaction: this connection sees its own write
      assert.equal("orchids need darkness", text_of(eng, "orchids", "m1"))
      return nil, "abandon"
    end)
    assert.is_nil(res)
    assert.equal("abandon", err)
    assert.equal("orchids need indirect light", text_of(eng, "orchids", "m1"))
    eng:close()
  end)

  it("sees another connection's rewrite of a cached row", function()
    local a, b = open(), open()
    upsert(a, "m1", "orchids need indirect light")
    assert.equal("orchids need indirect light", text_of(b, "orchids", "m1"))   -- cached in b
    upsert(a, "m1", "orchids need bright indirect light")
    assert.equal("orchids need bright indirect light", text_of(b, "orchids", "m1"))
    a:close(); b:close()
  end)

  it("can be turned off", function()
    local eng = open({ row_cache = 0 })
    upsert(eng, "m1", "orchids need indirect light")
    assert.is_nil(eng.vector_store.backend.rows)
    assert.equal("orchids need indirect light", text_of(eng, "orchids", "m1"))
    eng:close()
  end)
end)
