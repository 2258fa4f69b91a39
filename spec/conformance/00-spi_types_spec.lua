-- astrocyte.spi (SPIs as data, check, check_spi_version) and astrocyte.types
-- (DTO constructors, validators, JSON round trip).
local spi = require "astrocyte.spi"
local types = require "astrocyte.types"

local function vector_store(extra)
  local p = { store_vectors = function() end, search_similar = function() end, delete = function() end,
              list_vectors = function() end, health = function() end }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

describe("astrocyte.spi", function()
  it("lists the eleven provider groups", function()
    assert.same({ "access_policies", "document_stores", "engine_providers", "graph_stores", "llm_providers",
                  "memory_export_sinks", "mental_model_stores", "outbound_transports", "source_stores",
                  "vector_stores", "wiki_stores" }, spi.groups())
  end)

  it("describes each group with its protocol, methods and versions", function()
    local g = spi.get("vector_stores")
    assert.equal("VectorStore", g.protocol)
    assert.same({ "store_vectors", "search_similar", "delete", "list_vectors", "health" }, g.required)
    assert.equal(1, g.SPI_VERSION)
    assert.same({ 1 }, g.supported_versions)
    assert.same({ "store_memory_links", "find_memory_links" }, spi.get("graph_stores").optional)
    assert.equal("EngineProvider", spi.protocol("engine_providers"))
    assert.is_nil(spi.get("teapots"))
  end)

  describe("check()", function()
    it("accepts a provider with every required method", function()
      assert.is_true(spi.check(vector_store(), "vector_stores"))
      assert.is_true(spi.check(vector_store({ SPI_VERSION = 1 }), "vector_stores"))
    end)

    it("accepts methods reached through a metatable and callable tables", function()
      local callable = setmetatable({}, { __call = function() end })
      local p = setmetatable({ health = callable }, { __index = vector_store() })
      assert.is_true(spi.check(p, "vector_stores"))
    end)

    it("names the missing or non-callable methods", function()
      local ok, err = spi.check(vector_store({ delete = false, health = "yes" }), "vector_stores")
      assert.is_nil(ok)
      assert.equal("ConfigError", err.kind)
      assert.equal("VectorStore provider is missing required methods: delete, health", err.message)
      err = select(2, spi.check(vector_store({ health = false }), "vector_stores"))
      assert.equal("VectorStore provider is missing required method: health", err.message)
    end)

    it("rejects an unsupported SPI_VERSION", function()
      local ok, err = spi.check(vector_store({ SPI_VERSION = 2 }), "vector_stores")
      assert.is_nil(ok)
      assert.equal("VectorStore SPI version 2 is not supported. Supported versions: [1]", err.message)
    end)

    it("rejects non-tables and unknown groups", function()
      local _, err = spi.check("x", "vector_stores")
      assert.equal("VectorStore provider must be a table of methods, got string", err.message)
      _, err = spi.check({}, "teapots")
      assert.matches("^unknown provider group 'teapots' %(known: access_policies, ", err.message)
    end)
  end)

  describe("check_spi_version()", function()
    it("returns 1 for a provider without SPI_VERSION", function()
      assert.equal(1, spi.check_spi_version({}, "VectorStore"))
    end)

    it("returns a supported version", function()
      assert.equal(1, spi.check_spi_version({ SPI_VERSION = 1 }, "GraphStore"))
      assert.equal(1, spi.check_spi_version({ SPI_VERSION = 1 }, "SomethingNew"))
    end)

    it("rejects other versions with a ConfigError listing the supported ones", function()
      local v, err = spi.check_spi_version({ SPI_VERSION = 3 }, "WikiStore")
      assert.is_nil(v)
      assert.equal("ConfigError", err.kind)
      assert.equal("WikiStore SPI version 3 is not supported. Supported versions: [1]", err.message)
      assert.equal("ConfigError: SomethingNew SPI version 0 is not supported. Supported versions: [1]",
                   tostring(select(2, spi.check_spi_version({ SPI_VERSION = 0 }, "SomethingNew"))))
    end)
  end)
end)

