-- astrocyte.providers.qdrant against the loopback Qdrant
-- (spec/support/servers/qdrant_server.py): the VectorStore conformance
-- suite, the wire shape (collection per dimension, payload filters), fault
-- injection (nothing half-stored), and an engine on qdrant + openai.
local testing = require "astrocyte.testing"
local server = require "support.server"
local qdrant = require "astrocyte.providers.qdrant"

local KEY = "qd-key-2233445566778899"

describe("qdrant provider", function()
  local s
  setup(function() s = server.start("qdrant", { "--api-key", KEY }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { url = s.url, api_key = KEY, max_retries = 2, backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(qdrant.vector_stores(conf))
  end

  testing.vector_store(function() s:reset(); return new() end, { dims = 8 })

  local function item(id, bank, vec, extra)
    local it = { id = id, bank_id = bank, vector = vec, text = "text " .. id }
    for k, v in pairs(extra or {}) do it[k] = v end
    return it
  end

  before_each(function() s:reset() end)

  it("prints as the store and its base URL (shared.class)", function()
    local st = new()
    assert.equal("qdrant vector store (" .. s.url .. ")", tostring(st))
    assert.equal(1, st.SPI_VERSION)
    assert.equal("qdrant", st.name)
  end)

  it("reports healthy from GET /healthz, and unhealthy when nothing answers", function()
    local h = new():health()
    assert.is_true(h.healthy, h.message)
    local down = assert(qdrant.vector_stores({ url = "http://127.0.0.1:1", max_retries = 0 })):health()
    assert.is_false(down.healthy)
    assert.is_string(down.message)
  end)

  it("keeps a collection per dimension, created with Cosine distance", function()
    local a, b = new(), new({ collection = "mem" })
    assert(a:store_vectors({ item("x", "b", { 1, 0, 0 }) }))
    assert(b:store_vectors({ item("y", "b", { 1, 0, 0, 0 }) }))
    local st = s:stats().by_path
    assert.equal(1, st["/collections/astrocyte_3/points"])
    assert.equal(1, st["/collections/mem_4/points"])
    local res = require("astrocyte.http_curl").new():request { url = s.url .. "/collections", headers = { ["api-key"] = KEY } }
    assert.same({ { name = "astrocyte_3" }, { name = "mem_4" } }, require("cjson").decode(res.body).result.collections)
  end)

  it("builds must filters for bank, tags, fact types, time, as_of and metadata", function()
    local f = qdrant.new({ url = "http://x" }).filter_of("b1", { tags = { "t" }, fact_types = { "world" },
      time_range = { "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z" }, as_of = "2024-01-03T00:00:00Z",
      metadata_filters = { color = "red" }, session_id = "s1" })
    assert.same({ key = "bank_id", match = { value = "b1" } }, f.must[1])
    assert.same({ key = "tags", match = { any = { "t" } } }, f.must[2])
    assert.same({ key = "fact_type", match = { any = { "world" } } }, f.must[3])
    assert.same({ key = "occurred_ts", range = { gte = 1704067200, lte = 1704153600 } }, f.must[4])
    assert.same({ key = "retained_ts", range = { lte = 1704240000 } }, f.must[5])
    assert.equal(7, #f.must)
  end)

  it("leaves nothing behind when a later batch of one call fails", function()
    local p = new({ batch_size = 2, max_retries = 0 })
    local items = {}
    for i = 1, 5 do items[i] = item("i" .. i, "b", { 1, i, 0 }) end
    assert(p:store_vectors({ item("keep", "b", { 0, 0, 1 }) }))
    -- the third batch fails: the two written before it are deleted again
    s:fault { kind = "500", count = 1, path = "/points?wait", skip = 2 }
    local ids, err = p:store_vectors(items)
    assert.is_nil(ids)
    assert.equal("ProviderUnavailable", err.kind)
    assert.same({ "keep" }, (function()
      local out = {}
      for i, it in ipairs(assert(p:list_vectors("b", 0, 100))) do out[i] = it.id end
      return out
    end)())
  end)

  it("retries 429 and 503 on upserts and searches, bounded", function()
    local p = new()
    s:fault { kind = "429", count = 1, retry_after = "0" }
    s:fault { kind = "503", count = 1 }
    assert(p:store_vectors({ item("a", "b", { 1, 0, 0 }) }))
    s:fault { kind = "503", count = 5, path = "search" }
    local hits, err = p:search_similar({ 1, 0, 0 }, "b", 5)
    assert.is_nil(hits)
    assert.matches("after 3 attempts", err.message)
    assert.equal(1, #assert(p:search_similar({ 1, 0, 0 }, "b", 5)))
  end)

  it("reports malformed JSON and resets as clear errors without leaking the key", function()
    local p = new({ max_retries = 0 })
    assert(p:store_vectors({ item("a", "b", { 1, 0, 0 }) }))
    s:fault { kind = "malformed", count = 1 }
    local v, err = p:search_similar({ 1, 0, 0 }, "b", 5)
    assert.is_nil(v)
    assert.matches("malformed JSON", err.message)
    -- (two resets: libcurl itself re-sends once when a reused connection died)
    s:fault { kind = "reset", count = 2 }
    v, err = p:list_vectors("b", 0, 10)
    assert.is_nil(v)
    assert.equal("reset", err.network_error)
    local bad = new({ api_key = "qd-wrong-key-000111222" })
    v, err = bad:store_vectors({ item("z", "b", { 1, 0, 0 }) })
    assert.is_nil(v)
    assert.equal(401, err.status)
    assert.is_nil(tostring(err):find("qd-wrong-key-000111222", 1, true))
  end)

  it("serves an engine (openai embeddings, qdrant vectors) end to end", function()
    local ai = server.start("openai")
    local astrocyte = require "astrocyte"
    local eng = assert(astrocyte.open({
      vector_store = "qdrant", vector_store_config = { url = s.url, api_key = KEY },
      embedding_provider = "openai", embedding_provider_config = { base_url = ai.url .. "/v1", model = "m", dimensions = 64 } }))
    assert(eng:retain("Ana prefers green tea", { bank_id = "ana", tags = { "drinks" } }))
    assert(eng:retain("The deploy runs on nginx", { bank_id = "ana" }))
    assert(eng:retain("Ben prefers green tea too", { bank_id = "ben" }))
    local res = assert(eng:recall("green tea", { bank_id = "ana" }))
    assert.equal("Ana prefers green tea", res.hits[1].text)
    for _, h in ipairs(res.hits) do assert.are_not.equal("Ben prefers green tea too", h.text) end
    local f = assert(eng:forget({ bank_id = "ana", scope = "all" }))
    assert.equal(2, f.deleted_count)
    assert.same({}, assert(eng:recall("green tea", { bank_id = "ana" })).hits)
    eng:close()
    ai:stop()
  end)
end)
