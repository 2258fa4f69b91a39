describe("Tier 2: an engine provider behind the policy layer", function()
  local astrocyte = require "astrocyte"

  local function open(extra)
    local cfg = { provider = "in_memory", provider_config = {} }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return astrocyte.open(cfg)
  end

  it("retains and recalls through the provider", function()
    local eng = assert(open())
    assert.is_truthy(eng.engine_caps.supports_reflect)
    local res = assert(eng:retain("Ana prefers green tea", { bank_id = "ana" }))
    assert.is_true(res.stored)
    local rec = assert(eng:recall("green tea", { bank_id = "ana" }))
    assert.equal("Ana prefers green tea", rec.hits[1].text)
    assert.equal("ana", rec.hits[1].bank_id)
    assert.same({ "engine:in_memory" }, rec.trace.strategies_used)
    assert.same({}, assert(eng:recall("green tea", { bank_id = "other" })).hits)
    local f = assert(eng:forget({ bank_id = "ana", memory_ids = { res.memory_id } }))
    assert.equal(1, f.deleted_count)
    eng:close()
  end)

  it("applies fallback_strategy when the provider cannot reflect or forget", function()
    local cases = {
      { "error", "CapabilityNotSupported: provider 'in_memory' does not support reflect" },
      { "degrade", nil },
    }
    for _, c in ipairs(cases) do
      local eng = assert(open({ provider_config = { supports_reflect = false, supports_forget = false },
                                fallback_strategy = c[1] }))
      assert(eng:retain("The standup is at 9:30", { bank_id = "b" }))
      local res, err = eng:reflect("when is the standup", { bank_id = "b" })
      if c[2] then
        assert.is_nil(res)
        assert.equal(c[2], tostring(err))
        local f, ferr = eng:forget({ bank_id = "b", scope = "all" })
        assert.is_nil(f)
        assert.equal("CapabilityNotSupported: provider 'in_memory' does not support forget", tostring(ferr))
      else
        assert.equal("The standup is at 9:30", res.answer)
        assert.equal("degrade", res.fallback)
        local f = assert(eng:forget({ bank_id = "b", scope = "all" }))
        assert.equal(0, f.deleted_count)
        assert.truthy(f.warning)
      end
      eng:close()
    end
  end)

  it("synthesizes with the LLM under local_llm, and requires one", function()
    local eng, err = open({ provider_config = { supports_reflect = false }, fallback_strategy = "local_llm" })
    assert.is_nil(eng)
    assert.equal("ConfigError: fallback_strategy local_llm needs llm_provider (the engine provider cannot reflect)", tostring(err))
    eng = assert(open({ provider_config = { supports_reflect = false }, fallback_strategy = "local_llm", llm_provider = "mock" }))
    assert(eng:retain("The standup is at 9:30", { bank_id = "b" }))
    local res = assert(eng:reflect("when is the standup", { bank_id = "b" }))
    assert.equal("Based on my memories: The standup is at 9:30", res.answer)
    assert.equal("local_llm", res.fallback)
    eng:close()
  end)

  it("still enforces policy before the provider", function()
    local eng = assert(open({ barriers = { pii = { mode = "regex", action = "reject" } },
                              access_control = { enabled = true, default_policy = "deny" },
                              access_grants = { { bank_id = "b", principal = "user:ana", permissions = { "*" } } } }))
    local res, err = eng:retain("mail me at ana@example.com", { bank_id = "b", principal = "user:ana" })
    assert.is_nil(res)
    assert.equal("PiiRejected", err.kind)
    res, err = eng:retain("hello", { bank_id = "b", principal = "user:bob" })
    assert.is_nil(res)
    assert.equal("AccessDenied", err.kind)
    eng:close()
  end)
end)
