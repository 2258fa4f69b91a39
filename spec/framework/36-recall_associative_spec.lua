-- The learned-association channels of recall (issue #14 items 5 and 6):
-- core.assoc (random indexing over the bank's own texts) through the
-- binding; the associative channel finding a paraphrase no other channel
-- finds; forget unlearning it; the sqlite store rebuilding the same state
-- from its rows at open; the multi-hop expansion channel (first hits as
-- feedback); the config keys and their errors.
describe("recall: associative and expansion channels", function()
  local astrocyte = require "astrocyte"
  local core = require "astrocyte.core"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  -- "hiking" and "trekking" never share a memory; both live with mountain,
  -- trail and boots. Pottery and reading are other topics.
  local BANK = {
    "Ben: We went hiking on the mountain trail in new boots.",
    "Ben: Hiking up the mountain trail was exhausting.",
    "Ana: My boots got muddy hiking the trail.",
    "Ana: Trekking along the mountain trail with heavy boots.",
    "Ben: Trekking boots and a long trail up the mountain.",
    "Ana: Pottery class: clay on the wheel, then the kiln.",
    "Ben: The glaze cracked in the kiln, pottery is hard.",
    "Ana: Clay and glaze everywhere after pottery.",
    "Ben: A quiet evening reading a novel by the fire.",
    "Ana: The novel I am reading has a slow first chapter.",
  }
  local TARGET = "Ben: Trekking boots and a long trail up the mountain."

  describe("core.assoc", function()
    it("learns associations, unlearns exactly and searches with filters and seeds", function()
      local a = assert(core.assoc())
      for i, t in ipairs(BANK) do assert(a:add(i, t)) end
      assert.equal(#BANK, a:count())
      assert.is_true(a:similarity("hiking", "trekking") > 0.3)
      assert.is_true(a:similarity("hiking", "trekking") > a:similarity("hiking", "pottery") + 0.3)
      local keys, scores = a:search("hiking", 10)
      local rank = {}
      for i, k in ipairs(keys) do rank[k] = i; assert.is_true(scores[i] > 0) end
      assert.truthy(rank[4] and rank[5], "trekking memories found")
      assert.is_nil(rank[6] or rank[7] or rank[8])
      -- allow-list filter
      local ks = core.keyset(); ks:set(5)
      keys = a:search("hiking", 10, { allow = ks })
      assert.same({ 5 }, keys)
      -- exact removal: the same answers as an index that never saw key 99
      local before_k, before_s = a:search("pottery", 10)
      assert(a:add(99, "pottery hiking trail clay boots novel"))
      assert.is_true(a:remove(99))
      assert.is_false(a:remove(99))
      local after_k, after_s = a:search("pottery", 10)
      assert.same(before_k, after_k)
      for i = 1, #before_s do assert.near(before_s[i], after_s[i], 1e-5) end
      -- seeds: a pottery memory as feedback
      keys = a:search("kiln", 10, nil, { 6 })
      assert.truthy(#keys > 0)
      assert.has_error(function() a:search("x", 1, nil, { "a" }) end)
      assert.has_error(function() core.assoc({ dim = "big" }) end)
      local bad, err = core.assoc({ dim = 5000 })
      assert.is_nil(bad)
      assert.truthy(err:find("dim", 1, true))
    end)
  end)

  -- Associative channel only, so the test sees what it alone finds.
  local ONLY = { semantic = 0, keyword = 0, graph = 0, temporal = 0, associative = 1, expansion = 0 }

  -- min_docs = 1: the default (100) keeps banks this small out of the channel.
  local function open(store, pipeline, assoc)
    assoc = assoc or {}
    if assoc.min_docs == nil then assoc.min_docs = 1 end
    return assert(astrocyte.open({ vector_store = store,
      vector_store_config = { path = dir .. "/a.db", assoc = assoc },
      signal_quality = { dedup = { enabled = false } }, pipeline = pipeline }))
  end

  local function load(eng)
    for _, t in ipairs(BANK) do assert(eng:retain(t, { bank_id = "b", content_type = "conversation" })) end
  end

  local function find(res, text)
    for i, h in ipairs(res.hits) do if h.text == text then return i, h end end
  end

  for _, store in ipairs({ "in_memory", "sqlite" }) do
    describe("on " .. store, function()
      it("finds a paraphrase only the associative channel finds; forget unlearns it", function()
        local eng = open(store, { weights = { associative = 1.0, expansion = 0 }, dialogue_context_turns = 0 })
        load(eng)
        local q = "Who likes hiking?"
        local res = assert(eng:recall(q, { bank_id = "b", max_results = 10 }))
        local _, hit = find(res, TARGET)
        assert.truthy(hit, "paraphrase recalled")
        local ranks = res.trace.channel_ranks[hit.memory_id]
        assert.truthy(ranks.associative)
        assert.is_nil(ranks.keyword)
        assert.truthy(res.trace.strategy_candidate_counts.associative > 0)
        -- without the associative channel the memory is not there
        local base = open(store == "sqlite" and "in_memory" or store, { dialogue_context_turns = 0,
                          weights = { associative = 0, expansion = 0 } })
        load(base)
        local res0 = assert(base:recall(q, { bank_id = "b", max_results = 10 }))
        assert.is_nil(find(res0, TARGET))
        for _, name in ipairs(res0.trace.strategies_used) do assert.not_equal("associative", name) end
        base:close()
        -- forget: the trekking memories go, and so does what they taught
        local before = assert(eng:recall(q, { bank_id = "b", max_results = 10 }))
        assert(eng:forget({ bank_id = "b", memory_ids = { hit.memory_id } }))
        res = assert(eng:recall(q, { bank_id = "b", max_results = 10 }))
        assert.is_nil(find(res, TARGET))
        assert.truthy(#before.hits >= #res.hits)
        eng:close()
      end)

      it("runs the expansion channel on the first hits", function()
        local eng = open(store, { weights = { associative = 0, expansion = 1.0 }, expansion = { seeds = 2 },
                                  dialogue_context_turns = 0 })
        load(eng)
        local res = assert(eng:recall("pottery kiln", { bank_id = "b", max_results = 10 }))
        local used = {}
        for _, n in ipairs(res.trace.strategies_used) do used[n] = true end
        assert.is_true(used.expansion)
        assert.is_nil(used.associative)
        assert.truthy(res.trace.strategy_candidate_counts.expansion > 0)
        local _, clay = find(res, "Ana: Clay and glaze everywhere after pottery.")
        assert.truthy(clay)
        eng:close()
      end)
    end)
  end

  it("sqlite: reopening rebuilds the associative index from the rows", function()
    local eng = open("sqlite", { weights = ONLY, dialogue_context_turns = 0 })
    load(eng)
    local q = "Who likes hiking?"
    local a = assert(eng:recall(q, { bank_id = "b", max_results = 10 }))
    eng:close()
    eng = open("sqlite", { weights = ONLY, dialogue_context_turns = 0 })
    local b = assert(eng:recall(q, { bank_id = "b", max_results = 10 }))
    assert.truthy(find(b, TARGET))
    assert.equal(#a.hits, #b.hits)
    for i = 1, #a.hits do
      assert.equal(a.hits[i].memory_id, b.hits[i].memory_id)
      assert.near(a.hits[i].score, b.hits[i].score, 1e-6)
    end
    eng:close()
  end)

  it("a bank below assoc.min_docs gets nothing from the channel", function()
    local eng = open("in_memory", { weights = ONLY, dialogue_context_turns = 0 }, { min_docs = #BANK + 1 })
    load(eng)
    local res = assert(eng:recall("Who likes hiking?", { bank_id = "b", max_results = 10 }))
    assert.equal(0, #res.hits)
    assert(eng:retain("Ana: One more memory.", { bank_id = "b" }))
    res = assert(eng:recall("Who likes hiking?", { bank_id = "b", max_results = 10 }))
    assert.truthy(find(res, TARGET))
    eng:close()
  end)

  it("assoc.enabled = false: the channel answers nothing", function()
    local eng = open("in_memory", { weights = ONLY, dialogue_context_turns = 0 }, { enabled = false })
    load(eng)
    local res = assert(eng:recall("Who likes hiking?", { bank_id = "b", max_results = 10 }))
    assert.equal(0, #res.hits)
    eng:close()
  end)

  it("a bank past assoc.max_docs drops its associative index", function()
    local eng = open("in_memory", { weights = ONLY, dialogue_context_turns = 0 }, { max_docs = #BANK })
    load(eng)
    local res = assert(eng:recall("Who likes hiking?", { bank_id = "b", max_results = 10 }))
    assert.truthy(find(res, TARGET))
    assert(eng:retain("Ana: One memory too many.", { bank_id = "b" }))
    res = assert(eng:recall("Who likes hiking?", { bank_id = "b", max_results = 10 }))
    assert.equal(0, #res.hits)
    eng:close()
  end)

  it("rejects bad config with the key path", function()
    local _, err = astrocyte.open({ vector_store = "in_memory", pipeline = { weights = { associative = -1 } } })
    assert.equal("ConfigError", err.kind)
    assert.equal("pipeline.weights.associative", err.key_path)
    _, err = astrocyte.open({ vector_store = "in_memory", pipeline = { weights = { expansion = "high" } } })
    assert.equal("ConfigError", err.kind)
    assert.truthy(tostring(err.key_path):find("pipeline.weights.expansion", 1, true))
    _, err = astrocyte.open({ vector_store = "in_memory", pipeline = { expansion = { seeds = 0 } } })
    assert.equal("ConfigError", err.kind)
    assert.equal("pipeline.expansion.seeds", err.key_path)
    _, err = astrocyte.open({ vector_store = "in_memory", vector_store_config = { assoc = { dim = 0 } } })
    assert.equal("ConfigError", err.kind)
    assert.truthy(tostring(err.key_path):find("assoc.dim", 1, true))
  end)
end)
