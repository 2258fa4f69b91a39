-- The GraphStore suite against the sqlite provider's graph store
-- (providers/sqlite/graph.lua), each case on a fresh database file in a
-- temporary directory, plus the sqlite-specific extras: upsert counting
-- mentions and merging aliases, unlink_memories, texts read from the
-- vector store's memories table, and persistence across reopen.
local testing = require "astrocyte.testing"
local sqlite = require "astrocyte.providers.sqlite"
local tmp = require "support.tmp"

local function factory()
  local dir = tmp.dir()
  local store, err = sqlite.graph_stores({ path = dir .. "/graph.db" })
  if not store then tmp.rm(dir); return nil, err end
  return store, function(s) s:close(); tmp.rm(dir) end
end

describe("sqlite provider", function()
  testing.graph_store(factory)
end)

describe("sqlite graph store extras", function()
  local dir, path, g
  before_each(function()
    dir = tmp.dir()
    path = dir .. "/graph.db"
    g = assert(sqlite.graph_stores({ path = path }))
  end)
  after_each(function()
    g:close()
    tmp.rm(dir)
  end)

  local function person(id, name, aliases)
    return { id = id, name = name, entity_type = "PERSON", aliases = aliases }
  end

  it("counts one more mention per upsert and merges aliases case-insensitively", function()
    assert.same({ "a" }, assert(g:store_entities({ person("a", "Ana Lima", { "Ana" }) }, "b")))
    assert(g:store_entities({ person("a", "Ana Lima", { "ANA", "Annie" }) }, "b"))
    local e = assert(g:query_entities("annie", "b", 10))[1]
    assert.equal("a", e.id)
    assert.equal(2, e.mention_count)
    assert.same({ "Ana", "Annie" }, e.aliases)
    local m = assert(g:find_entity_candidates_scored("Ana Lima", "b", { trigram_threshold = 0.9 }))
    assert.equal(2, m[1].mention_count)
    assert.is_string(m[1].last_seen)
  end)

  it("scores memories connected to more query entities higher, all scores in [0,1]", function()
    assert(g:store_entities({ person("ana", "Ana"), person("ben", "Ben") }, "b"))
    assert(g:link_memories_to_entities({ { memory_id = "both", entity_id = "ana" }, { memory_id = "both", entity_id = "ben" },
                                         { memory_id = "ana-only", entity_id = "ana" } }, "b"))
    local hits = assert(g:query_neighbors({ "ana", "ben" }, "b", 2, 10))
    assert.equal("both", hits[1].memory_id)
    assert.same({ "ana", "ben" }, hits[1].connected_entities)
    assert.equal(1, hits[1].depth)
    assert.is_true(hits[1].score > hits[2].score)
    for _, h in ipairs(hits) do assert.is_true(h.score > 0 and h.score <= 1) end
  end)

  it("unlink_memories drops associations and memory links of the given memories, in that bank only", function()
    assert(g:store_entities({ person("ana", "Ana") }, "b"))
    assert(g:store_entities({ person("ana", "Ana") }, "other"))
    for _, bank in ipairs({ "b", "other" }) do
      assert(g:link_memories_to_entities({ { memory_id = "m1", entity_id = "ana" }, { memory_id = "m2", entity_id = "ana" } }, bank))
      assert(g:store_memory_links({ { source_memory_id = "m2", target_memory_id = "m1", link_type = "semantic" } }, bank))
    end
    assert.equal(1, g:unlink_memories({ "m1" }, "b"))
    local ids = {}
    for _, h in ipairs(assert(g:query_neighbors({ "ana" }, "b", 2, 10))) do ids[#ids + 1] = h.memory_id end
    assert.same({ "m2" }, ids)
    assert.same({}, g:find_memory_links({ "m2" }, "b"))
    assert.equal(2, #assert(g:query_neighbors({ "ana" }, "other", 2, 10)))
    assert.equal(1, #g:find_memory_links({ "m2" }, "other"))
    assert.equal(0, g:unlink_memories({}, "b"))
  end)

  it("reads hit texts from the vector store's memories table and keeps the graph across reopen", function()
    local vs = assert(sqlite.vector_stores({ path = path }))
    assert(vs:store_vectors({ { id = "m1", bank_id = "b", vector = { 1, 0, 0, 0 }, text = "Ana is a marine biologist." } }))
    assert(g:store_entities({ person("ana", "Ana") }, "b"))
    assert(g:link_memories_to_entities({ { memory_id = "m1", entity_id = "ana" } }, "b"))
    assert.equal("Ana is a marine biologist.", assert(g:query_neighbors({ "ana" }, "b", 1, 5))[1].text)
    vs:close()
    g:close()
    g = assert(sqlite.graph_stores({ path = path }))
    local hits = assert(g:query_neighbors({ "ana" }, "b", 1, 5))
    assert.equal("m1", hits[1].memory_id)
    assert.equal("Ana is a marine biologist.", hits[1].text)
    assert.equal("ana", assert(g:query_entities("ana", "b", 1))[1].id)
  end)

  it("rejects invalid input without writing anything", function()
    local ids, err = g:store_entities({ person("ok", "Fine"), { id = "bad", name = "" } }, "b")
    assert.is_nil(ids)
    assert.truthy(tostring(err):find("entities[2]", 1, true))
    assert.same({}, g:query_entities("fine", "b", 10))
    local _, berr = g:store_entities({ person("x", "X") }, "")
    assert.truthy(tostring(berr):find("bank_id", 1, true))
    local h = g:health()
    assert.is_true(h.healthy)
    g:close()
    assert.is_false(g:health().healthy)
    g = assert(sqlite.graph_stores({ path = path }))
  end)
end)
