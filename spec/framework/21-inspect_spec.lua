-- engine:memory(bank_id, memory_id): one memory as a person looks at it
-- (the gateway's memory browser): fields, visible metadata, entities from
-- the graph store, and a history built from the rows and the audit log.
describe("engine:memory", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir, eng

  before_each(function()
    dir = tmp.dir()
    eng = assert(astrocyte.open(nil, { db = dir .. "/m.db" }))
  end)
  after_each(function()
    eng:close()
    tmp.rm(dir)
  end)

  it("returns the text, tags, visible metadata and the entities retain linked", function()
    local r = assert(eng:retain("Alice moved to Paris in May with her cat Tom.",
      { bank_id = "life", tags = { "move" }, metadata = { source = "chat" } }))
    local m = assert(eng:memory("life", r.memory_id))
    assert.equal("Alice moved to Paris in May with her cat Tom.", m.text)
    assert.same({ "move" }, m.tags)
    assert.same({ source = "chat" }, m.metadata) -- _created_at and other engine keys hidden
    assert.equal("life", m.bank_id)
    assert.is_nil(m.archived_at)
    local names = {}
    for _, e in ipairs(m.entities) do names[#names + 1] = e.name end
    table.sort(names)
    assert.same({ "Alice", "Paris", "Tom" }, names)
    assert.equal(1, #m.history)
    assert.equal("retained", m.history[1].event)
  end)

  it("keeps the history of a soft forget: archived, then the audited forget with its principal and reason", function()
    local r = assert(eng:retain("The boiler was serviced on Monday.", { bank_id = "house" }))
    assert(eng:forget({ bank_id = "house", memory_ids = { r.memory_id }, soft = true,
                        reason = "outdated", principal = "user:ana" }))
    local m = assert(eng:memory("house", r.memory_id))
    assert.truthy(m.archived_at)
    local events = {}
    for _, h in ipairs(m.history) do events[#events + 1] = h.event end
    assert.same({ "retained", "archived", "forget" }, events)
    assert.equal("user:ana", m.history[3].principal)
    assert.equal("outdated", m.history[3].reason)
  end)

  it("says NotFound for a missing or hard-forgotten memory, and names the bad argument", function()
    local r = assert(eng:retain("Milk is in the fridge.", { bank_id = "kitchen" }))
    assert(eng:forget({ bank_id = "kitchen", memory_ids = { r.memory_id } }))
    local m, err = eng:memory("kitchen", r.memory_id)
    assert.is_nil(m)
    assert.equal("NotFound", err.kind)
    assert.equal("kitchen", err.bank_id)
    m, err = eng:memory("kitchen", 42)
    assert.is_nil(m)
    assert.equal("ValidationError", err.kind)
    assert.equal("memory_id", err.field)
    m, err = eng:memory("no such bank!", "x")
    assert.is_nil(m)
    assert.equal("ValidationError", err.kind)
  end)

  it("needs recall on the bank when access control is on", function()
    eng:close()
    eng = assert(astrocyte.open({
      vector_store = "sqlite", vector_store_config = { path = dir .. "/acl.db" },
      access_control = { enabled = true, default_policy = "deny" },
      access_grants = {
        { bank_id = "team", principal = "user:ana", permissions = { "read", "write" } },
      },
    }))
    local ana = assert(eng:with_context({ principal = "user:ana" }))
    local r = assert(ana:retain("The deploy key rotates every 90 days.", { bank_id = "team" }))
    assert(ana:memory("team", r.memory_id))
    local bob = assert(eng:with_context({ principal = "user:bob" }))
    local m, err = bob:memory("team", r.memory_id)
    assert.is_nil(m)
    assert.equal("AccessDenied", err.kind)
  end)

  it("searches the entity graph and walks from entities to the memories connected to them", function()
    assert(eng:retain("Alice moved to Paris in May with her cat Tom.", { bank_id = "g" }))
    assert(eng:retain("Tom the cat loves the rooftops of Paris.", { bank_id = "g" }))
    assert(eng:retain("Bob works in Berlin.", { bank_id = "g" }))
    local ents = assert(eng:graph_search("ali", { bank_id = "g" }))
    assert.equal(1, #ents)
    assert.equal("Alice", ents[1].name)
    local hits = assert(eng:graph_neighbors({ ents[1].id }, { bank_id = "g", max_depth = 2 }))
    assert.equal("Alice moved to Paris in May with her cat Tom.", hits[1].text)
    assert.equal(1, hits[1].depth)
    assert.equal("Tom the cat loves the rooftops of Paris.", hits[2].text) -- through Tom / Paris
    assert.equal(2, hits[2].depth)
    for _, h in ipairs(hits) do assert.falsy(h.text:find("Berlin", 1, true)) end
    hits = assert(eng:graph_neighbors({ ents[1].id }, { bank_id = "g", max_depth = 1 }))
    assert.equal(1, #hits)
    -- bad arguments name their field
    local _, err = eng:graph_search("", { bank_id = "g" })
    assert.equal("query", err.field)
    _, err = eng:graph_neighbors({}, { bank_id = "g" })
    assert.equal("entity_ids", err.field)
    _, err = eng:graph_neighbors({ ents[1].id }, { bank_id = "g", max_depth = 9 })
    assert.equal("max_depth", err.field)
    _, err = eng:graph_search("ali", { bank_id = "g", colour = "red" })
    assert.equal("colour", err.field)
  end)

  it("says CapabilityNotSupported for the graph verbs without a graph store", function()
    package.path = "examples/custom_vector_store/?.lua;" .. package.path
    local e2 = assert(astrocyte.open({ vector_store = "my_store:Store" }))
    local res, err = e2:graph_search("x", { bank_id = "b" })
    assert.is_nil(res)
    assert.equal("CapabilityNotSupported", err.kind)
    res, err = e2:graph_neighbors({ "ent:x" }, { bank_id = "b" })
    assert.is_nil(res)
    assert.equal("CapabilityNotSupported", err.kind)
    e2:close()
  end)
end)
