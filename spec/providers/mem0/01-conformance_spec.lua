-- astrocyte.providers.mem0 against the loopback Mem0
-- (spec/support/servers/mem0_server.py): EngineProvider conformance on the
-- platform API and on the open-source server's routes, DTO mapping both
-- ways, faults, and the key never leaking.
local testing = require "astrocyte.testing"
local server = require "support.server"
local mem0 = require "astrocyte.providers.mem0"

local KEY = "m0-key-a1b2c3d4e5f6a7b8"

describe("mem0 provider", function()
  local s
  setup(function() s = server.start("mem0", { "--api-key", KEY }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { base_url = s.url, api_key = KEY, max_retries = 2, backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(mem0.engine_providers(conf))
  end

  testing.engine_provider(function() s:reset(); return new() end, { title = "mem0 (platform API)" })
  testing.engine_provider(function() s:reset(); return new({ api = "oss" }) end, { title = "mem0 (OSS server)" })

  before_each(function() s:reset() end)

  it("maps RetainRequest fields into Mem0 metadata and back onto hits", function()
    local p = new()
    local r = assert(p:retain({ content = "Ana prefers green tea", bank_id = "ana", tags = { "drinks" },
      occurred_at = "2024-05-01T10:00:00Z", fact_type = "experience", metadata = { source_app = "chat" } }))
    assert.is_true(r.stored)
    local hit = assert(p:recall({ query = "green tea", bank_id = "ana" })).hits[1]
    assert.equal(r.memory_id, hit.memory_id)
    assert.same({ "drinks" }, hit.tags)
    assert.equal("2024-05-01T10:00:00Z", hit.occurred_at)
    assert.equal("experience", hit.fact_type)
    assert.same({ source_app = "chat" }, hit.metadata)
    assert.equal("ana", hit.bank_id)
  end)

  it("filters recall by tags", function()
    local p = new()
    assert(p:retain({ content = "tea one", bank_id = "b", tags = { "x" } }))
    assert(p:retain({ content = "tea two", bank_id = "b", tags = { "y" } }))
    local hits = assert(p:recall({ query = "tea", bank_id = "b", tags = { "y" } })).hits
    assert.equal(1, #hits)
    assert.equal("tea two", hits[1].text)
  end)

  it("forgets a whole bank and only that bank", function()
    local p = new()
    assert(p:retain({ content = "a", bank_id = "b1" }))
    assert(p:retain({ content = "b", bank_id = "b1" }))
    local other = assert(p:retain({ content = "c", bank_id = "b2" }))
    assert.equal(2, assert(p:forget({ bank_id = "b1", scope = "all" })).deleted_count)
    assert.equal(0, assert(p:forget({ bank_id = "b1", memory_ids = { other.memory_id } })).deleted_count)
    assert.equal(1, #assert(p:recall({ query = "c", bank_id = "b2" })).hits)
  end)

  it("declares no reflect, and forget by tags is CapabilityNotSupported", function()
    assert.is_false(new():capabilities().supports_reflect)
    local v, err = new():forget({ bank_id = "b", tags = { "x" } })
    assert.is_nil(v)
    assert.equal("CapabilityNotSupported", err.kind)
  end)

  it("does not retry a non-idempotent add on 5xx, retries 429, never leaks the key", function()
    local p = new()
    s:fault { kind = "502", count = 1 }
    local v, err = p:retain({ content = "x", bank_id = "b" })
    assert.is_nil(v)
    assert.equal(502, err.status)
    s:fault { kind = "429", count = 1, retry_after = "0" }
    assert(p:retain({ content = "x", bank_id = "b" }))
    v, err = new({ api_key = "m0-wrong-key-998877665544" }):recall({ query = "x", bank_id = "b" })
    assert.is_nil(v)
    assert.equal(401, err.status)
    assert.is_nil(tostring(err):find("m0-wrong-key-998877665544", 1, true))
  end)
end)
