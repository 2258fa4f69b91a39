-- astrocyte.testing.graph_store: the GraphStore conformance cases (spi.md
-- §1.2 and §5.2): entity round trip by name and alias, links, memory
-- traversal with depth and limit, bank isolation, candidate search with
-- thresholds, and the optional memory links (both directions).
local common = require "astrocyte.testing.common"

local function entity(id, name, extra)
  local e = { id = id, name = name, entity_type = "PERSON" }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- Chain fixture in bank "g": alice —knows— bob —works_with— carol, and
-- memories m-alice, m-bob, m-carol linked to each.
local function chain(t)
  t.call("store_entities", { entity("alice", "Alice Johnson", { aliases = { "AJ" } }),
                             entity("bob", "Bob Stone"), entity("carol", "Carol Diaz") }, "g")
  t.call("store_links", { { entity_a = "alice", entity_b = "bob", link_type = "knows" },
                          { entity_a = "bob", entity_b = "carol", link_type = "works_with" } }, "g")
  t.call("link_memories_to_entities", { { memory_id = "m-alice", entity_id = "alice" },
                                        { memory_id = "m-bob", entity_id = "bob" },
                                        { memory_id = "m-carol", entity_id = "carol" } }, "g")
end

local function neighbors(t, seeds, depth, limit, bank)
  local hits = t.list(t.call("query_neighbors", seeds, bank or "g", depth, limit or 20), "query_neighbors result")
  for i, h in ipairs(hits) do t.valid("GraphHit", h, "query_neighbors hit " .. i) end
  return hits
end

