-- Specs for astrocyte.policy.access: a matrix of principals × banks ×
-- permissions over grants with wildcards, the three default policies,
-- on-behalf-of intersection, exact AccessDenied messages, config errors, and
-- the AccessPolicyProvider seam with the built-in static_policy provider.
local access = require "astrocyte.policy.access"

local PERMS = { "recall", "retain", "reflect", "forget", "admin" }

-- Returns "r" letters for allowed permissions in PERMS order, e.g. "RW.F.".
local function row(ac, ctx, bank)
  local out = {}
  local letter = { recall = "R", retain = "W", reflect = "X", forget = "F", admin = "A" }
  for i, p in ipairs(PERMS) do out[i] = ac:check(ctx, bank, p) and letter[p] or "." end
  return table.concat(out)
end

local CFG = {
  access_control = { enabled = true, default_policy = "owner_only" },
  access_grants = {
    { bank_id = "shared-*", principal = "team:*", permissions = { "read" } },
    { bank_id = "shared-docs", principal = "team:docs", permissions = { "write", "forget" } },
    { bank_id = "*", principal = "service:ingest", permissions = { "write" } },
    { bank_id = "ops", principal = "*", permissions = { "recall" } },
    { bank_id = "proj-*-notes", principal = "agent:plan*", permissions = { "*" } },
    { bank_id = "user-ana", principal = "agent:helper", permissions = { "read", "write" } },
  },
  banks = {
    support = { access = { { principal = "bob", permissions = { "recall", "reflect", "retain" } } } },
  },
}

