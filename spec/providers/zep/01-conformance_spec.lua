-- astrocyte.providers.zep against the loopback Zep v2 sessions API
-- (spec/support/servers/zep_server.py): EngineProvider conformance, DTO
-- mapping both ways, honest capabilities, faults and key redaction.
local testing = require "astrocyte.testing"
local server = require "support.server"
local zep = require "astrocyte.providers.zep"

local KEY = "z-key-0a1b2c3d4e5f6789"

describe("zep provider", function()
  local s
  setup(function() s = server.start("zep", { "--api-key", KEY }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { base_url = s.url, api_key = KEY, max_retries = 2, backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(zep.engine_providers(conf))
  end

  testing.engine_provider(function() s:reset(); return new() end)

  before_each(function() s:reset() end)

  it("maps retain fields into message metadata and back onto hits", function()
    local p = new()
    local r = assert(p:retain({ content = "Ana prefers green tea", bank_id = "ana", tags = { "drinks" },
      occurred_at = "2024-05-01T10:00:00Z", metadata = { channel = "chat" } }))
    local hit = assert(p:recall({ query = "green tea", bank_id = "ana" })).hits[1]
    assert.equal(r.memory_id, hit.memory_id)
    assert.same({ "drinks" }, hit.tags)
    assert.equal("2024-05-01T10:00:00Z", hit.occurred_at)
    assert.same({ channel = "chat" }, hit.metadata)
    assert.equal(0, #assert(p:recall({ query = "green tea", bank_id = "ana", tags = { "other" } })).hits)
  end)

  it("asks for max_results hits, five times that when it filters tags or fact types itself", function()
    local shared = require "astrocyte.providers.shared"
    assert.equal(10, shared.recall_window({}))
    assert.equal(7, shared.recall_window({ max_results = 7, tags = {} }))
    assert.equal(35, shared.recall_window({ max_results = 7, tags = { "a" } }))
    assert.equal(50, shared.recall_window({ fact_types = { "world" } }))
  end)

  it("declares forget and reflect unsupported; forget(scope = all) clears the session", function()
    local p = new()
    local c = p:capabilities()
    assert.is_false(c.supports_forget)
    assert.is_false(c.supports_reflect)
    assert(p:retain({ content = "a fact", bank_id = "b" }))
    assert(p:forget({ bank_id = "b", scope = "all" }))
    assert.same({}, assert(p:recall({ query = "fact", bank_id = "b" })).hits)
    local v, err = p:forget({ bank_id = "b", memory_ids = { "x" } })
    assert.is_nil(v)
    assert.equal("CapabilityNotSupported", err.kind)
  end)

  it("retries searches on 503 and reports resets and bad keys without the key", function()
    local p = new()
    assert(p:retain({ content = "x y", bank_id = "b" }))
    s:fault { kind = "503", count = 1, path = "search" }
    assert(p:recall({ query = "x", bank_id = "b" }))
    s:fault { kind = "reset", count = 9 }
    local v, err = p:recall({ query = "x", bank_id = "b" })
    assert.is_nil(v)
    assert.equal("reset", err.network_error)
    s:reset()
    v, err = new({ api_key = "z-wrong-key-5566778899" }):recall({ query = "x", bank_id = "b" })
    assert.is_nil(v)
    assert.equal(401, err.status)
    assert.is_nil(tostring(err):find("z-wrong-key-5566778899", 1, true))
  end)
end)
