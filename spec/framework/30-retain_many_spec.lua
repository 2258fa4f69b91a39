-- engine:retain_many: every item validated and admitted before anything is
-- written (errors name items[i] and the field), one transaction on the
-- embedded SQLite store, nothing left behind when the store fails part way
-- (SQLite store: a trigger raising inside the transaction; in-memory store,
-- which writes per item: a store that fails on its third write), and the
-- same events per item as retain.
describe("engine:retain_many", function()
  local astrocyte = require "astrocyte"
  local sqlite = require "astrocyte.sqlite"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function open_sqlite(extra)
    local cfg = { vector_store_config = { path = dir .. "/m.db" } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    return assert(astrocyte.open(cfg))
  end

  local function count(eng, bank)
    for _, b in ipairs(assert(eng:banks())) do
      if b.bank_id == bank then return b.memory_count end
    end
    return 0
  end

  it("stores every item in order, with per-item options over the call's", function()
    local eng = open_sqlite()
    local res = assert(eng:retain_many({
      "Ana moved to Lisbon in 2019.",
      { content = "Bruno plays the cello every Sunday.", tags = { "music" } },
      { content = "Carla keeps bees on her roof.", bank_id = "other", metadata = { source = "chat" } },
    }, { bank_id = "b1", tags = { "bio" } }))
    assert.equal(3, #res)
    for _, r in ipairs(res) do
      assert.is_true(r.stored)
      assert.equal("add", r.retention_action)
      assert.equal(1, #r.memory_ids)
    end
    assert.equal(2, count(eng, "b1"))
    assert.equal(1, count(eng, "other"))
    local hit = assert(eng:recall("cello Sunday", { bank_id = "b1" })).hits[1]
    assert.equal(res[2].memory_id, hit.memory_id)
    assert.same({ "music" }, hit.tags)
    hit = assert(eng:recall("Lisbon", { bank_id = "b1", tags = { "bio" } })).hits[1]
    assert.equal(res[1].memory_id, hit.memory_id)
    hit = assert(eng:recall("bees roof", { bank_id = "other" })).hits[1]
    assert.equal("chat", hit.metadata.source)
    -- the entity graph was written in the same transaction
    local ents = assert(eng.graph_store:query_entities("Bruno", "b1", 5))
    assert.equal("Bruno", ents[1].name)
    eng:close()
    -- durable: a new engine on the file sees all three
    eng = open_sqlite()
    assert.equal(2, count(eng, "b1"))
    eng:close()
  end)

  it("returns {} for no items and rejects a non-table", function()
    local eng = open_sqlite()
    assert.same({}, assert(eng:retain_many({}, { bank_id = "b1" })))
    local res, err = eng:retain_many("text", { bank_id = "b1" })
    assert.is_nil(res)
    assert.equal("ValidationError", err.kind)
    assert.equal("items", err.field)
    eng:close()
  end)

  it("validates every item first: the error names the item and field, nothing is stored", function()
    local eng = open_sqlite()
    local cases = {
      { { "fine", { content = 42 } }, 2, "items[2].content" },
      { { "fine", "also fine", "   " }, 3, "items[3].content" },
      { { "fine", { content = "x", tags = "notalist" } }, 2, "items[2].tags" },
      { { "fine", { content = "x", occurred_at = "not a date" } }, 2, "items[2].occurred_at" },
      { { { content = "x", colour = "red" } }, 1, "items[1].colour" },
      { { "fine", true }, 2, "items[2]" },
      { { "fine", { content = "x", bank_id = "" } }, 2, "items[2].bank_id" },
    }
    for _, c in ipairs(cases) do
      local res, err = eng:retain_many(c[1], { bank_id = "b1" })
      assert.is_nil(res)
      assert.equal("ValidationError", err.kind)
      assert.equal(c[2], err.index)
      assert.equal(c[3], err.field)
      assert.truthy(err.message:find("items[" .. c[2] .. "]", 1, true), err.message)
    end
    assert.equal(0, count(eng, "b1"))
    -- an unknown call option is refused as retain refuses it
    local res, err = eng:retain_many({ "x" }, { bank_id = "b1", colour = "red" })
    assert.is_nil(res)
    assert.equal("colour", err.field)
    eng:close()
  end)

  it("refuses the whole call when one item's bank is denied", function()
    local eng = open_sqlite({
      access_control = { enabled = true, default_policy = "deny" },
      access_grants = { { bank_id = "b1", principal = "agent:a", permissions = { "retain", "recall" } } },
    })
    local res, err = eng:retain_many({ "ok here", { content = "not there", bank_id = "b2" } },
                                     { bank_id = "b1", principal = "agent:a" })
    assert.is_nil(res)
    assert.equal("AccessDenied", err.kind)
    assert.equal(2, err.index)
    assert.equal(0, count(eng, "b1"))
    eng:close()
  end)

  it("leaves nothing when the SQLite store fails part way through the transaction", function()
    local eng = open_sqlite()
    assert(eng:retain("Before the batch: Dora sails.", { bank_id = "b1" }))
    -- A real storage failure inside the write: a trigger on the file that
    -- aborts the insert of the third item.
    local db = assert(sqlite.open(dir .. "/m.db"))
    assert(db:exec("CREATE TRIGGER poison BEFORE INSERT ON memories WHEN NEW.text LIKE '%POISON%'" ..
                   " BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"))
    db:close()
    local items = {}
    for i = 1, 50 do items[i] = "Item " .. i .. " mentions Elena and Farid." end
    items[30] = "Item 30 is POISON."
    local res, err = eng:retain_many(items, { bank_id = "b1" })
    assert.is_nil(res)
    assert.equal("StorageError", err.kind)
    assert.truthy(tostring(err):find("poisoned row", 1, true), tostring(err))
    assert.equal(1, count(eng, "b1"))
    -- nothing reached the indexes or the graph either
    for _, h in ipairs(assert(eng:recall("Item mentions Elena", { bank_id = "b1", max_results = 50 })).hits) do
      assert.falsy(h.text:find("Elena", 1, true), h.text)
    end
    assert.same({}, assert(eng.graph_store:query_entities("Farid", "b1", 5)))
    eng:close()
    eng = open_sqlite()
    assert.equal(1, count(eng, "b1"))
    eng:close()
  end)

  it("undoes earlier items when a store without a shared transaction fails part way", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    local vs = eng.vector_store
    local real, calls = vs.store_vectors, 0
    vs.store_vectors = function(self, items)
      calls = calls + 1
      if calls == 3 then return nil, "disk full" end
      return real(self, items)
    end
    local res, err = eng:retain_many({ "Gina one.", "Gina two.", "Gina three.", "Gina four." }, { bank_id = "b1" })
    assert.is_nil(res)
    assert.equal(3, err.index)
    assert.truthy(tostring(err):find("disk full", 1, true))
    assert.equal(0, count(eng, "b1"))
    assert.equal(0, #assert(eng:recall("Gina", { bank_id = "b1" })).hits)
    vs.store_vectors = real
    assert.equal(4, #assert(eng:retain_many({ "Gina one.", "Gina two.", "Gina three.", "Gina four." },
                                             { bank_id = "b1" })))
    assert.equal(4, count(eng, "b1"))
    eng:close()
  end)

  it("fires on_retain per stored item and counts them as retains", function()
    local eng = open_sqlite()
    local seen = {}
    assert(eng:on("on_retain", function(ev) seen[#seen + 1] = ev end))
    local res = assert(eng:retain_many({ "Hugo likes maps.", "Ines likes kites.", "Jon likes tea." },
                                       { bank_id = "b1" }))
    assert.equal(3, #seen)
    for i = 1, 3 do assert.equal(res[i].memory_id, seen[i].data.memory_id) end
    eng:close()
  end)

  it("skips near-duplicates of stored memories like retain", function()
    local eng = open_sqlite()
    assert(eng:retain("Kai collects old stamps from Norway.", { bank_id = "b1" }))
    local res = assert(eng:retain_many({ "Kai collects old stamps from Norway.", "Lea paints ships." },
                                       { bank_id = "b1" }))
    assert.is_false(res[1].stored)
    assert.is_true(res[1].deduplicated)
    assert.is_true(res[2].stored)
    assert.equal(2, count(eng, "b1"))
    eng:close()
  end)
end)
