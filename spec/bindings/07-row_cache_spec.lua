-- core.row_cache: rows packed in C memory. Round trips every field type
-- (integers stay integers on Lua 5.4; LuaJIT has numbers only), gives a fresh
-- table per get, replaces, drops, resets when full, and rejects what it
-- cannot hold with an error naming the field.
local core = require "astrocyte.core"

describe("core.row_cache", function()
  local FIELDS = { "key", "text", "score", "flag", "none", "big" }

  it("round-trips strings, numbers, booleans and nil", function()
    local c = core.row_cache(10, FIELDS)
    local text = "naïve café \0 with a NUL and " .. string.rep("x", 5000)
    assert.is_true(c:put(7, { key = 7, text = text, score = 0.125, flag = false, big = 2 ^ 52 }))
    local r = c:get(7)
    assert.same({ key = 7, text = text, score = 0.125, flag = false, big = 2 ^ 52 }, r)
    if math.type then assert.equal("integer", math.type(r.key)) end
    assert.is_nil(r.none)
    assert.is_nil(c:get(8))
    assert.equal(1, c:count())
    assert.is_true(c:bytes() > 5000)
  end)

  it("hands out a new table on every get", function()
    local c = core.row_cache(10, FIELDS)
    c:put(1, { key = 1, text = "a" })
    local r1 = c:get(1)
    r1.text = "changed"
    assert.equal("a", c:get(1).text)
    assert.are_not.equal(c:get(1), c:get(1))
  end)

  it("replaces, drops, clears and resets when full", function()
    local c = core.row_cache(3, FIELDS)
    for k = 1, 3 do c:put(k, { key = k, text = "t" .. k }) end
    c:put(2, { key = 2, text = "two" })
    assert.equal(3, c:count())
    assert.equal("two", c:get(2).text)
    assert.is_true(c:drop(1))
    assert.is_false(c:drop(1))
    assert.equal("t3", c:get(3).text)
    c:put(4, { key = 4, text = "t4" })       -- 3 held again
    c:put(5, { key = 5, text = "t5" })       -- full: reset, then 5
    assert.equal(1, c:count())
    assert.equal("t5", c:get(5).text)
    c:clear()
    assert.equal(0, c:count())
    assert.is_nil(c:get(5))
  end)

  it("rejects bad arguments with errors that say what was wrong", function()
    assert.has_error(function() core.row_cache(0, FIELDS) end)
    assert.has_error(function() core.row_cache(10, {}) end)
    assert.has_error(function() core.row_cache(10, { "a", 3 }) end)
    local c = core.row_cache(10, FIELDS)
    local ok, err = pcall(c.put, c, 1, { key = 1, text = { "a table" } })
    assert.is_false(ok)
    assert.matches("field 'text' holds a table", err)
    assert.is_nil(c:get(1))
    assert.has_error(function() c:put(-1, {}) end)
    assert.has_error(function() c:get("1") end)
  end)
end)
