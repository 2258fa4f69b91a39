-- The built-in recall with an OpenAI-compatible embedder (the loopback
-- server, spec/support/servers/openai_server.py): the semantic channel is
-- the model's (query and memories embedded by the server), it gets the
-- model weight (1.0, not the hashing embedder's 0.3), and the fused result
-- with dialogue context still ranks the answer turn above unrelated turns.
local server = require "support.server"

local KEY = "sk-recall-4d2b8e"

describe("recall with an OpenAI-compatible embedder", function()
  local astrocyte = require "astrocyte"
  local s
  setup(function() s = server.start("openai", { "--api-key", KEY, "--dims", "64" }) end)
  teardown(function() if s then s:stop() end end)

  local TURNS = {
    "Ana: What did you name the puppy you adopted?",
    "Ben: Biscuit, after my favourite snack.",
    "Ana: I repainted the kitchen yellow last week.",
    "Ben: Yellow kitchens look cheerful.",
  }

  local function open(extra)
    local cfg = { embedding_provider = "openai", vector_store = "in_memory",
      embedding_provider_config = { base_url = s.url .. "/v1", api_key = KEY, model = "test-embed" },
      signal_quality = { dedup = { enabled = false } } }
    for k, v in pairs(extra or {}) do cfg[k] = v end
    local eng = assert(astrocyte.open(cfg))
    for _, t in ipairs(TURNS) do
      assert(eng:retain(t, { bank_id = "chat", content_type = "conversation", metadata = { session_id = "s1" } }))
    end
    return eng
  end

  it("gives the model's semantic channel the model weight", function()
    local eng = open()
    assert.equal(1.0, eng.cfg.pipeline.weights.semantic)
    eng:close()
    local hashing = assert(astrocyte.open({ vector_store = "in_memory" }))
    assert.equal(0.3, hashing.cfg.pipeline.weights.semantic)
    hashing:close()
    local pinned = open({ pipeline = { weights = { semantic = 0.5 } } })
    assert.equal(0.5, pinned.cfg.pipeline.weights.semantic)
    pinned:close()
  end)

  it("embeds the query through the server and fuses it with the keyword channel", function()
    local eng = open()
    s:reset()
    local res = assert(eng:recall("What is the name of the puppy?", { bank_id = "chat", max_results = 4 }))
    assert.is_true(s:stats().by_path["/v1/embeddings"] >= 1)
    local used = {}
    for _, n in ipairs(res.trace.strategies_used) do used[n] = true end
    assert.is_true(used.semantic and used.keyword)
    assert.is_true(res.top_semantic_score > 0)
    -- the question turn and the answer turn (found through its context)
    -- come before the kitchen turns
    local rank = {}
    for i, h in ipairs(res.hits) do rank[h.text] = i end
    assert.truthy(rank[TURNS[1]] and rank[TURNS[2]])
    assert.is_true(math.max(rank[TURNS[1]], rank[TURNS[2]]) <= 2)
    for _, h in ipairs(res.hits) do assert.is_nil(h.metadata._context) end
    eng:close()
  end)

  it("ranks the same way with the semantic channel alone for a word the memory holds", function()
    local eng = open({ pipeline = { weights = { semantic = 1, keyword = 0, graph = 0, temporal = 0 } } })
    local res = assert(eng:recall("yellow kitchen", { bank_id = "chat", max_results = 2 }))
    assert.same({ "semantic" }, res.trace.strategies_used)
    local got = { res.hits[1].text, res.hits[2].text }
    table.sort(got)
    assert.same({ TURNS[3], TURNS[4] }, got)
    eng:close()
  end)
end)
