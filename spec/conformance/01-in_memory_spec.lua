-- Every conformance suite against the built-in in_memory providers (and, for
-- the SPIs with no built-in store, the hashing embedder and the reference
-- doubles in spec/support/doubles.lua).
local testing = require "astrocyte.testing"
local in_memory = require "astrocyte.providers.in_memory"
local hashing = require "astrocyte.providers.hashing"
local doubles = require "support.doubles"

describe("in_memory providers", function()
  testing.vector_store(function() return in_memory.vector_stores({}) end, { dims = 8 })
  testing.document_store(function() return in_memory.document_stores({}) end)
  testing.graph_store(function() return in_memory.graph_stores({}) end)
  testing.wiki_store(function() return in_memory.wiki_stores({}) end)
  testing.mental_model_store(function() return in_memory.mental_model_stores({}) end)
  testing.source_store(function() return in_memory.source_stores({}) end)
  testing.engine_provider(function() return in_memory.engine_providers({}) end)
  testing.engine_provider(function() return in_memory.engine_providers({ supports_reflect = false, supports_forget = false }) end,
                          { title = "EngineProvider (no reflect, no forget)" })
end)

describe("other reference providers", function()
  testing.llm_provider(function() return hashing.llm_providers({ dimensions = 64 }) end, { title = "LLMProvider (hashing)" })
  testing.llm_provider(function() return doubles.llm(16) end, { title = "LLMProvider (mock)", dims = 16 })
  testing.outbound_transport(function() return doubles.transport() end)
  testing.outbound_transport(function() return doubles.transport({}) end, { title = "OutboundTransportProvider (no-op)" })
  testing.access_policy(function() return doubles.policy() end, doubles.POLICY_OPTS)
  testing.memory_export_sink(function() return doubles.sink() end)
end)
