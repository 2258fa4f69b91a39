-- core.json_encode (util.encode): the C writer must give, on random nested
-- data, exactly the text of the Lua writer it replaced (kept below as the
-- oracle: sorted keys, empty table = [], OBJECT_MT = object, cjson's string
-- escapes and number format), and fail cleanly on what JSON cannot hold.
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local cjson = require "cjson.safe"

-- The Lua encoder util.encode used before (the oracle).
local json = cjson.new()
json.encode_sparse_array(true)
local function oracle(v, out)
  if type(v) ~= "table" then
    local s = assert(json.encode(v))
    out[#out + 1] = s
    return
  end
  if getmetatable(v) ~= util.OBJECT_MT and (next(v) == nil or util.is_array(v)) then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      oracle(v[i], out)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = json.encode(k)
    out[#out + 1] = ":"
    local val = v[k]
    if val == nil then val = v[tonumber(k)] end
    oracle(val, out)
  end
  out[#out + 1] = "}"
end
local function reference(v)
  local out = {}
  oracle(v, out)
  return table.concat(out)
end

-- A small deterministic generator (the same sequence on both runtimes).
local function rng(seed)
  local s = seed
  return function(n)
    s = (s * 1103515245 + 12345) % 2147483648
    return s % n
  end
end

local function random_string(r)
  local t = {}
  for i = 1, r(12) do
    local c = r(10)
    if c == 0 then t[i] = string.char(r(32))               -- control bytes
    elseif c == 1 then t[i] = ({ '"', "\\", "/", "\127" })[r(4) + 1]
    elseif c == 2 then t[i] = "é"                           -- UTF-8 passes through
    else t[i] = string.char(97 + r(26)) end
  end
  return table.concat(t)
end

local function random_value(r, depth)
  local k = r(depth > 3 and 5 or 8)
  if k == 0 then return r(2) == 1
  elseif k == 1 then return r(2000000) - 1000000                -- integers
  elseif k == 2 then return (r(2000000) - 1000000) / (r(999) + 1)
  elseif k == 3 then return random_string(r)
  elseif k == 4 then return 1700000000000 + r(100000000)       -- ms stamps
  elseif k == 5 then                                          -- array
    local t = {}
    for i = 1, r(5) do t[i] = random_value(r, depth + 1) end
    return t
  elseif k == 6 then                                          -- object
    local t = {}
    for _ = 1, r(5) + 1 do t[random_string(r) .. "k"] = random_value(r, depth + 1) end
    return t
  else                                                        -- empty object
    return setmetatable({}, util.OBJECT_MT)
  end
end

describe("core.json_encode", function()
  it("writes what the Lua encoder wrote, on 3000 random values", function()
    local r = rng(7)
    for i = 1, 3000 do
      local v = random_value(r, 0)
      local want = reference(v)
      local got = assert(util.encode(v))
      if got ~= want then
        error(("value %d: got %s, want %s"):format(i, got, want))
      end
      assert.same(json.decode(want), json.decode(got))
    end
  end)

  it("sorts keys bytewise and writes number keys as text", function()
    assert.equal('{"1":"a","B":2,"a":1,"b":[]}', util.encode({ a = 1, B = 2, b = {}, [1] = "a", [3] = nil }))
    assert.equal('{"1":"x","2":"y","x":true}', util.encode({ "x", "y", x = true }))
  end)

  it("keeps arrays, empty tables and OBJECT_MT apart", function()
    assert.equal("[]", util.encode({}))
    assert.equal("{}", util.encode(setmetatable({}, util.OBJECT_MT)))
    assert.equal('{"1":1}', util.encode(setmetatable({ 1 }, util.OBJECT_MT)))
    assert.equal('{"1":1,"3":3}', util.encode({ [1] = 1, [3] = 3 }))
    assert.equal("[1,2,[[]]]", util.encode({ 1, 2, { {} } }))
  end)

  it("escapes as cjson and passes UTF-8 through", function()
    for b = 0, 255 do
      local s = string.char(b)
      assert.equal(json.encode(s), util.encode(s), "byte " .. b)
    end
    assert.equal('"naïve \\"café\\"\\/\\u0000"', util.encode('naïve "café"/\0'))
  end)

  it("writes numbers as cjson does, and integers below 2^53 exactly", function()
    for _, n in ipairs({ 0, 1, -1, 0.1, 1.5, -2.25, 1e-7, 1e300, 12345678901234, 1 / 3 }) do
      assert.equal(json.decode(util.encode(n)), json.decode(json.encode(n)))
    end
    assert.equal("9007199254740991", util.encode(2 ^ 53 - 1))   -- cjson: 9.007199254741e+15
    assert.equal("123456789012345", util.encode(123456789012345))
    assert.equal("1.844674407371e+19", util.encode(2 ^ 64))
    assert.equal("1796490165084", util.encode(1796490165084))
    assert.equal("0.33333333333333", util.encode(1 / 3))
    assert.equal("-0", util.encode(-0.0))
    assert.equal("null", util.encode(nil))
    assert.equal("null", util.encode(cjson.null))
    assert.equal("[true,false,null]", util.encode({ true, false, cjson.null }))
  end)

  it("fails with a message, not a crash, on what JSON cannot hold", function()
    local function fails(v, pattern)
      local s, err = util.encode(v)
      assert.is_nil(s)
      assert.matches(pattern, err)
    end
    fails(0 / 0, "non%-finite")
    fails({ x = math.huge }, "non%-finite")
    fails({ f = print }, "function")
    fails({ [{}] = 1 }, "table key")
    fails({ [true] = 1 }, "table key")
    local cycle = {}
    cycle.self = cycle
    fails(cycle, "nested too deep")
    local deep = {}
    for _ = 1, 999 do deep = { deep } end
    assert.equal(string.rep("[", 999) .. "[]" .. string.rep("]", 999), util.encode(deep))
    assert.has_error(function() core.json_encode() end)
  end)
end)
