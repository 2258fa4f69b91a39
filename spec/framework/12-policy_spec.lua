describe("policy layer through the engine", function()
  local astrocyte = require "astrocyte"

  describe("access control", function()
    local eng
    before_each(function()
      eng = assert(astrocyte.open({
        vector_store = "in_memory",
        access_control = { enabled = true, default_policy = "deny" },
        access_grants = {
          { bank_id = "shared-*", principal = "team:*", permissions = { "recall", "reflect" } },
          { bank_id = "*", principal = "service:ingest", permissions = { "retain" } },
          { bank_id = "ops", principal = "user:ana", permissions = { "*" } },
          { bank_id = "ops", principal = "agent:helper", permissions = { "recall", "retain" } },
          { bank_id = "shared-docs", principal = "user:bob", permissions = { "recall" } },
        },
      }))
      assert(eng:retain("runbook: restart nginx with systemctl", { bank_id = "ops", principal = "user:ana" }))
      assert(eng:retain("style guide: use sentence case", { bank_id = "shared-docs", principal = "service:ingest" }))
    end)
    after_each(function() eng:close() end)

    -- principal, bank, operation, allowed?
    local MATRIX = {
      { "user:ana", "ops", "recall", true }, { "user:ana", "ops", "retain", true },
      { "user:ana", "ops", "forget", true }, { "user:ana", "shared-docs", "recall", false },
      { "team:support", "shared-docs", "recall", true }, { "team:support", "shared-docs", "retain", false },
      { "team:support", "shared-x", "reflect", true }, { "team:support", "ops", "recall", false },
      { "service:ingest", "anything", "retain", true }, { "service:ingest", "ops", "recall", false },
      { "agent:helper", "ops", "retain", true }, { "agent:helper", "ops", "forget", false },
      { "user:bob", "shared-docs", "recall", true }, { "user:bob", "shared-docs", "reflect", false },
      { "user:mallory", "ops", "recall", false },
    }

    local function attempt(principal, bank, op, obo)
      local o = { bank_id = bank, principal = principal, on_behalf_of = obo }
      if op == "retain" then return eng:retain("matrix note", o) end
      if op == "recall" then return eng:recall("runbook", o) end
      if op == "reflect" then return eng:reflect("runbook", o) end
      if op == "forget" then o.tags = { "none" }; return eng:forget(o) end
    end

    it("allows exactly the granted principal × bank × permission combinations", function()
      for _, c in ipairs(MATRIX) do
        local res, err = attempt(c[1], c[2], c[3])
        if c[4] then
          assert.is_truthy(res, c[1] .. " " .. c[2] .. " " .. c[3] .. ": " .. tostring(err))
        else
          assert.is_nil(res, c[1] .. " " .. c[2] .. " " .. c[3])
          assert.equal("AccessDenied", err.kind)
          assert.equal(c[1], err.principal)
          assert.equal(c[2], err.bank_id)
          assert.equal(c[3], err.permission)
          assert.equal(("%s may not %s bank '%s'"):format(c[1], c[3], c[2]), err.message)
        end
      end
    end)

    it("intersects permissions on behalf of another principal", function()
      -- agent:helper may recall and retain ops; user:ana may do everything there.
      assert(attempt("agent:helper", "ops", "recall", "user:ana"))
      local res, err = attempt("agent:helper", "ops", "forget", "user:ana")
      assert.is_nil(res)
      assert.equal("agent:helper on behalf of user:bob may not recall bank 'ops'",
        select(2, attempt("agent:helper", "ops", "recall", "user:bob")).message)
      assert.equal("AccessDenied", err.kind)
    end)

    it("denies anonymous calls and names them", function()
      local res, err = eng:recall("runbook", { bank_id = "ops" })
      assert.is_nil(res)
      assert.equal("AccessDenied: anonymous may not recall bank 'ops'", tostring(err))
    end)

    it("scopes a view with with_context and filters banks()", function()
      local ana = assert(eng:with_context({ principal = "user:ana" }))
      assert.equal(1, #assert(ana:recall("runbook", { bank_id = "ops" })).hits)
      local banks = assert(ana:banks())
      assert.same({ "ops" }, (function() local o = {} for i, b in ipairs(banks) do o[i] = b.bank_id end return o end)())
      local team = assert(eng:with_context({ principal = "team:support" }))
      assert.is_nil((team:set_legal_hold("shared-docs", "h1", "audit")))
      assert(ana:set_legal_hold("ops", "h1", "litigation"))
      local res, err = ana:forget({ bank_id = "ops", scope = "all" })
      assert.is_nil(res)
      assert.equal("LegalHoldActive", err.kind)
    end)
  end)

  describe("rate limits and quotas", function()
    it("rejects over-limit calls with retry_after and counts quotas after success", function()
      local now = 1000
      local eng = assert(astrocyte.open({ vector_store = "in_memory",
        homeostasis = { rate_limits = { retain_per_minute = 2 }, quotas = { reflect_per_day = 1 } } },
        { policy = { clock = function() return now end } }))
      assert(eng:retain("one", { bank_id = "b" }))
      assert(eng:retain("two", { bank_id = "b" }))
      local res, err = eng:retain("three", { bank_id = "b" })
      assert.is_nil(res)
      assert.equal("RateLimited", err.kind)
      assert.equal(30, err.retry_after)
      assert.equal("retain on bank 'b' exceeds 2 per minute (retry after 30.000 s)", err.message)
      assert(eng:retain("other bank", { bank_id = "c" }))       -- per bank
      now = now + 30
      assert(eng:retain("three", { bank_id = "b" }))            -- refilled
      assert(eng:reflect("one", { bank_id = "b" }))
      res, err = eng:reflect("one", { bank_id = "b" })
      assert.is_nil(res)
      assert.equal("RateLimited", err.kind)
      assert.truthy(err.message:find("reached its daily quota of 1", 1, true))
      eng:close()
    end)
  end)

  describe("PII barrier", function()
    it("redacts, rejects or warns per profile and type", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory",
        barriers = { pii = { mode = "regex", action = "redact", type_overrides = { ssn = { action = "reject" } } } } }))
      local res = assert(eng:retain("Mail ana@example.com or call 555-123-4567", { bank_id = "p" }))
      assert.same({ "email", "phone" }, res.pii_detected)
      local hit = assert(eng:recall("mail call", { bank_id = "p" })).hits[1]
      assert.equal("Mail [EMAIL_REDACTED] or call [PHONE_REDACTED]", hit.text)
      local bad, err = eng:retain("my ssn is 123-45-6789", { bank_id = "p" })
      assert.is_nil(bad)
      assert.equal("PiiRejected: content contains PII: ssn", tostring(err))
      assert.equal(1, eng:banks()[1].memory_count)
      eng:close()
    end)

    it("drops blocked metadata keys", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
      local res = assert(eng:retain("note", { bank_id = "m", metadata = { api_key = "sk-1", source = "chat" } }))
      assert.same({ "Blocked metadata key: 'api_key'" }, res.warnings)
      local hit = assert(eng:recall("note", { bank_id = "m" })).hits[1]
      assert.is_nil(hit.metadata.api_key)
      assert.equal("chat", hit.metadata.source)
      eng:close()
    end)
  end)

  describe("noisy-bank detection", function()
    it("warns, throttles or rejects a bank whose retains look like noise", function()
      local now = 600
      local function open(action)
        return assert(astrocyte.open({ vector_store = "in_memory",
          signal_quality = { dedup = { enabled = false },
                             noisy_bank = { enabled = true, min_avg_content_length = 20, action = action } } },
          { policy = { clock = function() return now end } }))
      end
      local eng = open("reject")
      for i = 1, 20 do assert(eng:retain("ok " .. i, { bank_id = "n" })) end   -- short content
      local res, err = eng:retain("ok 21", { bank_id = "n" })
      assert.is_nil(res)
      assert.equal("PolicyViolation: bank 'n' rejects retains as noisy (short_content)", tostring(err))
      assert(eng:retain("a perfectly ordinary note of reasonable length", { bank_id = "other" }))
      eng:close()

      eng = open("throttle")
      for i = 1, 20 do assert(eng:retain("ok " .. i, { bank_id = "n" })) end
      res, err = eng:retain("ok 21", { bank_id = "n" })
      assert.is_nil(res)
      assert.equal("RateLimited", err.kind)
      assert.equal(60, err.retry_after)
      eng:close()

      eng = open("warn")
      local warned = 0
      eng:on("on_noisy_bank", function() warned = warned + 1 end)
      for i = 1, 21 do assert(eng:retain("ok " .. i, { bank_id = "n" })) end
      assert.equal(1, warned)
      eng:close()
    end)
  end)

  describe("circuit breakers and degraded mode", function()
    it("opens after failures, degrades reflect and recall, recovers through half-open", function()
      local now = 0
      local eng = assert(astrocyte.open({ vector_store = "in_memory", llm_provider = "mock",
        escalation = { circuit_breaker = { failure_threshold = 2, recovery_timeout_seconds = 30 } } },
        { policy = { clock = function() return now end } }))
      assert(eng:retain("The standup is at 9:30 in the Orion room.", { bank_id = "b" }))
      local llm = eng.providers.llm
      llm.fail = true
      for _ = 1, 2 do
        local r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
        assert.is_true(r.degraded)
      end
      local h = eng:health()
      assert.is_true(h.degraded)
      local calls = llm.calls.complete
      local r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
      assert.is_true(r.degraded)
      assert.equal(calls, llm.calls.complete)                 -- open: no call made
      assert.truthy(r.answer:find("9:30", 1, true))
      llm.fail = false
      now = 31                                                 -- half-open
      r = assert(eng:reflect("when is the standup?", { bank_id = "b" }))
      assert.is_nil(r.degraded)
      assert.truthy(r.answer:find("^Based on my memories: "))
      assert.is_nil(eng:health().degraded)
      eng:close()
    end)

    it("falls back to keyword-only recall when the embedder is down", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory", embedding_provider = "mock" }))
      assert(eng:retain("The Orion room hosts the standup.", { bank_id = "b" }))
      eng.providers.embedder.fail = true
      local res = assert(eng:recall("Orion standup", { bank_id = "b" }))
      assert.equal("The Orion room hosts the standup.", res.hits[1].text)
      for _, name in ipairs(res.trace.strategies_used) do assert.not_equal("semantic", name) end
      assert.is_true(res.trace.degraded)
      eng:close()
    end)
  end)
end)
