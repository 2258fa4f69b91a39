-- astrocyte.testing.common: cases every conformance suite shares — the SPI
-- shape check (every required method present and callable, SPI_VERSION 1 or
-- absent, per astrocyte.spi), the capabilities() and the health() check.
local spi = require "astrocyte.spi"

local _M = {}

-- Case: the provider is accepted for `group` by spi.check.
function _M.spi_case(group)
  return { "has every required method and SPI_VERSION 1 or none", function(t)
    local ok, err = spi.check(t.p, group)
    if not ok then t.fail("spi.check rejected the provider: %s", err.message) end
    local v = t.p.SPI_VERSION
    t.ok(v == nil or v == 1, "SPI_VERSION must be 1 or absent, got %s", tostring(v))
  end }
end

-- Case: capabilities() returns a valid `dto` (the group's capabilities DTO).
function _M.capabilities_case(dto)
  return { "capabilities() returns " .. dto, function(t)
    t.valid(dto, t.call("capabilities"), "capabilities()")
  end }
end

-- Case: health() returns a HealthStatus with healthy == true.
function _M.health_case()
  return { "health() returns a healthy HealthStatus", function(t)
    local h = t.call("health")
    t.valid("HealthStatus", h, "health()")
    t.ok(h.healthy == true, "health().healthy must be true for a reachable provider, got %s (%s)",
         tostring(h.healthy), tostring(h.message))
  end }
end

return _M
