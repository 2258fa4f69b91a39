-- Specs for core.hnsw (bindings/lua/astro_hnsw.c) and the memindex switch
-- from core.flat to core.hnsw above vector_index.hnsw_threshold.
-- Runs under Lua 5.4 and LuaJIT 2.1: keep to syntax both accept.
local core = require "astrocyte.core"
local memindex = require "astrocyte.store.memindex"

local pack = core.vec_pack

-- Returns n deterministic pseudo-random packed vectors of dimension d.
local function vectors(n, d)
  local seed = 12345
  local out = {}
  for i = 1, n do
    local v = {}
    for j = 1, d do
      seed = (seed * 1103515245 + 12345) % 2147483648
      v[j] = seed / 2147483648 - 0.5
    end
    out[i] = pack(v)
  end
  return out
end

describe("core.hnsw", function()
  local vs
  before_each(function() vs = vectors(300, 16) end)

  it("adds, searches, removes and reports sizes", function()
    local ix = assert(core.hnsw(16, { M = 8, ef_construction = 64, ef = 32 }))
    for i = 1, #vs do assert.is_true(ix:add(i, vs[i], 1000 + i)) end
    assert.equal(300, ix:count())
    assert.equal(16, ix:dim())
    assert.is_true(ix:bytes() > 300 * 16 * 4)
    local keys, scores = ix:search(vs[17], 5)
    assert.equal(5, #keys)
    assert.equal(17, keys[1])
    assert.is_true(math.abs(scores[1] - 1) < 1e-5)
    assert.is_true(ix:remove(17))
    assert.is_false(ix:remove(17))
    assert.is_false(ix:contains(17))
    keys = ix:search(vs[17], 5, nil, 100)
    for i = 1, #keys do assert.is_not.equal(17, keys[i]) end
    assert.is_true(ix:repair())
    assert.equal(299, ix:count())
  end)

  it("applies keyset and time filters", function()
    local ix = assert(core.hnsw(16))
    for i = 1, #vs do ix:add(i, vs[i], 1000 + i) end
    local ks = core.keyset()
    for i = 2, 300, 2 do ks:set(i) end
    local keys = ix:search(vs[3], 10, { allow = ks })
    assert.equal(10, #keys)
    for i = 1, #keys do assert.equal(0, keys[i] % 2) end
    keys = ix:search(vs[3], 10, { time_from = 1101, time_to = 1150 })
    for i = 1, #keys do assert.is_true(keys[i] >= 101 and keys[i] <= 150) end
  end)

  it("round-trips through a string and a file", function()
    local ix = assert(core.hnsw(16))
    for i = 1, #vs do ix:add(i, vs[i]) end
    local s = ix:save_string()
    local ld = assert(core.hnsw_load_string(s))
    assert.equal(s, ld:save_string())
    local k1 = ix:search(vs[9], 10)
    local k2 = ld:search(vs[9], 10)
    assert.same(k1, k2)
    local path = os.tmpname()
    assert.is_true(ix:save(path))
    local fl = assert(core.hnsw_load(path))
    os.remove(path)
    assert.equal(s, fl:save_string())
  end)

  describe("errors", function()
    it("returns nil, err for bad data and wrong dimensions", function()
      local ok, err = core.hnsw_load_string("not a graph at all, clearly")
      assert.is_nil(ok)
      assert.equal("hnsw: data too short", err)
      local ix = assert(core.hnsw(4))
      ok, err = ix:add(1, pack({ 1, 2, 3 }))
      assert.is_nil(ok)
      assert.equal("dimension mismatch: expected 4, got 3", err)
      ok, err = ix:add(1, pack({ 1, 0 / 0, 3, 4 }))
      assert.is_nil(ok)
      ok, err = core.hnsw(0)
      assert.is_nil(ok)
    end)

    it("raises on misuse", function()
      local ix = assert(core.hnsw(4))
      assert.has_error(function() ix:add(-1, pack({ 1, 2, 3, 4 })) end)
      assert.has_error(function() core.hnsw(4, { M = "x" }) end)
    end)
  end)
end)

describe("memindex vector_index", function()
  it("switches a bank from flat to hnsw above the threshold", function()
    local vs = vectors(40, 8)
    local mi = memindex.new({ vector_index = { hnsw_threshold = 25, M = 8, ef_construction = 50, ef_search = 40 } })
    for i = 1, 20 do assert.is_true(mi:add("b", i, vs[i], "text " .. i)) end
    assert.equal("flat", mi:vector_kind("b"))
    for i = 21, 40 do assert.is_true(mi:add("b", i, vs[i], "text " .. i)) end
    assert.equal("hnsw", mi:vector_kind("b"))
    local keys = mi:search_vec("b", vs[33], 3)
    assert.equal(33, keys[1])
    assert.equal(8, mi:dim("b"))
    assert.is_true(mi:remove("b", 33))
    keys = mi:search_vec("b", vs[33], 3)
    assert.is_not.equal(33, keys[1])
    assert.is_true(mi:bytes() > 0)
  end)

  it("keeps flat by default for small banks", function()
    local vs = vectors(5, 8)
    local mi = memindex.new()
    for i = 1, 5 do mi:add("b", i, vs[i], "t") end
    assert.equal("flat", mi:vector_kind("b"))
  end)
end)
