-- Recall quality features of the built-in pipeline: dialogue turns indexed
-- with the turns before them (same session), document chunks with their
-- heading and the end of the chunk before, the context never part of a hit,
-- forget dropping remembered session tails, the session-diversity penalty as
-- config, and the measured default channel weights.
describe("recall context", function()
  local astrocyte = require "astrocyte"
  local rerank = require "astrocyte.pipeline.rerank"
  local tmp = require "support.tmp"
  local dir

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  -- Keyword channel only, so a test sees exactly what the keyword index holds.
  local KW = { semantic = 0, keyword = 1, graph = 0, temporal = 0 }

  local function open(store, pipeline)
    return assert(astrocyte.open({ vector_store = store, vector_store_config = { path = dir .. "/c.db" },
      signal_quality = { dedup = { enabled = false } }, pipeline = pipeline }))
  end

  -- Retains turns one call each, as a chat host does.
  local function turns(eng, bank, session, list)
    for _, t in ipairs(list) do
      assert(eng:retain(t, { bank_id = bank, content_type = "conversation", metadata = { session_id = session } }))
    end
  end

  local CHAT = {
    "Ana: Did you ever go camping in the Rockies?",
    "Ben: Yes, twice, with my brother.",
    "Ana: I also bought a red kayak yesterday.",
  }

  local function texts(res)
    local out = {}
    for i, h in ipairs(res.hits) do out[i] = h.text end
    return out
  end

  for _, store in ipairs({ "in_memory", "sqlite" }) do
    describe("on " .. store, function()
      it("finds an answer turn by the words of the question before it", function()
        local eng = open(store)
        turns(eng, "b", "s1", CHAT)
        local res = assert(eng:recall("camping Rockies", { bank_id = "b", max_results = 5 }))
        local got = texts(res)
        -- the answer turn has none of the query words; its context has them
        assert.truthy(got[1] == CHAT[1] or got[2] == CHAT[1])
        local seen = {}
        for _, t in ipairs(got) do seen[t] = true end
        assert.is_true(seen[CHAT[2]])
        -- a hit is the turn alone, and its metadata does not carry the context
        for _, h in ipairs(res.hits) do
          assert.is_nil(h.text:find("\n", 1, true))
          assert.is_nil(h.metadata._context)
          assert.equal("s1", h.metadata.session_id)
        end
        eng:close()
      end)

      it("uses only the configured number of turns, and none at 0", function()
        local eng = open(store, { dialogue_context_turns = 1, weights = KW })
        turns(eng, "b", "s1", CHAT)
        local got = texts(assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 })))
        assert.same({ CHAT[1], CHAT[2] }, { got[1], got[2] }) -- turn 3 is two turns away
        assert.equal(2, #got)
        eng:close()
        tmp.rm(dir); dir = tmp.dir()
        eng = open(store, { dialogue_context_turns = 0, weights = KW })
        turns(eng, "b", "s1", CHAT)
        assert.same({ CHAT[1] }, texts(assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 }))))
        eng:close()
      end)

      it("indexes the day a memory occurred as words (pipeline.context_date), never in the hit", function()
        local eng = open(store, { weights = KW })
        assert(eng:retain("Ben: I adopted a cat today.", { bank_id = "b", content_type = "conversation",
          occurred_at = "2024-05-22T20:00:00Z", metadata = { session_id = "s3" } }))
        assert(eng:retain("Ben: The glacier views were worth it.", { bank_id = "b", content_type = "conversation",
          occurred_at = "2024-06-14T19:30:00Z", metadata = { session_id = "s4" } }))
        local got = texts(assert(eng:recall("Wednesday 22 May", { bank_id = "b", max_results = 5 })))
        assert.same({ "Ben: I adopted a cat today." }, got)
        got = texts(assert(eng:recall("June", { bank_id = "b", max_results = 5 })))
        assert.same({ "Ben: The glacier views were worth it." }, got)
        eng:close()
        tmp.rm(dir); dir = tmp.dir()
        eng = open(store, { weights = KW, context_date = false })
        assert(eng:retain("Ben: I adopted a cat today.", { bank_id = "b", content_type = "conversation",
          occurred_at = "2024-05-22T20:00:00Z", metadata = { session_id = "s3" } }))
        assert.same({}, texts(assert(eng:recall("Wednesday May", { bank_id = "b", max_results = 5 }))))
        eng:close()
      end)

      it("keeps sessions and banks apart", function()
        local eng = open(store, { weights = KW })
        turns(eng, "b", "s1", { CHAT[1] })
        turns(eng, "b", "s2", { CHAT[2] })
        turns(eng, "c", "s1", { CHAT[3] })
        assert.same({ CHAT[1] }, texts(assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 }))))
        assert.same({}, texts(assert(eng:recall("Rockies", { bank_id = "c", max_results = 5 }))))
        eng:close()
      end)

      it("does not carry a forgotten turn into the next turn's context", function()
        local eng = open(store, { weights = KW })
        turns(eng, "b", "s1", { CHAT[1] })
        assert(eng:forget({ bank_id = "b", scope = "all" }))
        turns(eng, "b", "s1", { CHAT[2] })
        assert.same({}, texts(assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 }))))
        eng:close()
      end)

      it("cuts a forgotten turn out of its neighbours' context", function()
        local eng = open(store, { weights = KW })
        turns(eng, "b", "s1", CHAT)
        local first = assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 })).hits
        assert.equal(3, #first)                      -- turn 1 and the two after it
        local id
        for _, h in ipairs(first) do if h.text == CHAT[1] then id = h.memory_id end end
        assert(eng:forget({ bank_id = "b", memory_ids = { id } }))
        assert.same({}, texts(assert(eng:recall("Rockies", { bank_id = "b", max_results = 5 }))))
        -- the neighbours keep the rest of their context: turn 3 still has turn 2
        local got = texts(assert(eng:recall("brother", { bank_id = "b", max_results = 5 })))
        table.sort(got)
        assert.same({ CHAT[3], CHAT[2] }, got)
        eng:close()
      end)

      it("gives a document chunk its heading and the end of the chunk before", function()
        local eng = open(store, { chunk_context_chars = 60 })
        local doc = "# Greenhouse tomatoes\n\n" .. string.rep("Water the seedlings every morning before work. ", 12) ..
          "\n\nPinch the side shoots weekly and tie the stems to canes."
        local res = assert(eng:retain(doc, { bank_id = "d", content_type = "document" }))
        assert.is_true(res.chunk_count >= 2)
        local hits = assert(eng:recall("greenhouse shoots", { bank_id = "d", max_results = 5 })).hits
        local last
        for _, h in ipairs(hits) do if h.text:find("Pinch", 1, true) then last = h end end
        assert.truthy(last, "the last chunk matches by its heading")
        assert.is_nil(last.text:find("Greenhouse", 1, true))
        eng:close()
      end)
    end)
  end

  it("keeps the context of persisted memories across a reopen (sqlite)", function()
    local eng = open("sqlite")
    turns(eng, "b", "s1", CHAT)
    eng:close()
    eng = open("sqlite")
    local got = texts(assert(eng:recall("camping Rockies", { bank_id = "b", max_results = 5 })))
    local seen = {}
    for _, t in ipairs(got) do seen[t] = true end
    assert.is_true(seen[CHAT[2]])
    eng:close()
  end)

  describe("session diversity", function()
    local function hits()
      return { { score = 0.9, metadata = { session_id = "a" } }, { score = 0.85, metadata = { session_id = "a" } },
               { score = 0.8, metadata = { session_id = "b" } } }
    end

    it("is off by default in the pipeline config", function()
      local eng = open("in_memory")
      assert.equal(0, eng.cfg.pipeline.session_diversity_penalty)
      eng:close()
    end)

    it("penalizes repeated sessions only when a penalty is given", function()
      local h = rerank.diversity("what happened", hits(), 0)
      assert.same({ 0.9, 0.85, 0.8 }, { h[1].score, h[2].score, h[3].score })
      h = rerank.diversity("what happened", hits(), 0.08)
      assert.equal("b", h[2].metadata.session_id)
      assert.near(0.77, h[3].score, 1e-9)
    end)
  end)

  it("lets pipeline.intent_weights replace an intent's row, strategy by strategy", function()
    local intent = require "astrocyte.pipeline.intent"
    local base = { semantic = 0.5, keyword = 1, graph = 1, temporal = 1 }
    local w, name = intent.weights("When did Ana move?", base)
    assert.equal("TEMPORAL", name)
    assert.same({ semantic = 0.45, keyword = 0.9, graph = 0.8, temporal = 1.5 }, w)
    w = intent.weights("When did Ana move?", base, { TEMPORAL = { temporal = 3 }, FACTUAL = { keyword = 0 } })
    assert.same({ semantic = 0.45, keyword = 0.9, graph = 0.8, temporal = 3 }, w)
    local eng = open("in_memory", { intent_weights = { TEMPORAL = { temporal = 0 } } })
    local res = assert(eng:recall("When did Ana move?", { bank_id = "x" }))
    assert.equal("TEMPORAL", res.trace.intent)
    eng:close()
  end)

  it("defaults to the measured channel weights", function()
    local eng = open("in_memory")
    assert.same({ semantic = 0.3, keyword = 1.0, graph = 0.2, temporal = 0.3, associative = 0.3, expansion = 0.3 },
                eng.cfg.pipeline.weights)
    assert.equal(2, eng.cfg.pipeline.dialogue_context_turns)
    assert.is_false(eng.cfg.pipeline.context_in_embedding)
    eng:close()
  end)
end)