local cases = {
  common.spi_case("graph_stores"),

  { "store_entities returns ids; query_entities finds them by name and alias", function(t)
    local ids = t.call("store_entities", { entity("e2", "Zoe Park"), entity("e1", "Alice Johnson", { aliases = { "AJ", "Ally" } }) }, "g")
    t.same({ "e2", "e1" }, ids, "store_entities ids")
    local by_name = t.list(t.call("query_entities", "alice", "g", 10), "query_entities result")
    t.same({ "e1" }, t.ids(by_name), "query_entities('alice') (case-insensitive)")
    t.valid("Entity", by_name[1], "query_entities hit")
    t.eq("Alice Johnson", by_name[1].name, "name of the entity found")
    t.same({ "e1" }, t.ids(t.call("query_entities", "Ally", "g", 10)), "query_entities by alias 'Ally'")
    t.same({}, t.call("query_entities", "nobody-like-this", "g", 10), "query_entities with no match")
  end },

  { "store_entities upserts an existing id", function(t)
    t.call("store_entities", { entity("e1", "Old Name") }, "g")
    t.call("store_entities", { entity("e1", "New Name") }, "g")
    t.same({ "e1" }, t.ids(t.call("query_entities", "new name", "g", 10)), "query for the new name")
    t.same({}, t.call("query_entities", "old name", "g", 10), "query for the old name")
  end },

  { "query_entities respects limit", function(t)
    t.call("store_entities", { entity("s1", "Smith One"), entity("s2", "Smith Two"), entity("s3", "Smith Three") }, "g")
    t.eq(2, #t.call("query_entities", "smith", "g", 2), "hits with limit 2")
  end },

  { "store_links returns one id per link", function(t)
    t.call("store_entities", { entity("a", "Ann"), entity("b", "Ben"), entity("c", "Cid") }, "g")
    local ids = t.list(t.call("store_links", { { entity_a = "a", entity_b = "b", link_type = "knows" },
                                               { entity_a = "b", entity_b = "c", link_type = "knows" } }, "g"), "store_links ids")
    t.eq(2, #ids, "number of link ids")
    for i, id in ipairs(ids) do t.ok(type(id) == "string" and id ~= "", "link id %d is not a non-empty string: %s", i, t.show(id)) end
    t.ok(ids[1] ~= ids[2], "two different links got the same id %s", tostring(ids[1]))
  end },

  { "query_neighbors returns linked memories with depth >= 1 and connected entities", function(t)
    chain(t)
    local hits = neighbors(t, { "alice" }, 1, 20)
    t.same({ "m-alice" }, t.ids(hits, "memory_id"), "memories within depth 1 of alice")
    t.ok(hits[1].depth >= 1, "depth of a directly linked memory must be >= 1, got %s", tostring(hits[1].depth))
    local found = false
    for _, e in ipairs(hits[1].connected_entities) do if e == "alice" then found = true end end
    t.ok(found, "connected_entities of m-alice must contain 'alice', got %s", t.show(hits[1].connected_entities))
  end },

  { "query_neighbors respects max_depth and puts nearer memories first", function(t)
    chain(t)
    t.same({ "m-alice" }, t.ids(neighbors(t, { "alice" }, 1), "memory_id"), "max_depth 1 from alice")
    local deep = neighbors(t, { "alice" }, 3)
    t.same({ "m-alice", "m-bob", "m-carol" }, t.ids(deep, "memory_id"), "max_depth 3 from alice")
    t.eq("m-alice", deep[1].memory_id, "nearest memory first")
    t.eq("m-carol", deep[3].memory_id, "farthest memory last")
    for i = 2, #deep do
      t.ok(deep[i].depth >= deep[i - 1].depth, "hits not ordered by depth: %s", t.show(deep))
    end
  end },

  { "query_neighbors respects limit", function(t)
    chain(t)
    t.eq(2, #neighbors(t, { "alice" }, 3, 2), "hits with limit 2")
  end },

  { "graph queries never cross banks", function(t)
    chain(t)
    t.call("store_entities", { entity("alice", "Alice Other") }, "g2")
    t.same({}, t.call("query_entities", "johnson", "g2", 10), "query_entities('johnson') in bank g2")
    t.same({}, neighbors(t, { "alice" }, 3, 20, "g2"), "query_neighbors(alice) in bank g2")
    t.same({}, neighbors(t, { "alice" }, 3, 20, "no-such-bank"), "query_neighbors in an unknown bank")
    t.same({ "alice" }, t.ids(t.call("query_entities", "johnson", "g", 10)), "bank g still sees its own alice")
  end },

  { "find_entity_candidates returns similar names, most similar first", function(t)
    t.call("store_entities", { entity("x", "Bartholomew"), entity("a2", "Alice Jonson"), entity("a1", "Alice Johnson") }, "g")
    local c = t.list(t.call("find_entity_candidates", "Alice Johnson", "g", 0.8, 5), "find_entity_candidates result")
    t.ok(#c >= 1, "no candidate found for an exact name")
    t.eq("a1", c[1].id, "best candidate for 'Alice Johnson'")
    for _, e in ipairs(c) do t.ok(e.id ~= "x", "dissimilar 'Bartholomew' returned as a candidate") end
    t.eq(1, #t.call("find_entity_candidates", "Alice Johnson", "g", 0.8, 1), "candidates with limit 1")
  end },

  { "find_entity_candidates_scored drops names below trigram_threshold, best first", function(t)
    t.call("store_entities", { entity("x", "Bartholomew"), entity("a2", "Alice Jonson"), entity("a1", "Alice Johnson") }, "g")
    local c = t.list(t.call("find_entity_candidates_scored", "Alice Johnson", "g", { trigram_threshold = 0.5 }), "result")
    local ids = {}
    for i, m in ipairs(c) do ids[i] = m.entity and m.entity.id end
    t.same({ "a1", "a2" }, t.sorted(ids), "candidates above 0.5")
    for i, m in ipairs(c) do
      t.valid("EntityCandidateMatch", m, "candidate " .. i)
      t.ok(m.name_similarity >= 0.5, "candidate %s has similarity %s below the threshold", m.entity.id, tostring(m.name_similarity))
      if i > 1 then t.ok(c[i - 1].name_similarity >= m.name_similarity, "candidates not sorted best first") end
    end
    t.eq("a1", c[1].entity.id, "best candidate")
    t.ok(c[1].name_similarity > 0.99, "exact name must score ~1.0, got %s", tostring(c[1].name_similarity))
    t.same({}, t.call("find_entity_candidates_scored", "Qqqqqq", "g", { trigram_threshold = 0.9 }), "no candidate above 0.9")
  end },

  { "find_entity_candidates_scored reports embedding_similarity only with both embeddings", function(t)
    t.call("store_entities", { entity("with", "Dana Scott", { embedding = { 1, 0, 0 } }), entity("without", "Dana Scot") }, "g")
    local c = t.call("find_entity_candidates_scored", "Dana Scott", "g", { name_embedding = { 1, 0, 0 }, trigram_threshold = 0.3 })
    local by = {}
    for _, m in ipairs(c) do by[m.entity.id] = m end
    t.ok(by.with and by.without, "both Dana entities must be candidates, got %s", t.show(c))
    t.ok(by.with.embedding_similarity and by.with.embedding_similarity > 0.99,
         "embedding_similarity of an identical embedding must be ~1.0, got %s", tostring(by.with.embedding_similarity))
    t.eq(nil, by.without.embedding_similarity, "embedding_similarity of an entity without embedding")
    c = t.call("find_entity_candidates_scored", "Dana Scott", "g", { trigram_threshold = 0.3 })
    for _, m in ipairs(c) do t.eq(nil, m.embedding_similarity, "embedding_similarity without name_embedding") end
  end },

  { "store_entity_link returns a link id", function(t)
    t.call("store_entities", { entity("a", "Ann"), entity("b", "Annie") }, "g")
    local id = t.call("store_entity_link", { entity_a = "a", entity_b = "b", link_type = "alias_of",
                                             evidence = "same email", confidence = 0.9 }, "g")
    t.ok(type(id) == "string" and id ~= "", "store_entity_link must return a non-empty string id, got %s", t.show(id))
  end },

  { "memory links (optional) are found from either end", function(t)
    if not t.has("store_memory_links") or not t.has("find_memory_links") then return end
    local ids = t.call("store_memory_links", { { source_memory_id = "m1", target_memory_id = "m2", link_type = "caused_by" },
                                               { source_memory_id = "m3", target_memory_id = "m1", link_type = "semantic" } }, "g")
    t.eq(2, #t.list(ids, "store_memory_links ids"), "number of memory link ids")
    local function pairs_of(l)
      local out = {}
      for i, x in ipairs(l) do
        t.valid("MemoryLink", x, "memory link " .. i)
        out[i] = x.source_memory_id .. ">" .. x.target_memory_id
      end
      table.sort(out)
      return out
    end
    t.same({ "m1>m2" }, pairs_of(t.call("find_memory_links", { "m2" }, "g")), "links with m2 as target")
    t.same({ "m1>m2", "m3>m1" }, pairs_of(t.call("find_memory_links", { "m1" }, "g")), "links touching m1")
    t.same({ "m3>m1" }, pairs_of(t.call("find_memory_links", { "m1" }, "g", { link_types = { "semantic" } })), "semantic links of m1")
    t.same({}, t.call("find_memory_links", { "m1" }, "other-bank"), "links of m1 in another bank")
  end },

  common.health_case(),
}

return { title = "GraphStore", group = "graph_stores", cases = cases }
