describe("built-in pipeline end to end", function()
  local astrocyte = require "astrocyte"
  local tmp = require "support.tmp"
  local dir

  local SESSIONS = {
    { date = "2024-05-01T18:00:00Z", text = [[
Ana: I finally started the new job at the aquarium.
Ben: Congrats! What do you do there?
Ana: I'm a marine biologist; I look after the coral reef tanks.
Ben: That sounds amazing.]] },
    { date = "2024-05-14T19:30:00Z", text = [[
Ben: I just came back from hiking in the Alps.
Ana: How was it?
Ben: Cold, but the glacier views were worth every step.]] },
    { date = "2024-05-22T20:00:00Z", text = [[
Ben: Big news, I adopted a cat! Her name is Miso.
Ana: Cute! Is she settling in?
Ben: She already sleeps on my keyboard.]] },
  }

  before_each(function() dir = tmp.dir() end)
  after_each(function() tmp.rm(dir) end)

  local function load(eng, bank)
    for i, s in ipairs(SESSIONS) do
      local res = assert(eng:retain(s.text, { bank_id = bank, content_type = "conversation",
        occurred_at = s.date, metadata = { session_id = "s" .. i } }))
      assert.is_true(res.stored)
    end
  end

  for _, store in ipairs({ "in_memory", "sqlite" }) do
    describe("on " .. store, function()
      local eng
      before_each(function()
        eng = assert(astrocyte.open({ vector_store = store, vector_store_config = { path = dir .. "/p.db" } }))
        load(eng, "chat")
      end)
      after_each(function() eng:close() end)

      it("keeps speaker turns whole and stores the session date as occurred_at", function()
        local res = assert(eng:recall("coral reef tanks", { bank_id = "chat", max_results = 1 }))
        local hit = res.hits[1]
        assert.truthy(hit.text:find("Ana: I'm a marine biologist; I look after the coral reef tanks.", 1, true))
        assert.equal("2024-05-01T18:00:00Z", hit.occurred_at)
        assert.equal("s1", hit.metadata.session_id)
      end)

      it("answers a question about a person", function()
        local res = assert(eng:recall("What is Ana's job?", { bank_id = "chat" }))
        assert.truthy(res.hits[1].text:find("marine biologist", 1, true), res.hits[1].text)
      end)

      it("resolves 'last week' against the reference date", function()
        local res = assert(eng:recall("What did Ben do last week?", { bank_id = "chat",
          query_reference_date = "2024-05-27T09:00:00Z" }))
        assert.equal("last week", res.trace.temporal_window)
        assert.truthy(res.hits[1].text:find("Miso", 1, true), res.hits[1].text)
        res = assert(eng:recall("What did Ben do last week?", { bank_id = "chat",
          query_reference_date = "2024-05-20T09:00:00Z" }))
        assert.truthy(res.hits[1].text:find("Alps", 1, true), res.hits[1].text)
      end)

      it("ranks the right memory first across two banks", function()
        assert(eng:retain("Ben's sister Clara runs a bakery in Porto.", { bank_id = "family" }))
        assert(eng:retain("Clara's bakery is famous for pastel de nata.", { bank_id = "family" }))
        for _, mode in ipairs({ "parallel", "cascade", "first_match" }) do
          local res = assert(eng:recall("Who runs a bakery in Porto?", { banks = { "chat", "family" }, strategy = mode }))
          assert.equal("Ben's sister Clara runs a bakery in Porto.", res.hits[1].text, mode)
          assert.equal("family", res.hits[1].bank_id)
          assert.same({ "chat", "family" }, res.trace.banks_visited)
        end
        -- cascade stops once it has min_results_to_stop hits
        local res = assert(eng:recall("Clara bakery", { banks = { "family", "chat" },
          strategy = { mode = "cascade", min_results_to_stop = 2 } }))
        assert.same({ "family" }, res.trace.banks_visited)
        assert.equal(2, #res.hits)
        local res = assert(eng:recall("coral reef", { banks = { "family", "chat" }, strategy = { mode = "parallel", bank_weights = { family = 0.1 } } }))
        assert.equal("chat", res.hits[1].bank_id)
        local bad, err = eng:recall("x", { banks = { "chat" }, strategy = "random" })
        assert.is_nil(bad)
        assert.equal("ConfigError: unknown multi-bank strategy 'random' (expected parallel, cascade or first_match)", tostring(err))
      end)

      it("skips near-duplicate retains", function()
        local res = assert(eng:retain("Ben: Big news, I adopted a cat! Her name is Miso.\nAna: Cute! Is she settling in?\nBen: She already sleeps on my keyboard.",
          { bank_id = "chat", content_type = "conversation" }))
        assert.is_false(res.stored)
        assert.is_true(res.deduplicated)
        assert.equal("All chunks are near-duplicates", res.error)
      end)
    end)
  end

  describe("with an LLM", function()
    it("reflects through the LLM, extracts entities with it, and degrades when it fails", function()
      local eng = assert(astrocyte.open({ vector_store = "in_memory", llm_provider = "mock" }))
      load(eng, "chat")
      assert.is_true(eng.llm.calls.complete >= 3)      -- entity extraction per chunk
      local res = assert(eng:reflect("What is Ana's job?", { bank_id = "chat" }))
      assert.truthy(res.answer:find("^Based on my memories: "), res.answer)
      assert.truthy(res.answer:find("marine biologist", 1, true), res.answer)
      assert.equal("default", res.prompt_variant)
      local calls = eng.llm.calls.complete
      res = assert(eng:reflect("anything about zebras?", { bank_id = "empty-bank" }))
      assert.equal("I don't have any relevant memories to answer this question.", res.answer)
      assert.equal(calls, eng.llm.calls.complete)          -- no LLM call without hits
      eng.providers.llm.fail = true
      res = assert(eng:reflect("What is Ana's job?", { bank_id = "chat" }))
      assert.is_true(res.degraded)
      assert.truthy(res.answer:find("marine biologist", 1, true), res.answer)
      eng:close()
    end)

    it("reranks with the LLM when final_rerank_mode is llm_pairwise", function()
      local base = { vector_store = "in_memory", llm_provider = "mock",
                     signal_quality = { dedup = { enabled = false } } }
      local function top_texts(extra)
        local cfg = {}
        for k, v in pairs(base) do cfg[k] = v end
        for k, v in pairs(extra or {}) do cfg[k] = v end
        local eng = assert(astrocyte.open(cfg))
        assert(eng:retain("Lisbon trip notes: tram 28, pastel de nata.", { bank_id = "t" }))
        assert(eng:retain("Lisbon trip budget: flights and hotel in Lisbon.", { bank_id = "t" }))
        assert(eng:retain("Packing list for the Lisbon trip.", { bank_id = "t" }))
        local res = assert(eng:recall("Lisbon trip", { bank_id = "t" }))
        eng:close()
        local out = {}
        for i, h in ipairs(res.hits) do out[i] = h.text end
        return out, res.trace
      end
      local heuristic = top_texts()
      local llm_order, trace = top_texts({ pipeline = { final_rerank_mode = "llm_pairwise" } })
      assert.is_true(trace.llm_reranked)
      assert.equal(#heuristic, #llm_order)
      assert.are_not.same(heuristic, llm_order)
    end)

    it("picks the temporal prompt for temporal questions", function()
      local synth = require "astrocyte.pipeline.synthesize"
      assert.equal("temporal_aware", synth.variant("When did Ben adopt the cat?"))
      assert.equal("evidence_inference", synth.variant("Would Ana likely enjoy diving?"))
      assert.equal("default", synth.variant("What is Miso?"))
      local p = synth.system_prompt("default", { skepticism = 5, literalism = 3, empathy = 1 })
      assert.truthy(p:find("Be skeptical", 1, true))
      assert.truthy(p:find("neutral, factual tone", 1, true))
      assert.is_nil(p:find("literally", 1, true))
    end)
  end)

  it("reports strategy timings and latency in wall-clock time (a store waiting on I/O counts)", function()
    local astrocyte = require "astrocyte"
    local curl = require "astrocyte.http_curl"
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    assert(eng:retain("The harbour crane was repaired on Tuesday.", { bank_id = "io" }))
    local vs = eng.vector_store
    local inner = vs.search_similar
    -- a store that waits 150 ms (as on a network round trip), spending no CPU
    vs.search_similar = function(self, ...) curl.sleep_ms(150); return inner(self, ...) end
    local res = assert(eng:recall("harbour crane", { bank_id = "io" }))
    assert.truthy(res.trace.strategy_timings_ms.semantic >= 140, tostring(res.trace.strategy_timings_ms.semantic))
    assert.truthy(res.trace.strategy_timings_ms.keyword < 140)
    assert.truthy(res.trace.latency_ms >= 140, tostring(res.trace.latency_ms))
    eng:close()
  end)

  it("says in the trace which channels found each returned hit, and at what rank", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory" }))
    for _, t in ipairs({ "Alice moved to Paris in May.", "Bob likes green tea.",
                         "The quarterly report is due on Friday." }) do
      assert(eng:retain(t, { bank_id = "why" }))
    end
    local res = assert(eng:recall("Where did Alice move?", { bank_id = "why" }))
    local top = res.hits[1]
    assert.equal("Alice moved to Paris in May.", top.text)
    local ranks = res.trace.channel_ranks[top.memory_id]
    assert.equal(1, ranks.keyword)
    assert.equal(1, ranks.semantic)
    -- only returned hits are described, each by the channels that listed it
    local n = 0
    for id, r in pairs(res.trace.channel_ranks) do
      n = n + 1
      local found = false
      for _, h in ipairs(res.hits) do found = found or h.memory_id == id end
      assert.is_true(found)
      for name, rank in pairs(r) do
        assert.truthy(res.trace.strategy_candidate_counts[name] >= rank, name)
      end
    end
    assert.equal(#res.hits, n)
    eng:close()
  end)
end)
