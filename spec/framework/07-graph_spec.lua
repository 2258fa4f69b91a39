-- The entity graph on the embedded default store: retain extracts people
-- into the sqlite GraphStore (same file as the vectors), recall's graph
-- strategy finds the note about the person a question names, forget drops
-- the associations, and the graph survives closing and reopening the file.
describe("entity graph on the embedded default (sqlite)", function()
  local astrocyte = require "astrocyte"
  local sqlite = require "astrocyte.sqlite"
  local tmp = require "support.tmp"
  local dir, path

  local NOTES = {
    ana = "Ana works as a marine biologist and looks after the coral reef tanks.",
    ben = "Ben repairs old bicycles in his garage every weekend.",
    clara = "Clara bakes sourdough bread for the village market.",
    both = "Last Saturday Ana and Ben went hiking in the Alps together with friends from the climbing club.",
  }

  before_each(function()
    dir = tmp.dir()
    path = dir .. "/x.db"
  end)
  after_each(function() tmp.rm(dir) end)

  local function open() return assert(astrocyte.open({ vector_store_config = { path = path } })) end

  local function load(eng, bank)
    local ids = {}
    for _, k in ipairs({ "ana", "ben", "clara", "both" }) do
      ids[k] = assert(eng:retain(NOTES[k], { bank_id = bank })).memory_id
    end
    return ids
  end

  -- Rows of a graph table for one bank, read straight from the file.
  local function count(tbl, bank)
    local db = assert(sqlite.open(path))
    local st = assert(db:prepare("SELECT count(*) FROM " .. tbl .. " WHERE bank_id = ?"))
    assert(st:bind(1, bank))
    assert(st:step())
    local n = st:row()[1]
    st:finalize()
    db:close()
    return n
  end

  local function has(list, want)
    for _, v in ipairs(list) do if v == want then return true end end
    return false
  end

  it("picks the sqlite graph store automatically", function()
    local eng = open()
    assert.is_not_nil(eng.graph_store)
    assert.equal("sqlite", eng.graph_store.name)
    assert.is_true(eng.graph_store:health().healthy)
    eng:close()
  end)

  it("ranks the note about the person a question names first, through the graph strategy", function()
    local eng = open()
    local ids = load(eng, "people")
    for _, who in ipairs({ "Ben", "Clara", "Ana" }) do
      local res = assert(eng:recall("what does " .. who .. " do?", { bank_id = "people" }))
      assert.is_true(has(res.trace.strategies_used, "graph"), who)
      assert.equal(NOTES[who:lower()], res.hits[1].text, who)
    end
    -- the graph itself: Ben's entity reaches both notes that mention him
    local ben = assert(eng.graph_store:query_entities("Ben", "people", 3))[1]
    assert.equal("Ben", ben.name)
    local hits = assert(eng.graph_store:query_neighbors({ ben.id }, "people", 1, 10))
    assert.equal(ids.ben, hits[1].memory_id)            -- the note about Ben alone scores higher
    assert.is_true(hits[1].score > hits[2].score)
    local got = {}
    for _, h in ipairs(hits) do got[#got + 1] = h.memory_id end
    table.sort(got)
    local want = { ids.ben, ids.both }
    table.sort(want)
    assert.same(want, got)
    eng:close()
  end)

  it("keeps banks apart", function()
    local eng = open()
    load(eng, "one")
    assert(eng:retain("Dora teaches chemistry.", { bank_id = "two" }))
    assert.same({}, assert(eng.graph_store:query_entities("Ben", "two", 3)))
    local res = assert(eng:recall("what does Ben do?", { bank_id = "two" }))
    for _, h in ipairs(res.hits) do assert.equal("two", h.bank_id) end
    eng:close()
  end)

  it("forget drops the associations of forgotten memories; scope = 'all' leaves none", function()
    local eng = open()
    local ids = load(eng, "people")
    load(eng, "keep")
    assert.is_true(count("memory_entities", "people") > 0)
    assert(eng:forget({ bank_id = "people", memory_ids = { ids.ben } }))
    local ben = assert(eng.graph_store:query_entities("Ben", "people", 3))[1]
    local hits = assert(eng.graph_store:query_neighbors({ ben.id }, "people", 1, 10))
    assert.equal(1, #hits)
    assert.equal(ids.both, hits[1].memory_id)
    local res = assert(eng:forget({ bank_id = "people", scope = "all" }))
    assert.equal(3, res.deleted_count)
    assert.equal(0, count("memory_entities", "people"))
    assert.equal(0, count("memory_links", "people"))
    assert.same({}, assert(eng.graph_store:query_neighbors({ ben.id }, "people", 2, 10)))
    assert.is_true(count("memory_entities", "keep") > 0)
    eng:close()
  end)

  it("keeps the graph in the file across close and reopen", function()
    local eng = open()
    load(eng, "people")
    eng:close()
    local eng2 = open()
    local clara = assert(eng2.graph_store:query_entities("clara", "people", 3))[1]
    assert.equal("Clara", clara.name)
    local hits = assert(eng2.graph_store:query_neighbors({ clara.id }, "people", 1, 10))
    assert.equal(NOTES.clara, hits[1].text)
    local res = assert(eng2:recall("what does Clara do?", { bank_id = "people" }))
    assert.is_true(has(res.trace.strategies_used, "graph"))
    assert.equal(NOTES.clara, res.hits[1].text)
    eng2:close()
  end)
end)
