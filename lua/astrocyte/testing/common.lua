-- astrocyte.testing.common: cases every conformance suite shares — the SPI
-- shape check (every required method present and callable, SPI_VERSION 1 or
-- absent, per astrocyte.spi), the capabilities() and the health() check, and
-- the revision cases of the wiki and mental-model stores.
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

-- Cases the revisioned stores (wiki pages, mental models) share: upsert
-- then get returns revision 1; a second upsert bumps the revision and archives the first (when the store exposes
-- list_revisions); get of an unknown id or in another bank returns nil;
-- delete returns true, then false, and hides the record. `s` names the
-- methods (upsert, get, list, delete), the bank, the record `what` ("page",
-- "model") and its `dto` type, its two ids (`id`, `unknown`), `make(id,
-- extra)` building a record whose content is `content` and source ids
-- `source_ids`, `check(t, r)` for the rest of a fresh record, and
-- `returns(rev, id)`, the value upsert is expected to return.
function _M.revision_cases(s)
  local what, id, bank = s.what, s.id, s.bank
  return {
    { s.upsert .. " then " .. s.get .. " returns revision 1", function(t)
      t.eq(s.returns(1, id), t.call(s.upsert, s.make(id), bank), "first " .. s.upsert)
      local r = t.call(s.get, id, bank)
      t.ok(r ~= nil, "%s returned nil after %s", s.get, s.upsert)
      t.valid(s.dto, r, s.get)
      t.eq(1, r.revision, "revision of a new " .. what); t.eq(s.content, r.content, "content")
      t.same(s.source_ids, r.source_ids, "source_ids")
      s.check(t, r)
    end },

    { s.upsert .. " of an existing " .. what .. " bumps the revision and replaces content", function(t)
      t.call(s.upsert, s.make(id), bank)
      t.eq(s.returns(2, id), t.call(s.upsert, s.make(id, { content = "Revised" }), bank), "second " .. s.upsert)
      local r = t.call(s.get, id, bank)
      t.eq(2, r.revision, "revision after the second upsert"); t.eq("Revised", r.content, "content")
      if t.has("list_revisions") then
        local old = t.call("list_revisions", id, bank)
        t.eq(1, #old, "archived revisions")
        t.eq(1, old[1].revision, "archived revision number")
        t.eq(s.content, old[1].content, "archived content")
      end
    end },

    { s.get .. " of an unknown " .. what .. " or in another bank returns nil", function(t)
      t.call(s.upsert, s.make(id), bank)
      t.eq(nil, t.call(s.get, s.unknown, bank), s.get .. " of an unknown " .. what)
      t.eq(nil, t.call(s.get, id, "other-bank"), s.get .. " in another bank")
    end },

    { s.delete .. " returns true, then false, and the " .. what .. " is gone", function(t)
      t.call(s.upsert, s.make(id), bank)
      t.eq(false, t.call(s.delete, id, "other-bank"), s.delete .. " in another bank")
      t.eq(true, t.call(s.delete, id, bank), "first " .. s.delete)
      t.eq(false, t.call(s.delete, id, bank), "second " .. s.delete)
      t.eq(nil, t.call(s.get, id, bank), s.get .. " after delete")
      t.same({}, t.call(s.list, bank), s.list .. " after delete")
    end },
  }
end

return _M
