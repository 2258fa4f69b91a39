-- astrocyte.providers.elasticsearch against the loopback Elasticsearch
-- (spec/support/servers/elasticsearch_server.py): VectorStore and
-- DocumentStore conformance, mappings, partial bulk failures (nothing
-- half-stored), faults, and an engine using it for vectors and keywords.
local testing = require "astrocyte.testing"
local server = require "support.server"
local es = require "astrocyte.providers.elasticsearch"

local KEY = "es-apikey-ZmFrZWtleTEyMzQ1Ng"

describe("elasticsearch provider", function()
  local s
  setup(function() s = server.start("elasticsearch", { "--api-key", KEY }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { url = s.url, api_key = KEY, max_retries = 2, backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(es.vector_stores(conf))
  end

  testing.vector_store(function() s:reset(); return new() end, { dims = 8 })
  testing.document_store(function() s:reset(); return new() end)

  before_each(function() s:reset() end)

  local function item(id, bank, vec)
    return { id = id, bank_id = bank, vector = vec, text = "text " .. id }
  end

  it("maps vectors as dense_vector (cosine) and metadata as flattened", function()
    assert(new():store_vectors({ item("a", "b", { 1, 0, 0 }) }))
    local res = require("astrocyte.http_curl").new():request { method = "POST",
      url = s.url .. "/astrocyte_vectors_3/_search", headers = { Authorization = "ApiKey " .. KEY, ["Content-Type"] = "application/json" },
      body = '{"query": {"term": {"bank_id": "b"}}}' }
    local hit = require("cjson").decode(res.body).hits.hits[1]
    assert.equal("b/a", hit._id)
    assert.same({ 1, 0, 0 }, hit._source.vector)
  end)

  it("undoes a bulk request that ES accepted only in part: nothing half-stored", function()
    local p = new()
    assert(p:store_vectors({ item("keep", "b", { 0, 0, 1 }) }))
    s:fault { kind = "bulk_reject", count = 1, path = "_bulk" }
    local ids, err = p:store_vectors({ item("n1", "b", { 1, 0, 0 }), item("n2", "b", { 0, 1, 0 }),
                                       item("n3", "b", { 1, 1, 0 }) })
    assert.is_nil(ids)
    assert.matches("bulk index failed, nothing stored: rejected execution", err.message, 1, true)
    local left = {}
    for _, it in ipairs(assert(p:list_vectors("b", 0, 10))) do left[#left + 1] = it.id end
    assert.same({ "keep" }, left)
  end)

  it("retries 503 and turns malformed JSON into a clear error", function()
    local p = new()
    s:fault { kind = "503", count = 1 }
    assert(p:store_vectors({ item("a", "b", { 1, 0, 0 }) }))
    s:fault { kind = "malformed", count = 1 }
    local v, err = p:search_similar({ 1, 0, 0 }, "b", 3)
    assert.is_nil(v)
    assert.matches("malformed JSON", err.message)
    local bad = new({ api_key = "es-wrong-key-aabbccddeeff" })
    v, err = bad:search_fulltext("x", "b", 3)
    assert.is_nil(v)
    assert.is_nil(tostring(err):find("es-wrong-key-aabbccddeeff", 1, true))
  end)

  it("gives an engine both channels (kNN + BM25) from one store", function()
    local ai = server.start("openai")
    local astrocyte = require "astrocyte"
    local eng = assert(astrocyte.open({
      vector_store = "elasticsearch", vector_store_config = { url = s.url, api_key = KEY },
      embedding_provider = "openai", embedding_provider_config = { base_url = ai.url .. "/v1", model = "m", dimensions = 64 } }))
    assert(eng:retain("Ana prefers green tea", { bank_id = "ana" }))
    assert(eng:retain("The deploy pipeline runs on nginx", { bank_id = "ana" }))
    local res = assert(eng:recall("nginx deploy", { bank_id = "ana" }))
    assert.equal("The deploy pipeline runs on nginx", res.hits[1].text)
    assert.same({ "semantic", "keyword" }, res.trace.strategies_used)
    eng:close()
    ai:stop()
  end)
end)
