-- Webhook delivery end to end: a loopback receiver
-- (spec/support/servers/webhook_receiver.py) verifies the signature scheme,
-- the timestamp window and replays exactly as a production receiver would,
-- and records what it accepted. Covers signed delivery of the subscribed
-- events only, retries after injected 500s, failures after the retry
-- budget, queue-full drops counted (and exported as a metric), a replayed
-- or stale request rejected, and close() never hanging on a slow receiver.
local events = require "astrocyte.events"
local webhook = require "astrocyte.webhook"
local metrics = require "astrocyte.observe.metrics"
local server = require "support.server"
local curl = require "astrocyte.http_curl"
local util = require "astrocyte.util"

local SECRET = "whsec_5b2e9f0a7c3d41"

describe("webhook hooks", function()
  local rx, hooks
  setup(function()
    rx = server.start("webhook_receiver.py", { "--secret", SECRET, "--window", "300" })
  end)
  teardown(function()
    if rx then rx:stop() end
  end)
  before_each(function() rx:reset() end)
  after_each(function()
    if hooks then hooks:close(); hooks = nil end
  end)

  local function received() return rx:admin("GET", "/__admin/received") end

  local function new_hooks(extra, opts)
    local h = { type = "webhook", url = rx.url .. "/hooks/astro", secret = SECRET, retry_delay_ms = 20,
                timeout_ms = 3000, headers = { ["X-Tenant"] = "acme" } }
    for k, v in pairs(extra or {}) do h[k] = v end
    return assert(events.new({ hooks = { h } }, opts))
  end

  it("delivers signed events for the subscribed types only, in order", function()
    hooks = new_hooks({ events = { "on_retain", "on_forget" } })
    local e1 = hooks:fire("on_retain", "bank-1", { memory_id = "m1", content_length = 5 }, "tr-1")
    assert.is_nil(hooks:fire("on_recall", "bank-1", { result_count = 2 }))
    local e2 = hooks:fire("on_forget", "bank-1", { deleted_count = 1 })
    assert.is_true(hooks:flush(5000))
    local got = received()
    assert.equal(0, #got.rejected)
    assert.equal(2, #got.accepted)
    assert.equal(e1.event_id, got.accepted[1].event_id)
    assert.equal(e2.event_id, got.accepted[2].event_id)
    local b = got.accepted[1].body
    assert.same({ "bank_id", "data", "event_id", "timestamp", "trace_id", "type" },
                (function() local ks = {} for k in pairs(b) do ks[#ks + 1] = k end table.sort(ks) return ks end)())
    assert.equal("on_retain", b.type)
    assert.equal("m1", b.data.memory_id)
    assert.equal("application/json", got.accepted[1].content_type)
    assert.equal("on_retain", got.accepted[1].event)
    assert.equal("/hooks/astro", got.accepted[1].path)
    local st = hooks:stats()
    assert.equal(2, st.webhooks[1].delivered)
    assert.equal(rx.url, st.webhooks[1].url)
    assert.equal(0, hooks:dropped())
  end)

  it("retries after injected 500s and then delivers", function()
    hooks = new_hooks({ retry_count = 2 })
    rx:fault({ kind = "500", count = 2 })
    hooks:fire("on_retain", "bank-1", { memory_id = "m2" })
    assert.is_true(hooks:flush(5000))
    local w = hooks:stats().webhooks[1]
    assert.equal(1, w.delivered)
    assert.equal(2, w.retried)
    assert.equal(0, w.failed)
    assert.equal(1, #received().accepted)
    assert.equal(3, rx:stats().requests)
  end)

  it("gives up after the retry budget and never retries a 4xx", function()
    hooks = new_hooks({ retry_count = 1 })
    rx:fault({ kind = "503", count = 5 })
    hooks:fire("on_retain", "bank-1", {})
    assert.is_true(hooks:flush(5000))
    local w = hooks:stats().webhooks[1]
    assert.equal(1, w.failed)
    assert.equal(1, w.retried)
    assert.equal(503, w.last_status)
    rx:reset()
    hooks:close()
    -- a wrong secret is rejected with 401, which is not retried
    hooks = new_hooks({ secret = "not-the-secret", retry_count = 3 })
    hooks:fire("on_retain", "bank-1", {})
    assert.is_true(hooks:flush(5000))
    w = hooks:stats().webhooks[1]
    assert.equal(1, w.failed)
    assert.equal(0, w.retried)
    assert.equal("bad signature", received().rejected[1].reason)
  end)

  it("drops events when the queue is full, counts them and exports the count", function()
    local m = metrics.new()
    hooks = new_hooks({ queue_size = 1 }, { metrics = m })
    rx:fault({ kind = "delay", delay_ms = 700, count = 1 })
    local n = 6
    for i = 1, n do hooks:fire("on_retain", "bank-1", { i = i }) end
    local st = hooks:stats()
    assert.is_true(st.dropped >= n - 2, "dropped " .. st.dropped)
    assert.equal(n, st.posted + st.dropped)
    assert.equal(st.dropped, hooks:dropped())
    assert.is_true(hooks:flush(5000))
    assert.equal(st.posted, #received().accepted)
    assert.truthy(m:render():find("astrocyte_hook_events_dropped_total " .. st.dropped .. "\n", 1, true))
  end)

  it("has a replayed or stale request rejected by the receiver", function()
    hooks = new_hooks()
    hooks:fire("on_retain", "bank-1", { memory_id = "m3" })
    assert.is_true(hooks:flush(5000))
    local first = received().accepted[1]
    local c = curl.new()
    -- the captured request, byte for byte, a second time
    local res = assert(c:request({ method = "POST", url = rx.url .. "/hooks/astro", body = first.raw,
      headers = { ["Content-Type"] = "application/json", ["X-Astrocyte-Timestamp"] = first.timestamp,
                  ["X-Astrocyte-Signature"] = first.signature }, timeout_ms = 3000 }))
    assert.equal(409, res.status)
    -- a correctly signed event from outside the window
    local old = util.encode({ event_id = "old-1", type = "on_retain" })
    local h = events.signed_headers(SECRET, old, os.time() - 3600)
    res = assert(c:request({ method = "POST", url = rx.url .. "/x", body = old, headers = h, timeout_ms = 3000 }))
    assert.equal(401, res.status)
    c:close()
    local got = received()
    assert.equal(1, #got.accepted)
    assert.same({ "replay", "stale timestamp" }, { got.rejected[1].reason, got.rejected[2].reason })
    -- the receiver-side helper agrees
    local seen = {}
    local hdr = { ["X-Astrocyte-Timestamp"] = first.timestamp, ["X-Astrocyte-Signature"] = first.signature }
    assert.is_true(events.verify(SECRET, hdr, first.raw, { seen = seen }))
    assert.same({ nil, "replay" }, { events.verify(SECRET, hdr, first.raw, { seen = seen }) })
  end)

  it("sends PUT when configured", function()
    hooks = new_hooks({ method = "PUT" })
    hooks:fire("on_bank_created", "bank-9", {})
    assert.is_true(hooks:flush(5000))
    assert.equal("PUT", received().accepted[1].method)
  end)

  it("close() aborts a slow delivery at once and counts what was lost", function()
    local d = webhook.dispatcher({ retries = 0, timeout_ms = 5000 })
    rx:fault({ kind = "delay", delay_ms = 3000, count = 1 })
    assert.is_true(d:post(rx.url .. "/slow", {}, "{}"))
    assert.is_true(d:post(rx.url .. "/slow", {}, "{}"))
    curl.sleep_ms(100)
    local t0 = util.now_ms()
    d:close()
    assert.is_true(util.now_ms() - t0 < 1500)
    local st = d:stats()
    assert.equal(2, st.dropped)
    assert.equal(0, st.pending)
    assert.same({ false, "closed" }, { d:post(rx.url, {}, "x") })
    assert.is_true(d:flush(10))
  end)

  it("rejects header injection and bad options", function()
    local d = webhook.dispatcher({ queue_size = 2 })
    assert.same({ false, "header names and values must not contain CR, LF or NUL" },
                { d:post(rx.url, { ["X-A"] = "1\r\nX-B: 2" }, "x") })
    assert.has_error(function() webhook.dispatcher({ queue_size = 0 }) end,
                     "webhook: queue_size must be between 1 and 1000000")
    assert.has_error(function() d:post(rx.url, {}, "x", { method = "GET" }) end,
                     "webhook: method must be POST or PUT")
    d:close()
  end)
end)
