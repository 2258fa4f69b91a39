-- Specs for core.flat_i8 (bindings/lua/astro_index_i8.c): the int8 index
-- that keeps only codes and rescores from the caller's stored vectors through
-- a fetch function. Runs under Lua 5.4 and LuaJIT 2.1.
local core = require "astrocyte.core"

local pack = core.vec_pack

-- n clustered packed vectors of dimension d (fixed seed): 20 centres plus
-- noise, so the top 10 of a query stand apart as in real embeddings.
local function clustered(n, d, seed)
  local function rnd()
    seed = ((seed * 16838) % 32768 * 65536 + seed * 20077 + 12345) % 2147483648
    return seed / 2147483648 * 2 - 1
  end
  local centres = {}
  for c = 1, 20 do
    centres[c] = {}
    for j = 1, d do centres[c][j] = rnd() end
  end
  local out = {}
  for i = 1, n do
    local c, v = centres[1 + math.floor((rnd() + 1) / 2 * 20) % 20], {}
    for j = 1, d do v[j] = c[j] + 0.35 * rnd() end
    out[i] = pack(v)
  end
  return out
end

describe("core.flat_i8", function()
  it("finds the exact top 10 from the caller's rows in about 420 bytes a 384-d vector", function()
    local rows = clustered(2000, 384, 42)
    local ix, ex = assert(core.flat_i8(384)), assert(core.flat(384))
    for key, v in ipairs(rows) do
      assert.is_true(ix:add(key, v))
      assert.is_true(ex:add(key, v))
    end
    assert.equal(2000, ix:count())
    assert.equal(384, ix:dim())
    local bpv = ix:bytes() / ix:count()
    assert.is_true(bpv >= 384 and bpv <= 450, "bytes per vector " .. bpv)
    local fetched = 0
    local function fetch(key)
      fetched = fetched + 1
      return rows[key]
    end
    local hit, queries = 0, clustered(30, 384, 7)
    for _, q in ipairs(queries) do
      local ek, es = ex:search(q, 10)
      local ak, as = assert(ix:search(q, 10, nil, fetch))
      assert.equal(10, #ak)
      for a = 1, 10 do
        for e = 1, 10 do
          if ak[a] == ek[e] then
            hit = hit + 1
            assert.is_true(math.abs(as[a] - es[e]) < 1e-5)
          end
        end
      end
    end
    assert.is_true(hit / 300 >= 0.99, "recall@10 " .. hit / 300)
    assert.equal(30 * 40, fetched)   -- k * rescore (4) candidates a query
    -- without fetch: the int8 estimates, close to the exact scores
    local uk, us = ix:search(queries[1], 10)
    local ek, es = ex:search(queries[1], 10)
    assert.equal(10, #uk)
    assert.is_true(math.abs(us[1] - es[1]) < 0.02)
    assert.is_true(ek[1] ~= nil)
  end)

  it("fails a search whose fetch cannot give a candidate's vector, naming the key", function()
    local ix = assert(core.flat_i8(3, { rescore = 2 }))
    local rows = { pack({ 1, 0, 0 }), pack({ 0, 1, 0 }), pack({ 0, 0, 1 }) }
    for key, v in ipairs(rows) do assert(ix:add(key, v, 1000 * key)) end
    local q = pack({ 1, 0.1, 0 })
    local keys = assert(ix:search(q, 1, nil, function(key) return rows[key] end))
    assert.same({ 1 }, keys)
    local ok, err = ix:search(q, 2, nil, function(key) if key ~= 2 then return rows[key] end end)
    assert.is_nil(ok)
    assert.matches("key 2", err, 1, true)
    ok, err = ix:search(q, 2, nil, function(key) if key == 1 then error("row store is down") end return rows[key] end)
    assert.is_nil(ok)
    assert.matches("fetch%(1%) failed: .*row store is down", err)
    ok, err = ix:search(q, 2, nil, function() return pack({ 1, 0 }) end)
    assert.is_nil(ok)
    assert.matches("packed vector of 3 floats", err, 1, true)
    -- a time filter applies before any fetch
    local seen = {}
    keys = assert(ix:search(q, 3, { time_from = 2500 }, function(key) seen[#seen + 1] = key; return rows[key] end))
    assert.same({ 3 }, keys)
    assert.same({ 3 }, seen)
    -- bad input
    ok, err = ix:add(9, pack({ 0, 0 / 0, 0 }))
    assert.is_nil(ok); assert.is_string(err)
    ok, err = ix:add(9, pack({ 1, 0 }))
    assert.is_nil(ok); assert.matches("dimension", err)
    assert.is_true(ix:remove(3)); assert.is_false(ix:remove(3)); assert.is_false(ix:contains(3))
    assert.has_error(function() core.flat_i8(3, { rescore = 2000 }) end)
    local none; none, err = core.flat_i8(0)
    assert.is_nil(none); assert.is_string(err)
  end)
end)