describe("astrocyte.policy.access", function()
  describe("check() matrix (owner_only)", function()
    local ac
    before_each(function() ac = assert(access.new(CFG)) end)

    local cases = {
      -- principal context,                                  bank,            R W X F A
      { { principal = "user:ana" },                          "user-ana",      "RWXFA" },
      { { principal = "ana" },                               "user-ana",      "RWXFA" },
      { { principal = "user:ana" },                          "user-bob",      "....." },
      { { principal = "agent:helper" },                      "agent-helper",  "RWXFA" },
      { { principal = "service:ingest" },                    "service-ingest","RWXFA" },
      { { principal = "service:ingest" },                    "anything",      ".W..." },
      { { principal = "user:ana" },                          "ops",           "R...." },
      { { principal = "agent:x" },                           "ops",           "R...." },
      { { principal = "user:ana", teams = { "support" } },   "shared-kb",     "R.X.." },
      { { principal = "user:ana", teams = { "team:docs" } }, "shared-docs",   "RWXF." },
      { { principal = "user:ana" },                          "shared-kb",     "....." },
      { { principal = "team:support" },                      "shared-kb",     "R.X.." },
      { { principal = "agent:planner" },                     "proj-7-notes",  "RWXFA" },
      { { principal = "agent:planner" },                     "proj-7-notes-x","....." },
      { { principal = "agent:reviewer" },                    "proj-7-notes",  "....." },
      { { principal = "bob" },                               "support",       "RWX.." },
      { { principal = "user:bobby" },                        "support",       "....." },
      { { actor = { type = "agent", id = "helper" } },       "user-ana",      "RWX.." },
      -- on behalf of: intersection of the actor's and the user's permissions
      { { principal = "agent:helper", on_behalf_of = "user:ana" }, "user-ana", "RWX.." },
      { { principal = "agent:helper", on_behalf_of = "user:bob" }, "user-ana", "....." },
      { { principal = "agent:planner", on_behalf_of = "user:ana" }, "ops",     "R...." },
      { { principal = "service:ingest", on_behalf_of = { type = "user", id = "ana" } }, "user-ana", ".W..." },
      { nil,                                                 "ops",           "....." },
      { {},                                                  "ops",           "....." },
    }
    for i, c in ipairs(cases) do
      it(string.format("case %d: %s on %s", i, c[1] and (c[1].principal or (c[1].actor and "actor") or "{}") or "anonymous", c[2]), function()
        assert.equal(c[3], row(ac, c[1], c[2]))
      end)
    end
  end)

  describe("AccessDenied", function()
    local ac
    before_each(function() ac = assert(access.new(CFG)) end)

    it("names principal, permission and bank", function()
      local ok, err = ac:check({ principal = "ana" }, "x", "recall")
      assert.is_nil(ok)
      assert.equal("AccessDenied", err.kind)
      assert.equal("user:ana may not recall bank 'x'", err.message)
      assert.equal("AccessDenied: user:ana may not recall bank 'x'", tostring(err))
      assert.equal("user:ana", err.principal)
      assert.equal("x", err.bank_id)
      assert.equal("recall", err.permission)
    end)

    it("names the represented user and anonymous callers", function()
      local _, err = ac:check({ principal = "agent:helper", on_behalf_of = "user:bob" }, "user-ana", "retain")
      assert.equal("agent:helper on behalf of user:bob may not retain bank 'user-ana'", err.message)
      assert.equal("user:bob", err.on_behalf_of)
      _, err = ac:check(nil, "ops", "forget")
      assert.equal("anonymous may not forget bank 'ops'", err.message)
      assert.equal("anonymous", err.principal)
    end)

    it("takes read/write as recall/retain and raises on unknown permissions", function()
      local _, err = ac:check({ principal = "ana" }, "x", "write")
      assert.equal("user:ana may not retain bank 'x'", err.message)
      assert.is_true(ac:check({ principal = "ana" }, "ops", "read"))
      assert.has_error(function() ac:check({ principal = "ana" }, "x", "fly") end, "access: unknown permission 'fly'")
    end)
  end)

  describe("policies", function()
    local function with(policy, enabled)
      return assert(access.new({ access_control = { enabled = enabled ~= false, default_policy = policy },
                                 access_grants = { { bank_id = "b", principal = "user:ana", permissions = { "recall" } } } }))
    end

    it("disabled allows everything, even anonymous", function()
      local ac = with("deny", false)
      assert.equal("RWXFA", row(ac, nil, "b"))
      assert.equal("RWXFA", row(ac, { principal = "eve" }, "zzz"))
    end)

    it("open (alias allow) allows everything", function()
      for _, p in ipairs({ "open", "allow" }) do
        local ac = with(p)
        assert.equal("RWXFA", row(ac, nil, "b"))
        assert.equal("RWXFA", row(ac, { principal = "eve" }, "user-ana"))
      end
    end)

    it("deny allows explicit grants only; owner_only adds own banks", function()
      local deny, owner = with("deny"), with("owner_only")
      assert.equal("R....", row(deny, { principal = "ana" }, "b"))
      assert.equal(".....", row(deny, { principal = "ana" }, "user-ana"))
      assert.equal("RWXFA", row(owner, { principal = "ana" }, "user-ana"))
      assert.equal(".....", row(owner, { principal = "ana" }, "user-bob"))
    end)

    it("honours identity bank prefixes", function()
      local ac = assert(access.new({ access_control = { enabled = true }, identity = { user_bank_prefix = "u/" } }))
      assert.equal("RWXFA", row(ac, { principal = "ana" }, "u/ana"))
      assert.equal(".....", row(ac, { principal = "ana" }, "user-ana"))
    end)

    it("accepts grants: as an alias of permissions: in banks.<id>.access", function()
      local ac = assert(access.new({ access_control = { enabled = true, default_policy = "deny" },
                                     banks = { b = { access = { { principal = "user:ana", grants = { "recall", "reflect" } } } } } }))
      assert.equal("R.X..", row(ac, { principal = "ana" }, "b"))
      assert.equal(".....", row(ac, { principal = "bob" }, "b"))
      local bad, err = access.new({ banks = { b = { access = { { principal = "ana", grants = { "fly" } } } } } })
      assert.is_nil(bad)
      assert.equal("banks.b.access[0].permissions", err.key_path)
      bad, err = access.new({ banks = { b = { access = { { principal = "ana", grants = { "recall" }, permissions = { "recall" } } } } } })
      assert.is_nil(bad)
      assert.equal("banks.b.access[0]: give permissions or grants (its alias), not both", err.message)
    end)

    it("replaces grants with set_grants", function()
      local ac = with("deny")
      assert.is_true(ac:set_grants({ { bank_id = "*", principal = "*", permissions = { "reflect" } } }))
      assert.equal("..X..", row(ac, { principal = "zed" }, "b"))
      assert.equal("..X..", row(ac, { principal = "ana" }, "b"))
      assert.same({ "a", "c" }, ac:allowed_banks({ principal = "x" }, { "c", "a" }, "reflect"))
    end)
  end)

  describe("config errors", function()
    local function err_of(cfg)
      local ac, err = access.new(cfg)
      assert.is_nil(ac)
      assert.equal("ConfigError", err.kind)
      return err.message
    end

    it("reports the reference's messages", function()
      assert.equal("Invalid access_grants entry at index 0: missing required field(s): bank_id, permissions",
                   err_of({ access_grants = { { principal = "ana" } } }))
      assert.equal("access_grants entry at index 0: permissions[2]: unknown permission 'raed' (expected recall, retain, reflect, forget, admin, read, write or *)",
                   err_of({ access_grants = { { bank_id = "b", principal = "ana", permissions = { "read", "raed" } } } }))
      assert.equal("banks.b.access[0]: permissions must be a list",
                   err_of({ banks = { b = { access = { { principal = "ana", permissions = "read" } } } } }))
      assert.equal("access_control.default_policy must be owner_only, open or deny, got 'maybe'",
                   err_of({ access_control = { default_policy = "maybe" } }))
    end)
  end)

  describe("policy provider", function()
    local RULES = {
      default = "none",
      rules = {
        { principal = "user:eve", bank_id = "*", permissions = { "*" }, effect = "deny" },
        { principal = "team:*", bank_id = "shared-*", permissions = { "read" } },
        { principal = "user:*", bank_id = "pub-*", permissions = { "recall" } },
      },
    }
    local function ac_with(comp, grants)
      return assert(access.new({
        access_control = { enabled = true, default_policy = "deny", policy_provider = "static_policy",
                           policy_provider_config = RULES, policy_composition = comp },
        access_grants = grants or { { bank_id = "pub-1", principal = "user:eve", permissions = { "recall" } },
                                    { bank_id = "cfg-only", principal = "user:ana", permissions = { "retain" } } },
      }))
    end

    it("config_then_external: config grants first, then the provider", function()
      local ac = ac_with(nil)
      assert.is_true(ac:check({ principal = "eve" }, "pub-1", "recall"))       -- config allows
      assert.is_true(ac:check({ principal = "ana" }, "pub-9", "recall"))       -- provider allows
      assert.is_true(ac:check({ principal = "ana" }, "cfg-only", "retain"))
      local _, err = ac:check({ principal = "eve" }, "pub-9", "recall")
      assert.equal("user:eve may not recall bank 'pub-9' (static_policy rule 1)", err.message)
      assert.equal("static_policy rule 1", err.reason)
      _, err = ac:check({ principal = "ana" }, "pub-9", "retain")               -- no opinion: deny
      assert.equal("user:ana may not retain bank 'pub-9'", err.message)
    end)

    it("external_then_config: the provider's answer wins, config when it has none", function()
      local ac = ac_with("external_then_config")
      assert.is_nil((ac:check({ principal = "eve" }, "pub-1", "recall")))      -- provider denies eve
      assert.is_true(ac:check({ principal = "ana" }, "cfg-only", "retain"))    -- no opinion: config
      assert.is_true(ac:check({ principal = "team:docs" }, "shared-x", "reflect"))
    end)

    it("external_only ignores config grants", function()
      local ac = ac_with("external_only")
      assert.is_nil((ac:check({ principal = "ana" }, "cfg-only", "retain")))
      assert.is_true(ac:check({ principal = "ana" }, "pub-2", "recall"))
    end)

    it("asks about both parties on behalf of someone", function()
      local ac = ac_with("external_only")
      assert.is_true(ac:check({ principal = "user:ana", on_behalf_of = "user:bob" }, "pub-1", "recall"))
      local _, err = ac:check({ principal = "user:ana", on_behalf_of = "user:eve" }, "pub-1", "recall")
      assert.equal("user:ana on behalf of user:eve may not recall bank 'pub-1' (static_policy rule 1)", err.message)
    end)

    it("fails closed when the provider raises, and accepts an injected provider", function()
      local ac = assert(access.new({ access_control = { enabled = true, policy_composition = "external_only" } },
                                   { provider = { check = function() error("pdp down", 0) end } }))
      local _, err = ac:check({ principal = "ana" }, "b", "recall")
      assert.equal("user:ana may not recall bank 'b' (policy provider failed: pdp down)", err.message)
    end)

    it("reports provider config errors through the registry", function()
      local ac, err = access.new({ access_control = { enabled = true, policy_provider = "no_such_pdp" } })
      assert.is_nil(ac)
      assert.equal("ConfigError", err.kind)
      assert.equal("access_control.policy_provider", err.key_path)
      ac, err = access.new({ access_control = { enabled = true, policy_provider = "static_policy",
                                                policy_provider_config = { rules = { { principal = "a" } } } } })
      assert.equal("access_control.policy_provider: static_policy: rules[1] needs principal and bank_id strings", err.message)
      ac, err = access.new({ access_control = { enabled = true, policy_provider = "static_policy", policy_composition = "vote" } })
      assert.equal("access_control.policy_composition must be external_only, config_then_external or external_then_config, got 'vote'", err.message)
    end)
  end)
end)
