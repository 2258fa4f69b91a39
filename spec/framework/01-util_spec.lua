describe("astrocyte.util", function()
  local util = require "astrocyte.util"

  describe("iso() / parse_iso()", function()
    it("round-trips milliseconds through ISO-8601 UTC", function()
      for _, ms in ipairs({ 0, 1000, 1700000000123, 951782400000, -86400000 }) do
        assert.equal(ms, util.parse_iso(util.iso(ms)))
      end
    end)

    it("formats whole seconds without a fraction", function()
      assert.equal("2024-02-29T23:59:59Z", util.iso(util.parse_iso("2024-02-29T23:59:59Z")))
      assert.equal("1970-01-01T00:00:00Z", util.iso(0))
    end)

    it("applies zone offsets and accepts a plain date", function()
      assert.equal(util.parse_iso("2024-05-01T08:00:00Z"), util.parse_iso("2024-05-01T10:00:00+02:00"))
      assert.equal(util.parse_iso("2024-05-01T00:00:00Z"), util.parse_iso("2024-05-01"))
      assert.equal(util.parse_iso("2024-05-01T10:30:00Z"), util.parse_iso("2024-05-01 10:30"))
    end)

    it("rejects malformed dates with a reason", function()
      local v, err = util.parse_iso("yesterday")
      assert.is_nil(v)
      assert.equal("'yesterday' is not an ISO-8601 date", err)
      v, err = util.parse_iso("2024-13-01")
      assert.is_nil(v)
      assert.equal("'2024-13-01' has an invalid month or day", err)
      v, err = util.parse_iso("2024-01-01T10:00:00+2")
      assert.is_nil(v)
      assert.equal("'2024-01-01T10:00:00+2' has an invalid time zone", err)
    end)
  end)

  describe("to_ms()", function()
    it("takes epoch seconds or ISO strings", function()
      assert.equal(1500, util.to_ms(1.5))
      assert.equal(86400000, util.to_ms("1970-01-02"))
    end)
    it("rejects NaN", function()
      local v, err = util.to_ms(0 / 0)
      assert.is_nil(v)
      assert.equal("expected a finite number of seconds", err)
    end)
  end)

  describe("encode()", function()
    it("encodes empty tables as arrays and sorts keys", function()
      assert.equal('{"a":[],"b":1,"c":["x"]}', util.encode({ c = { "x" }, b = 1, a = {} }))
    end)
  end)

  describe("sorted_keys()", function()
    it("returns the keys in sorted order and {} for an empty table", function()
      assert.same({ "a", "b", "c" }, util.sorted_keys({ c = 1, a = true, b = {} }))
      assert.same({}, util.sorted_keys({}))
    end)
  end)

  describe("new_id()", function()
    it("returns distinct 16-hex-digit ids", function()
      local seen = {}
      for _ = 1, 1000 do
        local id = util.new_id()
        assert.truthy(id:match("^%x+$"))
        assert.equal(16, #id)
        assert.is_nil(seen[id])
        seen[id] = true
      end
    end)
  end)
end)
