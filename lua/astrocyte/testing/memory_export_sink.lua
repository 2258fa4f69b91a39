-- astrocyte.testing.memory_export_sink: the MemoryExportSink conformance
-- cases (spi.md §1.11): emit accepts every event kind (a kind the sink does
-- not export is ignored, never an error), flush (when present) succeeds,
-- capabilities() is a MemoryExportSinkCapabilities (event kinds; raw text
-- and embeddings off unless declared), health().
local common = require "astrocyte.testing.common"
local types = require "astrocyte.types"

local N = 0
local function event(kind, payload)
  N = N + 1
  return assert(types.MemoryExportSinkEvent({ event_id = "ev-" .. N, kind = kind, bank_id = "bank-a",
    occurred_at = "2024-05-01T10:00:00Z", payload = payload }))
end

local EVENTS = {
  { "RetainCommitted", { principal = "user:ana", memory_id = "m1", fact_type = "world", tags = { "pref" },
                         content_sha256 = string.rep("ab", 32), classification = {} } },
  { "ForgetApplied", { memory_ids = { "m1" }, reason = "user request" } },
  { "RecallObserved", { result_count = 3, latency_ms = 4.5, top_score = 0.9 } },
  { "ReflectObserved", { source_count = 2, latency_ms = 12 } },
  { "BankLifecycle", { action = "created" } },
  { "ExportCompleted", { path = "file:///tmp/bank-a.jsonl", memory_count = 10, checksum = "abc" } },
  { "GovernanceSignal", { codes = { "pii.redacted" } } },
}

local cases = {
  common.spi_case("memory_export_sinks"),

  common.capabilities_case("MemoryExportSinkCapabilities"),

  { "emit accepts every event kind", function(t)
    for _, e in ipairs(EVENTS) do t.call("emit", event(e[1], e[2])) end
  end },

  { "emit of the same event twice is accepted (at-least-once delivery)", function(t)
    local e = event("RetainCommitted", EVENTS[1][2])
    t.call("emit", e)
    t.call("emit", e)
  end },

  { "flush succeeds after emits (when the sink buffers)", function(t)
    if not t.has("flush") then return end
    for _, e in ipairs(EVENTS) do t.call("emit", event(e[1], e[2])) end
    t.call("flush")
  end },

  common.health_case(),
}

return { title = "MemoryExportSink", group = "memory_export_sinks", cases = cases }
