-- An engine with the in-memory vector store and the neo4j graph store (over
-- the loopback Neo4j): retain extracts people into the graph, recall's graph
-- strategy finds the note about the person a question names, banks stay
-- apart, forget drops the forgotten memories from the graph, and the
-- engine's graph writes reach the server as parameterised Cypher.
local server = require "support.server"
local astrocyte = require "astrocyte"

local PASSWORD = "neo-engine-pass-5150"

local NOTES = {
  ana = "Ana works as a marine biologist and looks after the coral reef tanks.",
  ben = "Ben repairs old bicycles in his garage every weekend.",
  clara = "Clara bakes sourdough bread for the village market.",
  both = "Last Saturday Ana and Ben went hiking in the Alps together with friends from the climbing club.",
}

local function has(list, want)
  for _, v in ipairs(list or {}) do if v == want then return true end end
  return false
end

describe("engine on in_memory vectors + neo4j graph", function()
  local s
  setup(function() s = server.start("neo4j", { "--password", PASSWORD }) end)
  teardown(function() if s then s:stop() end end)
  before_each(function() s:reset() end)

  local function open()
    return assert(astrocyte.open({ vector_store = "in_memory", graph_store = "neo4j",
      graph_store_config = { base_url = s.url, user = "neo4j", password = PASSWORD, database = "neo4j" } }))
  end

  local function load(eng, bank)
    local ids = {}
    for _, k in ipairs({ "ana", "ben", "clara", "both" }) do
      ids[k] = assert(eng:retain(NOTES[k], { bank_id = bank })).memory_id
    end
    return ids
  end

  it("recalls the note about the person a question names through the graph strategy", function()
    local eng = open()
    assert.equal("neo4j", eng.graph_store.name)
    assert.is_true(eng.graph_store:health().healthy)
    local ids = load(eng, "people")
    for _, who in ipairs({ "Ben", "Clara", "Ana" }) do
      local res = assert(eng:recall("what does " .. who .. " do?", { bank_id = "people" }))
      assert.is_true(has(res.trace.strategies_used, "graph"), who)
      assert.equal(NOTES[who:lower()], res.hits[1].text, who)
    end
    local ben = assert(eng.graph_store:query_entities("Ben", "people", 3))[1]
    assert.equal("Ben", ben.name)
    local hits = assert(eng.graph_store:query_neighbors({ ben.id }, "people", 1, 10))
    assert.equal(2, #hits)
    assert.equal(ids.ben, hits[1].memory_id)
    assert.is_true(hits[1].score > hits[2].score)
    eng:close()
  end)

  it("keeps banks apart and forgets memories out of the graph", function()
    local eng = open()
    local ids = load(eng, "people")
    assert(eng:retain("Dora teaches chemistry.", { bank_id = "two" }))
    assert.same({}, assert(eng.graph_store:query_entities("Ben", "two", 3)))
    for _, h in ipairs(assert(eng:recall("what does Ben do?", { bank_id = "two" })).hits) do
      assert.are_not.equal(NOTES.ben, h.text)
    end
    assert(eng:forget({ bank_id = "people", memory_ids = { ids.ben } }))
    local ben = assert(eng.graph_store:query_entities("Ben", "people", 3))[1]
    local hits = assert(eng.graph_store:query_neighbors({ ben.id }, "people", 1, 10))
    assert.equal(1, #hits)
    assert.equal(ids.both, hits[1].memory_id)
    assert(eng:forget({ bank_id = "people", scope = "all" }))
    assert.same({}, assert(eng.graph_store:query_neighbors({ ben.id }, "people", 2, 10)))
    assert.is_true(#assert(eng.graph_store:query_entities("Dora", "two", 3)) == 1)
    eng:close()
  end)
end)
