describe("astrocyte.providers.opa against a loopback OPA", function()
  local server = require "support.server"
  local astrocyte = require "astrocyte"
  local curl = require "astrocyte.http_curl"
  local srv

  setup(function() srv = server.start("opa") end)
  teardown(function() if srv then srv:stop() end end)

  local function put_rules(rules)
    local c = curl.new()
    local res = assert(c:request({ method = "PUT", url = srv.url .. "/v1/data/astrocyte/rules",
      headers = { ["Content-Type"] = "application/json" }, body = require("astrocyte.http").encode(rules) }))
    assert.equal(204, res.status)
  end

  before_each(function()
    srv:reset()
    put_rules({
      { principal = "user:ana", bank_id = "*", permissions = { "*" } },
      { principal = "team:*", bank_id = "shared-*", permissions = { "read" } },
      { principal = "user:eve", bank_id = "*", permissions = { "*" }, effect = "deny" },
    })
  end)

  it("passes the AccessPolicy conformance suite", function()
    local testing = require "astrocyte.testing"
    local r = testing.run_suite("access_policy", function()
      return require("astrocyte.providers.opa").new({ url = srv.url, path = "astrocyte/allow" })
    end, { allowed = { { "user:ana", "b1", "write" } }, denied = { { "user:eve", "b1", "read" } } })
    assert.same({}, r.failed)
    assert.is_true(r.passed > 0)
  end)

  it("decides every engine call through OPA", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory",
      access_control = { enabled = true, default_policy = "deny", policy_provider = "opa",
                         policy_composition = "external_only",
                         policy_provider_config = { url = srv.url, path = "astrocyte/decision" } } }))
    assert(eng:retain("quarterly numbers", { bank_id = "shared-fin", principal = "user:ana" }))
    assert(eng:recall("numbers", { bank_id = "shared-fin", principal = "team:finance" }))
    local res, err = eng:retain("x", { bank_id = "shared-fin", principal = "team:finance" })
    assert.is_nil(res)
    assert.equal("AccessDenied", err.kind)
    assert.truthy(err.message:find("team:finance may not retain bank 'shared-fin'", 1, true), err.message)
    res, err = eng:recall("numbers", { bank_id = "shared-fin", principal = "user:eve" })
    assert.is_nil(res)
    assert.truthy(err.message:find("rule 3", 1, true), err.message)
    assert.is_true(srv:stats().requests >= 4)
    eng:close()
  end)

  it("fails closed when OPA is unreachable", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory",
      access_control = { enabled = true, default_policy = "deny", policy_provider = "opa",
                         policy_composition = "external_only",
                         policy_provider_config = { url = "http://127.0.0.1:9", max_retries = 0, timeout_ms = 500 } } }))
    local res, err = eng:recall("x", { bank_id = "b", principal = "user:ana" })
    assert.is_nil(res)
    assert.equal("AccessDenied", err.kind)
    assert.truthy(err.message:find("policy provider failed", 1, true), err.message)
    eng:close()
  end)
end)
