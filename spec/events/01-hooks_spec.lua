-- Event hooks (astrocyte.events): callbacks fire in registration order, a
-- failing one is isolated and logged, the HookEvent envelope has the
-- reference's shape, hook config is validated, and events.verify accepts
-- exactly what events.sign produced (window, replay, tampering).
local events = require "astrocyte.events"
local log = require "astrocyte.observe.log"
local util = require "astrocyte.util"
local core = require "astrocyte.core"

local SECRET = "whsec_7d1f0c2b9a8e"

local function capture()
  local lines = {}
  local logger = assert(log.new({ sink = function(line) lines[#lines + 1] = line end }))
  return logger, lines
end

describe("astrocyte.events", function()
  local hooks, logger, lines
  before_each(function()
    logger, lines = capture()
    hooks = assert(events.new({}, { log = logger }))
  end)
  after_each(function() hooks:close() end)

  it("lists the twenty event types", function()
    assert.equal(20, #events.EVENT_TYPES)
    for _, t in ipairs({ "on_retain", "on_recall", "on_reflect", "on_forget", "on_pii_detected",
                         "on_rate_limited", "on_circuit_breaker_open", "on_circuit_breaker_close",
                         "on_dedup_detected", "on_noisy_bank", "on_ttl_expiry", "on_consolidation",
                         "on_bank_created", "on_bank_deleted", "on_legal_hold", "on_policy_violation",
                         "on_access_denied", "on_export", "on_import", "on_config_reload" }) do
      assert.is_true(events.KNOWN[t], t)
    end
  end)

  describe("fire()", function()
    it("calls handlers in registration order, isolating a failing one", function()
      local order = {}
      hooks:register("on_retain", function() order[#order + 1] = 1 end)
      hooks:register("on_retain", function() order[#order + 1] = 2; error("hook exploded for ana@example.com") end)
      hooks:register("on_retain", function() order[#order + 1] = 3 end)
      hooks:register("on_recall", function() order[#order + 1] = "recall" end)
      local ev = hooks:fire("on_retain", "bank-1", { memory_id = "m1", content_length = 12 }, "trace-9")
      assert.same({ 1, 2, 3 }, order)
      assert.equal("on_retain", ev.type)
      assert.equal(1, #lines)
      local entry = util.json.decode(lines[1])
      assert.equal("astrocyte.hook.error", entry.event)
      assert.equal("warn", entry.level)
      assert.equal("bank-1", entry.bank_id)
      assert.equal("trace-9", entry.trace_id)
      assert.equal("on_retain", entry.data.event_type)
      assert.truthy(entry.data.error:find("hook exploded", 1, true))
      assert.is_nil(lines[1]:find("ana@example.com", 1, true))
      assert.equal(1, hooks:stats().handler_errors)
    end)

    it("builds the HookEvent envelope with a flat data map", function()
      local got
      hooks:register("on_pii_detected", function(e) got = e end)
      hooks:fire("on_pii_detected", "bank-1", { pii_types = { "email", "phone" }, action = "redact",
                                                count = 2, nested = { a = 1 }, fn = print }, "t-1")
      assert.matches("^%x+$", got.event_id)
      assert.equal(16, #got.event_id)
      assert.equal("on_pii_detected", got.type)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$", got.timestamp)
      assert.equal("bank-1", got.bank_id)
      assert.equal("t-1", got.trace_id)
      assert.same({ pii_types = "email,phone", action = "redact", count = 2, nested = '{"a":1}' }, got.data)
    end)

    it("builds no event when nothing listens", function()
      assert.is_nil(hooks:fire("on_recall", "bank-1", { result_count = 1 }))
      assert.equal(0, hooks:stats().fired)
    end)

    it("raises on an unknown event type or a non-function handler", function()
      assert.has_error(function() hooks:register("on_everything", print) end)
      assert.has_error(function() hooks:register("on_retain", 42) end, "events: handler must be a function")
      assert.has_error(function() hooks:fire("on_nothing", "b") end, "events: unknown event type 'on_nothing'")
    end)
  end)

  describe("config", function()
    it("rejects unknown event types and bad urls with the key path", function()
      local h, err = events.new({ hooks = { { type = "webhook", url = "http://127.0.0.1:1/x",
                                                events = { "on_retain", "on_bogus" } } } })
      assert.is_nil(h)
      assert.equal("ConfigError", err.kind)
      assert.equal("hooks[1].events[2]", err.key_path)
      h, err = events.new({ hooks = { { type = "webhook", url = "ftp://x" } } })
      assert.is_nil(h)
      assert.equal("hooks[1].url", err.key_path)
      h, err = events.new({ hooks = { { type = "carrier-pigeon" } } })
      assert.is_nil(h)
      assert.equal("hooks[1].type", err.key_path)
    end)

    it("writes a log line per event for a log hook", function()
      local h = assert(events.new({ hooks = { { type = "log", events = { "on_forget" }, level = "info" } } },
                                  { log = logger }))
      h:fire("on_forget", "bank-2", { deleted_count = 3 })
      h:fire("on_retain", "bank-2", {})
      assert.equal(1, #lines)
      local entry = util.json.decode(lines[1])
      assert.equal("astrocyte.hook.event", entry.event)
      assert.equal("on_forget", entry.data.event_type)
      h:close()
    end)
  end)

  describe("verify()", function()
    local body = '{"event_id":"abc123","type":"on_retain"}'
    local now = 1700000000

    it("accepts a signature made by sign() and rejects a replay", function()
      local h = events.signed_headers(SECRET, body, now)
      assert.equal("sha256=" .. core.hmac_sha256_hex(SECRET, "1700000000." .. body), h["X-Astrocyte-Signature"])
      local seen = {}
      assert.same({ true }, { events.verify(SECRET, h, body, { now = now + 10, seen = seen }) })
      assert.same({ nil, "replay" }, { events.verify(SECRET, h, body, { now = now + 10, seen = seen }) })
    end)

    it("rejects a stale timestamp, a tampered body, a wrong secret and missing headers", function()
      local h = events.signed_headers(SECRET, body, now)
      assert.same({ nil, "stale timestamp" }, { events.verify(SECRET, h, body, { now = now + 301 }) })
      assert.same({ nil, "stale timestamp" }, { events.verify(SECRET, h, body, { now = now - 301 }) })
      assert.same({ true }, { events.verify(SECRET, h, body, { now = now + 300 }) })
      assert.same({ nil, "bad signature" }, { events.verify(SECRET, h, body .. " ", { now = now }) })
      assert.same({ nil, "bad signature" }, { events.verify("other-secret", h, body, { now = now }) })
      assert.same({ nil, "missing signature" }, { events.verify(SECRET, { ["X-Astrocyte-Timestamp"] = "1" }, body) })
      assert.same({ nil, "missing timestamp" },
                  { events.verify(SECRET, { ["x-astrocyte-signature"] = h["X-Astrocyte-Signature"] }, body) })
      -- header names are case-insensitive
      local lower = {}
      for k, v in pairs(h) do lower[k:lower()] = v end
      assert.same({ true }, { events.verify(SECRET, lower, body, { now = now }) })
    end)
  end)
end)
