-- Specs for astrocyte.policy.escalation: per-provider circuit breakers with
-- the reference transitions, guard(), status() and degraded-mode results.
local escalation = require "astrocyte.policy.escalation"
local errors = require "astrocyte.errors"

describe("astrocyte.policy.escalation", function()
  local now, esc
  local function clock() return now end

  before_each(function()
    now = 0
    esc = assert(escalation.new({ circuit_breaker = { failure_threshold = 2, recovery_timeout_seconds = 10, half_open_max_calls = 1 } },
                                { clock = clock }))
  end)

  local function fail() return nil, errors.storage("disk gone") end
  local function ok(a, b) return a, b end

  it("passes results through and counts failures per provider", function()
    assert.same({ 1, 2 }, { esc:guard("p", ok, 1, 2) })
    local r, err = esc:guard("p", fail)
    assert.is_nil(r)
    assert.equal("disk gone", err.message)
    assert.equal("closed", esc:status()[1].state)
    esc:guard("p", fail)
    assert.same({ { provider = "p", state = "open", failures = 2 } }, esc:status())
    r, err = esc:guard("p", ok, 1)
    assert.is_nil(r)
    assert.equal("ProviderUnavailable", err.kind)
    assert.equal("provider 'p' unavailable: circuit breaker open", err.message)
    assert.equal("p", err.provider)
    assert.equal("circuit breaker open", err.reason)
    assert.equal(1, (esc:guard("q", ok, 1)))    -- other providers unaffected
  end)

  it("half-opens after the timeout and closes on success", function()
    esc:failure("p"); esc:failure("p")
    now = 9.9
    assert.is_nil((esc:check("p")))
    now = 10
    assert.equal("half_open", esc:status()[1].state)
    assert.is_true(esc:check("p"))
    assert.is_nil((esc:check("p")))             -- half_open_max_calls = 1
    esc:success("p")
    assert.same({ provider = "p", state = "closed", failures = 0 }, esc:status()[1])
  end)

  it("re-opens on a single half-open failure", function()
    esc:failure("p"); esc:failure("p")
    now = 10
    assert.equal(1, (esc:guard("p", ok, 1)))
    esc:failure("p"); esc:failure("p")
    now = 20
    local _, err = esc:guard("p", fail)
    assert.equal("disk gone", err.message)
    assert.equal("open", esc:status()[1].state)
  end)

  it("counts raised errors as failures but not request errors", function()
    local r, err = esc:guard("p", function() error("kaput") end)
    assert.is_nil(r)
    assert.equal("InternalError", err.kind)
    assert.matches("^provider 'p' raised: .*kaput", err.message)
    esc:guard("p", function() return nil, errors.validation("bad input") end)
    assert.equal(0, esc:status()[1].failures)   -- validation reset it by success
    esc:guard("p", function() error("again") end)
    esc:guard("p", function() return nil, "plain string error" end)
    assert.equal("open", esc:status()[1].state)
  end)

  it("lists breakers sorted by provider", function()
    esc:check("zeta"); esc:check("alpha")
    local s = esc:status()
    assert.equal("alpha", s[1].provider)
    assert.equal("zeta", s[2].provider)
  end)

  it("gives degraded-mode results", function()
    assert.same({ hits = {}, total_available = 0, truncated = false }, esc:degraded("recall", "p"))
    assert.same({ stored = false, error = "Provider unavailable (degraded mode)" }, esc:degraded("retain", "p"))
    assert.same({ answer = "Memory unavailable", sources = {} }, esc:degraded("reflect", "p"))
    local e = assert(escalation.new({ degraded_mode = "error" }))
    local r, err = e:degraded("recall", "p")
    assert.is_nil(r)
    assert.equal("provider 'p' unavailable: degraded mode: error", err.message)
    assert.equal("cache", assert(escalation.new({ degraded_mode = "cache" })).degraded_mode)
  end)

  it("uses the reference defaults", function()
    local e = assert(escalation.new(nil, { clock = clock }))
    assert.same({ failure_threshold = 5, recovery_timeout = 30, half_open_max_calls = 2 }, e.opts)
    assert.equal("empty_recall", e.degraded_mode)
    for _ = 1, 4 do e:failure("p") end
    assert.is_true(e:check("p"))
    e:failure("p")
    assert.is_nil((e:check("p")))
  end)

  it("rejects bad config", function()
    local e, err = escalation.new({ degraded_mode = "panic" })
    assert.is_nil(e)
    assert.equal("escalation.degraded_mode must be empty_recall, error or cache, got 'panic'", err.message)
    e, err = escalation.new({ circuit_breaker = { failure_threshold = 0 } })
    assert.equal("escalation.circuit_breaker.failure_threshold must be a positive integer, got 0", err.message)
    e, err = escalation.new({ circuit_breaker = { recovery_timeout_seconds = -1 } })
    assert.equal("escalation.circuit_breaker.recovery_timeout_seconds must be a non-negative number, got -1", err.message)
  end)
end)
