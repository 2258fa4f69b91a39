-- astrocyte.providers.neo4j under failure, against the loopback Neo4j:
-- authentication (basic and bearer; the credential never appears in an
-- error), 5xx with bounded retries (and none for the non-idempotent
-- store_entities), malformed JSON, Neo.* errors surfaced with their code,
-- and values carrying quotes / Cypher injection stored literally, because
-- every value travels as a parameter.
local server = require "support.server"
local neo4j = require "astrocyte.providers.neo4j"
local curl = require "astrocyte.http_curl"
local cjson = require "cjson"

local PASSWORD = "neo-secret-pass-4711"
local TOKEN = "neo-bearer-token-99887766"

local function ent(id, name) return { id = id, name = name, entity_type = "PERSON" } end

describe("neo4j graph store faults", function()
  local s
  setup(function() s = server.start("neo4j", { "--password", PASSWORD }) end)
  teardown(function() if s then s:stop() end end)
  before_each(function() s:reset() end)

  local function new(extra)
    local conf = { base_url = s.url, user = "neo4j", password = PASSWORD, max_retries = 2, backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(neo4j.graph_stores(conf))
  end

  it("fails authentication with a clear error that carries no credential", function()
    local wrong = "wrong-password-123456"
    local g = new({ password = wrong })
    local v, err = g:query_entities("x", "b", 5)
    assert.is_nil(v)
    assert.equal("AuthenticationError", err.kind)
    assert.equal(401, err.status)
    assert.equal("Neo.ClientError.Security.Unauthorized", err.code)
    assert.matches("Neo.ClientError.Security.Unauthorized", err.message, 1, true)
    local b64 = select(2, require("astrocyte.providers.shared").basic("neo4j", wrong))
    for _, secret in ipairs { wrong, b64, PASSWORD } do
      assert.is_nil(tostring(err):find(secret, 1, true), "credential leaked: " .. tostring(err))
    end
    assert.is_false(g:health().healthy)
    assert.is_nil(g:health().message:find(b64, 1, true))
  end)

  it("authenticates with a bearer token", function()
    local t = server.start("neo4j", { "--token", TOKEN })
    local ok, e = pcall(function()
      local g = assert(neo4j.graph_stores({ base_url = t.url, token = TOKEN }))
      assert.is_true(g:health().healthy)
      local bad = assert(neo4j.graph_stores({ base_url = t.url, token = "not-the-token-000111" }))
      local v, err = bad:store_entities({ ent("a", "A") }, "b")
      assert.is_nil(v)
      assert.equal("AuthenticationError", err.kind)
      assert.is_nil(tostring(err):find("not-the-token-000111", 1, true))
    end)
    t:stop()
    assert(ok, e)
  end)

  it("retries 5xx on reads, bounded, and not on store_entities", function()
    local g = new()
    assert(g:store_entities({ ent("a", "Ann") }, "b"))
    s:fault { kind = "503", count = 1 }
    assert.equal(1, #assert(g:query_entities("ann", "b", 5)))
    s:fault { kind = "500", count = 5 }
    local v, err = g:query_entities("ann", "b", 5)
    assert.is_nil(v)
    assert.equal("ProviderUnavailable", err.kind)
    assert.matches("after 3 attempts", err.message)
    assert.matches("query_entities", err.message)
    s:reset()
    s:fault { kind = "503", count = 1 }
    v, err = g:store_entities({ ent("a", "Ann") }, "b")
    assert.is_nil(v)
    assert.equal(503, err.status)
    assert.equal(1, s:stats().requests)
  end)

  it("reports malformed JSON and Neo.* error entries with their code", function()
    local g = new({ max_retries = 0 })
    s:fault { kind = "malformed", count = 1 }
    local v, err = g:query_entities("x", "b", 5)
    assert.is_nil(v)
    assert.matches("malformed JSON", err.message)
    s:fault { kind = "neo_error", code = "Neo.TransientError.Transaction.DeadlockDetected", message = "deadlock" }
    v, err = g:store_links({ { entity_a = "a", entity_b = "b", link_type = "knows" } }, "b")
    assert.is_nil(v)
    assert.equal("ProviderUnavailable", err.kind)
    assert.equal("Neo.TransientError.Transaction.DeadlockDetected", err.code)
    assert.matches("store_links failed: Neo.TransientError.Transaction.DeadlockDetected: deadlock", err.message, 1, true)
    -- a statement the server cannot parse: its SyntaxError comes back as is,
    -- and the whole request is rolled back
    v, err = g:run("custom", { { "CREATE (n:Entity {bank_id: $b, id: 'x', name: 'X'})", { b = "b" } },
                              { "MATCH (n) RETURN n LIMTI 1" } })
    assert.is_nil(v)
    assert.equal("ProviderError", err.kind)
    assert.equal("Neo.ClientError.Statement.SyntaxError", err.code)
    assert.matches("custom failed: Neo.ClientError.Statement.SyntaxError", err.message, 1, true)
    assert.same({}, assert(g:query_entities("x", "b", 5)))
  end)

  it("stores quotes and Cypher injection literally, as parameters", function()
    local g = new()
    local evil = "O'Brien\"}) MATCH (n) DETACH DELETE n //"
    local evil2 = "x' OR 1=1 WITH * MATCH (m) SET m.bank_id = 'b' RETURN '\\"
    assert(g:store_entities({ ent("keep", "Keeper") }, "other"))
    assert(g:store_entities({ ent("e1", evil), ent(evil2, "$bank_id {name}") }, "b"))
    assert(g:store_links({ { entity_a = "e1", entity_b = evil2, link_type = "kn'ows`" } }, "b"))
    assert(g:link_memories_to_entities({ { memory_id = "m'1", entity_id = evil2, text = evil } }, "b"))
    local hits = assert(g:query_entities("o'brien\"})", "b", 5))
    assert.equal(evil, hits[1].name)
    assert.equal(evil2, assert(g:query_entities("$bank_id", "b", 5))[1].id)
    local n = assert(g:query_neighbors({ "e1" }, "b", 2, 5))
    assert.equal("m'1", n[1].memory_id)
    assert.equal(evil, n[1].text)
    assert.equal(1, #assert(g:query_entities("keeper", "other", 5)))
    assert.same({}, assert(g:query_entities("keeper", "b", 5)))
    -- no value was spliced into a statement
    local res = curl.new():request { url = s.url .. "/__test/statements",
      headers = { Authorization = require("astrocyte.providers.shared").basic("neo4j", PASSWORD).Authorization } }
    for _, st in ipairs(cjson.decode(res.body).statements) do
      assert.is_nil(st:find("O'Brien", 1, true))
      assert.is_nil(st:find("m'1", 1, true))
      assert.is_nil(st:find("kn'ows", 1, true))
    end
  end)
end)
