-- Specs for astrocyte.policy.homeostasis: per bank+operation token buckets,
-- the enforced global bucket, daily quotas recorded after success, per-bank
-- overrides and the backend seam. A fake clock makes every case exact.
local homeostasis = require "astrocyte.policy.homeostasis"

describe("astrocyte.policy.homeostasis", function()
  local now
  local function clock() return now end
  local function new(conf, opts)
    opts = opts or {}
    opts.clock = clock
    return assert(homeostasis.new(conf, opts))
  end

  before_each(function() now = 1000 * 86400 + 100 end)

  it("allows everything without limits", function()
    local h = new(nil)
    for _ = 1, 100 do assert.is_true(h:check("b", "retain")) end
    assert.is_true(h:record("b", "retain"))
  end)

  it("limits each bank and operation separately", function()
    local h = new({ rate_limits = { retain_per_minute = 2, recall_per_minute = 1 } })
    assert.is_true(h:check("b", "retain"))
    assert.is_true(h:check("b", "retain"))
    local ok, err = h:check("b", "retain")
    assert.is_nil(ok)
    assert.equal("RateLimited", err.kind)
    assert.equal("retain on bank 'b' exceeds 2 per minute (retry after 30.000 s)", err.message)
    assert.equal("b", err.bank_id)
    assert.equal("retain", err.operation)
    assert.equal(30, err.retry_after)
    assert.equal("bank", err.scope)
    assert.is_true(h:check("c", "retain"))
    assert.is_true(h:check("b", "recall"))
    assert.is_true(h:check("b", "reflect"))     -- no reflect limit
    now = now + 30
    assert.is_true(h:check("b", "retain"))
  end)

  it("rounds retry_after up to the millisecond", function()
    local h = new({ rate_limits = { recall_per_minute = 7 } })
    for _ = 1, 7 do assert.is_true(h:check("b", "recall")) end
    now = now + 1
    local _, err = h:check("b", "recall")
    -- 7/60 tokens per second: 1 - 7/60 tokens missing => 7.571428... s
    assert.equal(7.572, err.retry_after)
    assert.equal("recall on bank 'b' exceeds 7 per minute (retry after 7.572 s)", err.message)
  end)

  it("enforces global_per_minute across banks and operations", function()
    local h = new({ rate_limits = { global_per_minute = 3 } })
    assert.is_true(h:check("a", "retain"))
    assert.is_true(h:check("b", "recall"))
    assert.is_true(h:check("c", "reflect"))
    local ok, err = h:check("d", "recall")
    assert.is_nil(ok)
    assert.equal("recall on all banks exceeds the global 3 per minute (retry after 20.000 s)", err.message)
    assert.equal("global", err.scope)
    assert.equal("d", err.bank_id)
  end)

  it("checks daily quotas and records them only on success", function()
    local h = new({ quotas = { retain_per_day = 2, reflect_per_day = 1 } })
    assert.is_true(h:check("b", "retain"))
    assert.is_true(h:check("b", "retain"))
    assert.is_true(h:check("b", "retain"))      -- nothing recorded yet
    assert.is_true(h:record("b", "retain"))
    assert.is_true(h:record("b", "retain"))
    local ok, err = h:check("b", "retain")
    assert.is_nil(ok)
    assert.equal("retain on bank 'b' reached its daily quota of 2 (retry after 86300.000 s)", err.message)
    assert.equal("quota", err.scope)
    assert.is_true(h:check("b", "recall"))      -- recall has no quota
    assert.is_true(h:record("b", "recall"))
    assert.is_true(h:check("other", "retain"))
    now = now + 86300                             -- next UTC day
    assert.is_true(h:check("b", "retain"))
  end)

  it("applies per-bank overrides on top of the defaults", function()
    local h = new({ rate_limits = { retain_per_minute = 1, recall_per_minute = 1 } })
    local bank = { rate_limits = { retain_per_minute = 3 } }
    for _ = 1, 3 do assert.is_true(h:check("vip", "retain", bank)) end
    assert.is_nil((h:check("vip", "retain", bank)))
    assert.is_true(h:check("vip", "recall", bank))
    assert.is_nil((h:check("vip", "recall", bank)))
  end)

  it("keeps state behind a replaceable backend", function()
    local calls = {}
    local backend = {
      check = function(_, key, per_minute, t) calls[#calls + 1] = { "check", key, per_minute, t }; return false, 0.0004 end,
      quota = function() return true, 0 end,
      record = function(_, key, day) calls[#calls + 1] = { "record", key, day }; return true end,
    }
    local h = new({ rate_limits = { reflect_per_minute = 5 }, quotas = { reflect_per_day = 9 } }, { backend = backend })
    local _, err = h:check("b", "reflect")
    assert.equal(0.001, err.retry_after)
    assert.is_true(h:record("b", "reflect"))
    assert.same({ { "check", "b:reflect", 5, now }, { "record", "b:reflect", 1000 } }, calls)
  end)

  it("rejects bad limits with ConfigError", function()
    local h, err = homeostasis.new({ rate_limits = { retain_per_minute = 0 } })
    assert.is_nil(h)
    assert.equal("ConfigError", err.kind)
    assert.equal("homeostasis.rate_limits.retain_per_minute must be a positive number, got 0", err.message)
    h, err = homeostasis.new({ quotas = { reflect_per_day = 1.5 } })
    assert.equal("homeostasis.quotas.reflect_per_day must be an integer", err.message)
    h, err = homeostasis.new(5)
    assert.equal("homeostasis must be a table", err.message)
  end)

  it("uses a real clock by default", function()
    local h = assert(homeostasis.new({ rate_limits = { retain_per_minute = 1 } }))
    assert.is_true(h:check("b", "retain"))
    assert.is_nil((h:check("b", "retain")))
  end)
end)