describe("astrocyte.types", function()
  describe("constructors", function()
    it("fill defaults", function()
      local d = assert(types.Dispositions({}))
      assert.same({ skepticism = 3, literalism = 3, empathy = 3 }, d)
      local c = assert(types.EngineCapabilities({ supports_reflect = true }))
      assert.is_true(c.supports_reflect)
      assert.is_true(c.supports_semantic_search)
      assert.is_false(c.supports_forget)
      local l = assert(types.EntityLink({ entity_a = "a", entity_b = "b", link_type = "knows" }))
      assert.equal("", l.evidence)
      assert.equal(1.0, l.confidence)
    end)

    it("return a copy and keep undeclared fields", function()
      local input = { id = "a", text = "t", score = 0.5, bank_id = "b" }
      local h = assert(types.VectorHit(input))
      assert.not_equal(input, h)
      assert.equal("b", h.bank_id)
    end)

    it("normalize times to ISO-8601 UTC", function()
      local it = assert(types.VectorItem({ id = "a", bank_id = "b", vector = { 1 }, text = "t",
                                           occurred_at = "2024-05-01 12:00:00+02:00", retained_at = 0 }))
      assert.equal("2024-05-01T10:00:00Z", it.occurred_at)
      assert.equal("1970-01-01T00:00:00Z", it.retained_at)
    end)

    it("name the field that breaks an invariant", function()
      local cases = {
        { "VectorItem", { id = "a", bank_id = "b", vector = { 1 }, text = "" }, "VectorItem.text must be a non-empty string" },
        { "VectorItem", { id = "a", bank_id = "b", vector = { 1, "x" }, text = "t" }, "VectorItem.vector[2] must be a finite number" },
        { "VectorHit", { id = "a", text = "t", score = -0.1 }, "VectorHit.score must be between 0 and 1, got -0.1" },
        { "Dispositions", { empathy = 6 }, "Dispositions.empathy must be between 1 and 5, got 6" },
        { "Dispositions", { empathy = 2.5 }, "Dispositions.empathy must be an integer" },
        { "WikiPage", { page_id = "p", bank_id = "b", kind = "essay", title = "t", content = "c", scope = "s" },
          "WikiPage.kind must be one of entity, topic, concept, got 'essay'" },
        { "Entity", { id = "e", entity_type = "PERSON" }, "Entity.name is required" },
        { "MemoryHit", { text = "t", score = 0.5, metadata = { nested = {} } }, "MemoryHit.metadata.nested must be a string, number or boolean" },
        { "RecallResult", { hits = { { text = "t", score = 2 } }, total_available = 1, truncated = false },
          "RecallResult.hits[1].score must be between 0 and 1, got 2" },
        { "VectorFilters", { time_range = { "2024-02-01", "2024-01-01" } }, "VectorFilters.time_range from is after to" },
        { "Message", { role = "robot" }, "Message.role must be one of system, user, assistant, tool, got 'robot'" },
      }
      for _, c in ipairs(cases) do
        local v, err = types[c[1]](c[2])
        assert.is_nil(v)
        assert.equal("ValidationError", err.kind)
        assert.equal(c[3], err.message)
      end
    end)
  end)

  describe("validate()", function()
    it("checks without copying", function()
      assert.is_true(types.validate("HealthStatus", { healthy = true }))
      local ok, err = types.validate("HealthStatus", { healthy = "yes" })
      assert.is_nil(ok)
      assert.equal("HealthStatus.healthy must be a boolean", err.message)
    end)
  end)

  describe("JSON", function()
    it("round-trips a DTO, keeping empty maps as {} and empty lists as []", function()
      local m = { model_id = "m", bank_id = "b", title = "T", content = "C", structured_doc = {},
                  refreshed_at = "2024-05-01T10:00:00Z", revision = 2 }
      local s = assert(types.to_json("MentalModel", m))
      assert.equal('{"bank_id":"b","content":"C","kind":"general","model_id":"m","refreshed_at":"2024-05-01T10:00:00Z",' ..
                   '"revision":2,"scope":"bank","source_ids":[],"structured_doc":{},"title":"T"}', s)
      local back = assert(types.from_json("MentalModel", s))
      assert.equal(2, back.revision)
      assert.same({}, back.source_ids)
      assert.equal("2024-05-01T10:00:00Z", back.refreshed_at)
    end)

    it("round-trips nested DTOs", function()
      local r = { hits = { { text = "a", score = 0.5, tags = { "x" } } }, total_available = 1, truncated = false,
                  trace = { strategies_used = { "semantic" } } }
      local back = assert(types.from_json("RecallResult", assert(types.to_json("RecallResult", r))))
      assert.equal("a", back.hits[1].text)
      assert.same({ "semantic" }, back.trace.strategies_used)
      assert.equal(0, back.top_semantic_score)
    end)

    it("turns null into nil and reports bad input", function()
      local h = assert(types.from_json("VectorHit", '{"id":"a","text":"t","score":1,"tags":null}'))
      assert.is_nil(h.tags)
      local v, err = types.from_json("VectorHit", '{"id":"a","text":"t","score":1.5}')
      assert.is_nil(v)
      assert.equal("VectorHit.score must be between 0 and 1, got 1.5", err.message)
      v, err = types.from_json("VectorHit", "{bad")
      assert.is_nil(v)
      assert.matches("^VectorHit: invalid JSON: ", err.message)
    end)
  end)
end)
