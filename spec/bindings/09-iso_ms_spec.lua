-- core.iso_ms (util.iso): the C formatter must give exactly the text of the
-- Lua formatter it replaced (kept below as the oracle), over random instants
-- from year 1 to 9999 and before 1970, and refuse what it cannot format.
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local floor, fmt = math.floor, string.format

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local function oracle(ms)
  local secs = floor(ms / 1000)
  local frac = ms - secs * 1000
  local days = floor(secs / 86400)
  local rem = secs - days * 86400
  local y, m, d = civil_from_days(days)
  local s = fmt("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, floor(rem / 3600), floor(rem % 3600 / 60), rem % 60)
  if frac ~= 0 then s = s .. fmt(".%03d", frac) end
  return s .. "Z"
end

describe("core.iso_ms", function()
  it("formats as the Lua formatter did, over 20000 random instants from year 1 to 9999", function()
    local lo, hi = -62135596800000, 253402300799999     -- 0001-01-01 .. 9999-12-31T23:59:59.999
    local seed = 12345
    local function rand()                               -- deterministic on both runtimes
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    end
    for _ = 1, 20000 do
      local ms = floor(lo + (hi - lo) * rand())
      if rand() < 0.3 then ms = ms - ms % 1000 end       -- whole seconds: no fraction
      assert.equal(oracle(ms), core.iso_ms(ms))
    end
  end)

  it("gets the edges right: the epoch, the ms before it, leap days, century years", function()
    assert.equal("1970-01-01T00:00:00Z", core.iso_ms(0))
    assert.equal("1969-12-31T23:59:59.999Z", core.iso_ms(-1))
    assert.equal("1969-12-31T00:00:00Z", core.iso_ms(-86400000))
    assert.equal("2024-02-29T23:59:59Z", core.iso_ms(1709251199000))
    assert.equal("2000-02-29T12:00:00.500Z", core.iso_ms(951825600500))
    assert.equal("1900-03-01T00:00:00Z", core.iso_ms(-2203891200000))
    assert.equal("0001-01-01T00:00:00Z", core.iso_ms(-62135596800000))
    assert.equal("9999-12-31T23:59:59.999Z", core.iso_ms(253402300799999))
    for _, ms in ipairs({ 0, -1, 1, 999, 1000, 951825600500, -62135596800000 }) do
      assert.equal(ms, util.parse_iso(core.iso_ms(ms)))
    end
  end)

  it("refuses what is not a finite number below 2^53, and util.iso passes nil through", function()
    assert.has_error(function() core.iso_ms(0 / 0) end)
    assert.has_error(function() core.iso_ms(math.huge) end)
    assert.has_error(function() core.iso_ms(2 ^ 60) end)
    assert.has_error(function() core.iso_ms("x") end)
    assert.is_nil(util.iso(nil))
    assert.equal(core.iso_ms(1700000000123), util.iso(1700000000123))
  end)
end)
