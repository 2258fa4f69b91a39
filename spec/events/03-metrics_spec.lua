-- astrocyte.metrics: exact Prometheus text (format 0.0.4) for a small fixed
-- scenario — HELP/TYPE lines, label escaping, histogram buckets with
-- _sum/_count, sorted deterministic output identical on Lua 5.4 and LuaJIT —
-- plus snapshot() and misuse errors.
local metrics = require "astrocyte.observe.metrics"

local EXPECTED = [[
# HELP astrocyte_circuit_breaker_state Circuit breaker state (0 closed, 1 open, 2 half-open).
# TYPE astrocyte_circuit_breaker_state gauge
astrocyte_circuit_breaker_state{provider="openai"} 2
# HELP astrocyte_hook_events_dropped_total Hook events dropped (queue full or shutdown).
# TYPE astrocyte_hook_events_dropped_total counter
astrocyte_hook_events_dropped_total 3
# HELP astrocyte_pii_detected_total PII detections by action taken.
# TYPE astrocyte_pii_detected_total counter
astrocyte_pii_detected_total{bank_id="b1",action="redact"} 2
# HELP astrocyte_rate_limit_rejections_total Calls rejected by the rate limiter.
# TYPE astrocyte_rate_limit_rejections_total counter
astrocyte_rate_limit_rejections_total{bank_id="b\"x\\y\nz",operation="retain"} 1
# HELP astrocyte_retain_duration_seconds Retain latency in seconds.
# TYPE astrocyte_retain_duration_seconds histogram
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.001"} 0
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.0025"} 0
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.005"} 1
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.01"} 1
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.025"} 1
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.05"} 1
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.1"} 1
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.25"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="0.5"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="1"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="2.5"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="5"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="10"} 2
astrocyte_retain_duration_seconds_bucket{bank_id="b1",provider="sqlite",le="+Inf"} 2
astrocyte_retain_duration_seconds_sum{bank_id="b1",provider="sqlite"} 0.203
astrocyte_retain_duration_seconds_count{bank_id="b1",provider="sqlite"} 2
# HELP astrocyte_retain_total Retain operations.
# TYPE astrocyte_retain_total counter
astrocyte_retain_total{bank_id="b1",provider="sqlite",status="error"} 1
astrocyte_retain_total{bank_id="b1",provider="sqlite",status="ok"} 1
]]

describe("astrocyte.observe.metrics", function()
  local m
  before_each(function() m = metrics.new() end)

  local function scenario()
    m:record("retain", { bank_id = "b1", provider = "sqlite", status = "ok" }, 0.003)
    m:record("retain", { bank_id = "b1", provider = "sqlite", status = "error" }, 0.2)
    m:pii_detected("b1", "redact", 2)
    m:breaker_state("openai", "half_open")
    m:rate_limited('b"x\\y\nz', "retain")
    m:hook_dropped(3)
  end

  describe("render()", function()
    it("renders the exact exposition text of a fixed scenario", function()
      scenario()
      assert.equal(EXPECTED, m:render())
    end)

    it("renders only the always-present dropped-events counter when empty", function()
      assert.equal("# HELP astrocyte_hook_events_dropped_total Hook events dropped (queue full or shutdown).\n" ..
                   "# TYPE astrocyte_hook_events_dropped_total counter\n" ..
                   "astrocyte_hook_events_dropped_total 0\n", m:render())
    end)

    it("is independent of insertion order", function()
      m:inc("astrocyte_dedup_total", { bank_id = "z", action = "skip" })
      m:inc("astrocyte_dedup_total", { bank_id = "a", action = "merge" })
      local a = m:render()
      local m2 = metrics.new()
      m2:inc("astrocyte_dedup_total", { bank_id = "a", action = "merge" })
      m2:inc("astrocyte_dedup_total", { bank_id = "z", action = "skip" })
      assert.equal(a, m2:render())
      assert.truthy(a:find('astrocyte_dedup_total{bank_id="a",action="merge"} 1\n' ..
                           'astrocyte_dedup_total{bank_id="z",action="skip"} 1\n', 1, true))
    end)

    it("formats non-integer counters and gauges", function()
      m:set("astrocyte_circuit_breaker_state", { provider = "p" }, 0)
      m:inc("astrocyte_token_budget_truncations_total", { bank_id = "b", operation = "recall" }, 0.5)
      local text = m:render()
      assert.truthy(text:find('astrocyte_circuit_breaker_state{provider="p"} 0\n', 1, true))
      assert.truthy(text:find('astrocyte_token_budget_truncations_total{bank_id="b",operation="recall"} 0.5\n', 1, true))
      assert.equal("+Inf", metrics.format_number(math.huge))
      assert.equal("NaN", metrics.format_number(0 / 0))
    end)
  end)

  describe("snapshot()", function()
    it("returns the same data as a table", function()
      scenario()
      local s = m:snapshot()
      assert.equal("counter", s.astrocyte_retain_total.type)
      assert.same({ labels = { bank_id = "b1", provider = "sqlite", status = "ok" }, value = 1 },
                  s.astrocyte_retain_total.series[2])
      local h = s.astrocyte_retain_duration_seconds.series[1]
      assert.equal(2, h.count)
      assert.equal(1, h.buckets["0.005"])
      assert.equal(2, h.buckets["10"])
      assert.equal(3, m:get("astrocyte_hook_events_dropped_total"))
      assert.equal(0, m:get("astrocyte_retain_total", { bank_id = "nope" }))
      m:reset()
      assert.equal(0, m:get("astrocyte_retain_total", { bank_id = "b1", provider = "sqlite", status = "ok" }))
    end)
  end)

  describe("errors", function()
    it("raises on misuse", function()
      assert.has_error(function() m:record("compile", {}, 1) end,
                       "metrics: record() op must be retain, recall, reflect or forget")
      assert.has_error(function() m:breaker_state("p", "ajar") end, "metrics: unknown breaker state 'ajar'")
      assert.has_error(function() m:set("astrocyte_retain_total", {}, 1) end,
                       "metrics: astrocyte_retain_total is a counter, not a gauge")
      assert.has_error(function() m:counter("bad name") end, "metrics: invalid metric name 'bad name'")
    end)
  end)
end)
