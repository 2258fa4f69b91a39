-- astrocyte.testing.access_policy: the AccessPolicyProvider conformance
-- cases (spi.md §1.12). check(principal, bank_id, permission, context)
-- returns the decision as a boolean (or a table { allowed = bool, reason })
-- plus an optional reason string. Decisions must be consistent, unknown
-- permissions must never be allowed, and the author's expectations
-- opts.allowed / opts.denied (lists of {principal, bank_id, permission})
-- must hold.
local common = require "astrocyte.testing.common"

local PERMS = { "read", "write", "forget", "admin" }

-- Calls check; returns allowed (boolean), reason, or fails the case.
local function decide(t, principal, bank, perm, context)
  local d, reason = t.call("check", principal, bank, perm, context)
  local allowed
  if type(d) == "boolean" then
    allowed = d
  elseif type(d) == "table" and type(d.allowed) == "boolean" then
    allowed, reason = d.allowed, d.reason or reason
  else
    t.fail("check(%s, %s, %s) must return a boolean or {allowed = bool}, got %s", principal, bank, perm, t.show(d))
  end
  t.ok(reason == nil or type(reason) == "string", "check reason must be a string, got %s", t.show(reason))
  return allowed, reason
end

local function subjects(t)
  local list = {}
  for _, c in ipairs(t.opts.allowed or {}) do list[#list + 1] = c end
  for _, c in ipairs(t.opts.denied or {}) do list[#list + 1] = c end
  if #list == 0 then list[1] = { "user:conformance", "bank-a", "read" } end
  return list
end

local cases = {
  common.spi_case("access_policies"),

  { "check returns a decision for every permission", function(t)
    for _, s in ipairs(subjects(t)) do
      for _, perm in ipairs(PERMS) do decide(t, s[1], s[2], perm, { tenant_id = "t1" }) end
    end
  end },

  { "check is consistent for the same question", function(t)
    for _, s in ipairs(subjects(t)) do
      for _, perm in ipairs(PERMS) do
        local a = decide(t, s[1], s[2], perm)
        local b = decide(t, s[1], s[2], perm)
        t.eq(a, b, "two decisions for " .. s[1] .. " on " .. s[2] .. " / " .. perm)
      end
    end
  end },

  { "check never allows an unknown permission", function(t)
    for _, s in ipairs(subjects(t)) do
      local ok, d = pcall(t.call, "check", s[1], s[2], "superpower")
      if ok then
        local allowed = d == true or (type(d) == "table" and d.allowed == true)
        t.ok(not allowed, "check(%s, %s, 'superpower') allowed an unknown permission", s[1], s[2])
      end
    end
  end },

  { "check allows what opts.allowed lists and denies what opts.denied lists", function(t)
    for _, s in ipairs(t.opts.allowed or {}) do
      t.eq(true, (decide(t, s[1], s[2], s[3])), "decision for " .. table.concat(s, " / "))
    end
    for _, s in ipairs(t.opts.denied or {}) do
      t.eq(false, (decide(t, s[1], s[2], s[3])), "decision for " .. table.concat(s, " / "))
    end
  end },
}

return { title = "AccessPolicyProvider", group = "access_policies", cases = cases }
