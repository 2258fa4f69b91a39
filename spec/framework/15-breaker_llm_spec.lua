-- The circuit breaker against a real (loopback) LLM server that goes away
-- mid-run: reflect degrades to extractive answers, the breaker opens (no more
-- calls are attempted), and after the server is back a half-open probe
-- closes it again.
describe("circuit breaker around the LLM provider", function()
  local server = require "support.server"
  local astrocyte = require "astrocyte"
  local curl = require "astrocyte.http_curl"
  local KEY = "sk-breaker-test-000111"

  it("opens when the LLM server stops, degrades reflect, and recovers through half-open", function()
    local s = server.start("openai", { "--api-key", KEY })
    local port = s.port
    local eng = assert(astrocyte.open({ vector_store = "in_memory",
      llm_provider = "openai",
      llm_provider_config = { base_url = s.url .. "/v1", api_key = KEY, model = "test-chat",
                              max_retries = 0, timeout_ms = 2000 },
      escalation = { circuit_breaker = { failure_threshold = 2, recovery_timeout_seconds = 1, half_open_max_calls = 1 } } }))
    assert(eng:retain("The standup is at 9:30 in the Orion room.", { bank_id = "b" }))

    local ok = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
    assert.is_nil(ok.degraded)                                   -- answered by the LLM
    local served = s:stats().by_path["/v1/chat/completions"] or 0
    assert.is_true(served >= 1)

    s:stop()                                                     -- the LLM goes away
    for _ = 1, 2 do
      local r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
      assert.is_true(r.degraded)
      assert.truthy(r.answer:find("9:30", 1, true))
    end
    local h = eng:health()
    assert.is_true(h.degraded)
    local state
    for _, b in ipairs(h.breakers) do if b.provider == "openai" then state = b.state end end
    assert.equal("open", state)
    local r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
    assert.is_true(r.degraded)
    assert.truthy(tostring(r.degraded_reason):find("circuit breaker open", 1, true), tostring(r.degraded_reason))

    s = server.start("openai", { "--api-key", KEY, "--port", tostring(port) })   -- back, same port
    curl.sleep_ms(1100)                                          -- recovery timeout → half-open
    r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
    assert.is_nil(r.degraded)
    for _, b in ipairs(eng:health().breakers) do
      if b.provider == "openai" then assert.equal("closed", b.state) end
    end
    assert.is_nil(eng:health().degraded)
    eng:close()
    s:stop()
  end)
end)
