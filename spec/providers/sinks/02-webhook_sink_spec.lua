-- webhook_sink: MemoryExportSink conformance against the loopback webhook
-- receiver, signed delivery (the receiver verifies every request), emit
-- never blocking on a dead endpoint, and failures counted by astrocyte.sinks
-- instead of raised.
local testing = require "astrocyte.testing"
local webhook_sink = require "astrocyte.providers.webhook_sink"
local sinks = require "astrocyte.observe.sinks"
local metrics = require "astrocyte.observe.metrics"
local server = require "support.server"
local util = require "astrocyte.util"

local SECRET = "whsec_sink_91c0e7d2aa"

describe("webhook_sink", function()
  local rx
  setup(function() rx = server.start("webhook_receiver.py", { "--secret", SECRET }) end)
  teardown(function() if rx then rx:stop() end end)

  testing.memory_export_sink(function()
    return webhook_sink.memory_export_sinks({ url = rx.url .. "/sink", secret = SECRET, retry_delay_ms = 10 })
  end, { title = "webhook_sink" })

  it("delivers signed events that the receiver verifies", function()
    rx:reset()
    local s = assert(webhook_sink.new({ url = rx.url .. "/sink", secret = SECRET, headers = { ["X-Team"] = "ops" } }))
    local ev = sinks.export_completed({ bank_id = "bank-a", path = "file:///tmp/a.jsonl", memory_count = 4,
                                        checksum = "c0ffee" })
    assert.is_true(s:emit(ev))
    assert.is_true(s:emit(sinks.governance_signal({ bank_id = "bank-a", codes = { "pii.redacted" } })))
    assert.is_true(s:flush())
    local got = rx:admin("GET", "/__admin/received")
    assert.equal(0, #got.rejected)
    assert.equal(2, #got.accepted)
    assert.equal(ev.event_id, got.accepted[1].event_id)
    assert.equal("ExportCompleted", got.accepted[1].event)
    assert.same({ checksum = "c0ffee", memory_count = 4, path = "file:///tmp/a.jsonl" }, got.accepted[1].body.payload)
    assert.is_true(s:health().healthy)
    s:close()
  end)

  -- The endpoint stalls 1.5 s on the first request and then refuses the rest
  -- (500, no retries), so while the worker is stuck on event 1 the queue of
  -- one fills and later emits are dropped: deterministic whatever the
  -- scheduling (a refused connection alone can drain faster than we emit).
  it("never blocks emit on a stalled endpoint; drops and failures are counted, not raised", function()
    rx:reset()
    rx:fault({ kind = "delay", delay_ms = 1500 })
    rx:fault({ kind = "500", count = 100 })
    local m = metrics.new()
    local set = assert(sinks.new({ { provider = "webhook_sink", config = {
      url = rx.url .. "/stall", retry_count = 0, queue_size = 1, flush_timeout_ms = 5000 } } }, { metrics = m }))
    local t0 = util.now_ms()
    local ok_total, fail_total = 0, 0
    for i = 1, 20 do
      local ok, failed = set:emit_all(sinks.bank_lifecycle({ bank_id = "b" .. i, action = "created" }))
      ok_total, fail_total = ok_total + ok, fail_total + failed
    end
    assert.is_true(util.now_ms() - t0 < 1000)
    assert.equal(20, ok_total + fail_total)
    assert.is_true(ok_total <= 2)      -- one in flight, one queued at most
    assert.equal(fail_total, set:stats().failed)
    assert.equal(fail_total, m:get("astrocyte_export_sink_failures_total", { sink = "webhook_sink" }))
    assert.is_true(set:flush_all())
    assert.is_false(set:health()[1].healthy)
    set:close()
  end)

  it("never blocks emit on a dead endpoint", function()
    local set = assert(sinks.new({ { provider = "webhook_sink", config = {
      url = "http://127.0.0.1:1/dead", retry_count = 0, queue_size = 4, flush_timeout_ms = 3000 } } }))
    local t0 = util.now_ms()
    for i = 1, 20 do set:emit_all(sinks.bank_lifecycle({ bank_id = "b" .. i, action = "created" })) end
    assert.is_true(util.now_ms() - t0 < 1000)
    set:flush_all()
    assert.is_false(set:health()[1].healthy)
    set:close()
  end)

  it("reports config errors", function()
    assert.same({ nil, "webhook_sink: config.url must be an http(s) URL" }, { webhook_sink.new({ url = "file:///x" }) })
    assert.same({ nil, "webhook_sink: config.retry_count must be an integer >= 0" },
                { webhook_sink.new({ url = "http://x", retry_count = -1 }) })
  end)
end)
