-- astrocyte.providers.neo4j against the loopback Neo4j
-- (spec/support/servers/neo4j_server.py, a real small Cypher interpreter):
-- the GraphStore conformance suite on fresh data per case (server reset),
-- plus the provider's own semantics: upsert with alias merge and mention
-- counting, texts in query_neighbors, the forget/export extensions.
local testing = require "astrocyte.testing"
local server = require "support.server"
local neo4j = require "astrocyte.providers.neo4j"

local PASSWORD = "neo-secret-pass-4711"

describe("neo4j graph store", function()
  local s
  setup(function() s = server.start("neo4j", { "--password", PASSWORD }) end)
  teardown(function() if s then s:stop() end end)

  local function new(extra)
    local conf = { base_url = s.url, user = "neo4j", password = PASSWORD, database = "neo4j", backoff_ms = 5 }
    for k, v in pairs(extra or {}) do conf[k] = v end
    return assert(neo4j.graph_stores(conf))
  end

  testing.graph_store(function() s:reset(); return new() end)

  before_each(function() s:reset() end)

  it("upserts entities: new name, merged aliases (case-insensitive), one more mention, kept metadata", function()
    local g = new()
    assert(g:store_entities({ { id = "a", name = "Alice", entity_type = "PERSON", aliases = { "AJ" },
                                metadata = { team = "core" }, embedding = { 1, 0 } } }, "b"))
    assert(g:store_entities({ { id = "a", name = "Alice Jones", entity_type = "PERSON", aliases = { "aj", "Ally", "ally" } } }, "b"))
    local e = assert(g:query_entities("ally", "b", 5))[1]
    assert.equal("Alice Jones", e.name)
    assert.same({ "AJ", "Ally" }, e.aliases)
    assert.equal(2, e.mention_count)
    assert.same({ team = "core" }, e.metadata)
    assert.same({ 1, 0 }, e.embedding)
    g:close()
  end)

  it("returns memory texts given with the associations, else an empty string", function()
    local g = new()
    assert(g:store_entities({ { id = "a", name = "Ann", entity_type = "PERSON" } }, "b"))
    assert(g:link_memories_to_entities({ { memory_id = "m1", entity_id = "a", text = "Ann builds bridges" },
                                         { memory_id = "m2", entity_id = "a" } }, "b"))
    local hits = assert(g:query_neighbors({ "a" }, "b", 1, 10))
    assert.equal(2, #hits)
    local by = {}
    for _, h in ipairs(hits) do by[h.memory_id] = h end
    assert.equal("Ann builds bridges", by.m1.text)
    assert.equal("", by.m2.text)
    for _, h in ipairs(hits) do assert.is_true(h.score > 0 and h.score <= 1) end
  end)

  it("scores nearer memories higher and caps the depth", function()
    local g = new()
    local ents, links, assoc = {}, {}, {}
    for i = 1, 5 do
      ents[i] = { id = "e" .. i, name = "Entity " .. i, entity_type = "THING" }
      assoc[i] = { memory_id = "m" .. i, entity_id = "e" .. i }
      if i > 1 then links[#links + 1] = { entity_a = "e" .. (i - 1), entity_b = "e" .. i, link_type = "next" } end
    end
    assert(g:store_entities(ents, "b")); assert(g:store_links(links, "b")); assert(g:link_memories_to_entities(assoc, "b"))
    local hits = assert(g:query_neighbors({ "e1" }, "b", 4, 10))
    assert.same({ "m1", "m2", "m3", "m4" }, (function() local o = {} for i, h in ipairs(hits) do o[i] = h.memory_id end return o end)())
    for i = 2, #hits do assert.is_true(hits[i].score < hits[i - 1].score) end
    assert.equal(4, hits[4].depth)
    assert.equal(2, #assert(new({ max_depth_cap = 2 }):query_neighbors({ "e1" }, "b", 9, 10)))
  end)

  it("unlink_memories drops associations and memory links; get_memory_entities lists entities", function()
    local g = new()
    assert(g:store_entities({ { id = "a", name = "Ann", entity_type = "PERSON", aliases = { "Annie" } },
                              { id = "b", name = "Bo", entity_type = "PERSON" } }, "k"))
    assert(g:link_memories_to_entities({ { memory_id = "m1", entity_id = "a" }, { memory_id = "m1", entity_id = "b" },
                                         { memory_id = "m2", entity_id = "b" } }, "k"))
    assert(g:store_memory_links({ { source_memory_id = "m1", target_memory_id = "m2", link_type = "semantic" } }, "k"))
    local me = assert(g:get_memory_entities({ "m1", "m2", "nope" }, "k"))
    assert.same({ { id = "a", name = "Ann", entity_type = "PERSON", aliases = { "Annie" } },
                  { id = "b", name = "Bo", entity_type = "PERSON", aliases = {} } }, me.m1)
    assert.equal(1, #me.m2)
    assert.is_nil(me.nope)
    assert.equal(0, g:unlink_memories({ "m1" }, "other-bank"))
    assert.equal(2, g:unlink_memories({ "m1" }, "k"))
    assert.same({}, assert(g:find_memory_links({ "m2" }, "k")))
    assert.same({ "m2" }, (function() local o = {} for i, h in ipairs(assert(g:query_neighbors({ "a", "b" }, "k", 1, 10))) do o[i] = h.memory_id end return o end)())
  end)

  it("reports health through a trivial statement", function()
    local h = new():health()
    assert.is_true(h.healthy)
    local bad = assert(neo4j.graph_stores({ base_url = s.url, password = PASSWORD, database = "nosuchdb", max_retries = 0 }))
    h = bad:health()
    assert.is_false(h.healthy)
    assert.matches("Neo.ClientError.Database.DatabaseNotFound", h.message, 1, true)
  end)
end)
