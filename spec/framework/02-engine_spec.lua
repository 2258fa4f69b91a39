describe("astrocyte engine (in_memory store)", function()
  local astrocyte = require "astrocyte"
  local eng

  before_each(function()
    eng = assert(astrocyte.open({ vector_store = "in_memory" }))
  end)
  after_each(function() eng:close() end)

  local function count(bank)
    for _, b in ipairs(assert(eng:banks())) do
      if b.bank_id == bank then return b.memory_count end
    end
    return 0
  end

  describe("retain()", function()
    it("stores content and returns a RetainResult", function()
      local res = assert(eng:retain("Ana prefers green tea.", { bank_id = "ana", tags = { "pref" },
        metadata = { source = "chat", turn = 3 }, occurred_at = "2024-05-01T10:00:00Z" }))
      assert.is_true(res.stored)
      assert.equal(16, #res.memory_id)
      assert.same({ res.memory_id }, res.memory_ids)
      assert.equal(1, count("ana"))
    end)

    it("chunks long content into several memories", function()
      local parts = {}
      for i = 1, 40 do parts[i] = ("Sentence number %d talks about topic %d at some length."):format(i, i) end
      local res = assert(eng:retain(table.concat(parts, " "), { bank_id = "long" }))
      assert.is_true(res.chunk_count > 1)
      assert.equal(res.chunk_count, count("long"))
    end)

    it("uses the default bank when none is given", function()
      assert(eng:retain("no bank given"))
      assert.equal(1, count("default"))
    end)
  end)

  describe("recall()", function()
    before_each(function()
      assert(eng:retain("Ana prefers green tea in the morning.", { bank_id = "b1", tags = { "pref" }, occurred_at = "2024-01-10" }))
      assert(eng:retain("The deploy pipeline runs on nginx with OpenResty.", { bank_id = "b1", tags = { "ops" }, occurred_at = "2024-03-10" }))
      assert(eng:retain("Ben drinks espresso after lunch.", { bank_id = "b2" }))
    end)

    it("ranks the matching memory first with scores in [0,1]", function()
      local res = assert(eng:recall("what tea does Ana prefer?", { bank_id = "b1" }))
      assert.equal("Ana prefers green tea in the morning.", res.hits[1].text)
      for _, h in ipairs(res.hits) do
        assert.is_true(h.score >= 0 and h.score <= 1)
        assert.equal("b1", h.bank_id)
      end
      assert.equal("2024-01-10T00:00:00Z", res.hits[1].occurred_at)
      assert.same({ "pref" }, res.hits[1].tags)
      assert.is_false(res.truncated)
      assert.same({ "semantic", "keyword", "graph" }, res.trace.strategies_used)
      assert.equal("FACTUAL", res.trace.intent)
    end)

    it("never returns another bank's memories", function()
      local res = assert(eng:recall("espresso after lunch", { bank_id = "b1" }))
      for _, h in ipairs(res.hits) do assert.not_equal("Ben drinks espresso after lunch.", h.text) end
    end)

    it("returns an empty result for an unknown bank", function()
      local res, err = eng:recall("anything", { bank_id = "nobody" })
      assert.is_nil(err)
      assert.same({}, res.hits)
      assert.equal(0, res.total_available)
    end)

    it("filters by tags and time_range", function()
      local res = assert(eng:recall("nginx tea", { bank_id = "b1", tags = { "ops" } }))
      assert.equal(1, #res.hits)
      assert.equal("The deploy pipeline runs on nginx with OpenResty.", res.hits[1].text)
      res = assert(eng:recall("nginx tea", { bank_id = "b1", time_range = { "2024-01-01", "2024-02-01" } }))
      assert.equal(1, #res.hits)
      assert.equal("Ana prefers green tea in the morning.", res.hits[1].text)
    end)

    it("respects max_results and max_tokens", function()
      local res = assert(eng:recall("tea nginx", { bank_id = "b1", max_results = 1 }))
      assert.equal(1, #res.hits)
      res = assert(eng:recall("tea nginx", { bank_id = "b1", max_tokens = 12 }))
      assert.equal(1, #res.hits)
      assert.is_true(res.truncated)
    end)
  end)

  describe("reflect()", function()
    it("answers extractively with sources", function()
      assert(eng:retain("Mira leads the storage team. She wrote the WAL recovery code.", { bank_id = "team" }))
      assert(eng:retain("The office coffee machine broke on Friday.", { bank_id = "team" }))
      local res = assert(eng:reflect("who leads the storage team?", { bank_id = "team" }))
      assert.equal("Mira leads the storage team.", res.answer:sub(1, 28))
      assert.equal(1, #res.sources)
      assert.truthy(res.sources[1].text:find("Mira", 1, true))
    end)

    it("gives the fixed answer when nothing is stored", function()
      local res = assert(eng:reflect("anything?", { bank_id = "empty" }))
      assert.equal("I don't have any relevant memories to answer this question.", res.answer)
      assert.same({}, res.sources)
    end)
  end)

  describe("forget()", function()
    it("forgets by ids, tags, date and whole bank", function()
      local a = assert(eng:retain("alpha note", { bank_id = "f", tags = { "x" }, occurred_at = "2020-01-01" }))
      assert(eng:retain("beta note", { bank_id = "f", tags = { "y" }, occurred_at = "2021-01-01" }))
      assert(eng:retain("gamma note", { bank_id = "f", tags = { "y" }, occurred_at = "2022-01-01" }))
      assert(eng:retain("delta note", { bank_id = "f", occurred_at = "2023-01-01" }))
      assert.same({ deleted_count = 1, archived_count = 0 }, eng:forget({ bank_id = "f", memory_ids = { a.memory_id } }))
      assert.equal(0, eng:forget({ bank_id = "other", memory_ids = { a.memory_id } }).deleted_count)
      assert.equal(1, eng:forget({ bank_id = "f", before = "2021-06-01" }).deleted_count)
      assert.equal(1, eng:forget({ bank_id = "f", tags = { "y" } }).deleted_count)
      assert.equal(1, eng:forget({ bank_id = "f", scope = "all" }).deleted_count)
      assert.equal(0, count("f"))
    end)

    it("requires a selector", function()
      local res, err = eng:forget({ bank_id = "f" })
      assert.is_nil(res)
      assert.equal("ValidationError", err.kind)
      assert.equal("forget needs one of memory_ids, tags, before or scope = 'all'", err.message)
    end)
  end)

  describe("bad input", function()
    local function rejects(kind, msg, fn)
      local res, err = fn()
      assert.is_nil(res)
      assert.equal(kind, err.kind)
      assert.equal(msg, err.message)
      assert.equal(kind .. ": " .. msg, tostring(err))
      assert.same({}, assert(eng:banks()))
    end

    it("rejects empty content", function()
      rejects("ValidationError", "content is empty", function() return eng:retain("   \n", { bank_id = "x" }) end)
    end)
    it("rejects invalid UTF-8", function()
      rejects("ValidationError", "content is not valid UTF-8 (bad byte at offset 3)",
        function() return eng:retain("abc\255def", { bank_id = "x" }) end)
    end)
    it("rejects content over 50,000 characters", function()
      rejects("ValidationError", "content is too long: 50001 characters > 50000",
        function() return eng:retain(string.rep("a", 50001), { bank_id = "x" }) end)
    end)
    it("counts characters, not bytes", function()
      assert(eng:retain(string.rep("é", 50000), { bank_id = "x" }))
    end)
    it("rejects bank ids with bad characters", function()
      for _, b in ipairs({ "bad bank", "../etc", "", "-x", "a/b", "x;drop", string.rep("a", 256) }) do
        local res, err = eng:retain("hello", { bank_id = b })
        assert.is_nil(res)
        assert.equal("ValidationError", err.kind)
        assert.equal("bank_id", err.field)
      end
      assert.same({}, assert(eng:banks()))
    end)
    it("rejects wrong option types, naming the field", function()
      rejects("ValidationError", "tags must be an array of strings",
        function() return eng:retain("hello", { bank_id = "x", tags = "a,b" }) end)
      rejects("ValidationError", "metadata.n must be a string, number or boolean, got table",
        function() return eng:retain("hello", { bank_id = "x", metadata = { n = {} } }) end)
      rejects("ValidationError", "occurred_at: 'soon' is not an ISO-8601 date",
        function() return eng:retain("hello", { bank_id = "x", occurred_at = "soon" }) end)
      rejects("ValidationError", "bank_id must be a string, got number",
        function() return eng:retain("hello", { bank_id = 7 }) end)
      rejects("ValidationError", "unknown retain option 'bank' (known: bank_id, content_type, context, extraction_profile, fact_type, metadata, occurred_at, on_behalf_of, principal, source, tags)",
        function() return eng:retain("hello", { bank = "x" }) end)
      rejects("ValidationError", "max_results must be an integer, got 2.5",
        function() return eng:recall("hello", { bank_id = "x", max_results = 2.5 }) end)
      rejects("ValidationError", "max_results must be between 1 and 1000, got 0",
        function() return eng:recall("hello", { bank_id = "x", max_results = 0 }) end)
      rejects("ValidationError", "retain options must be a table, got string",
        function() return eng:retain("hello", "x") end)
      rejects("ValidationError", "content must be a string, got number",
        function() return eng:retain(42, { bank_id = "x" }) end)
      rejects("ValidationError", "time_range: from is after to",
        function() return eng:recall("q", { bank_id = "x", time_range = { "2024-02-01", "2024-01-01" } }) end)
    end)
  end)

  describe("close()", function()
    it("makes later calls fail cleanly", function()
      eng:close()
      local res, err = eng:recall("x")
      assert.is_nil(res)
      assert.equal("ProviderUnavailable: engine is closed", tostring(err))
    end)
  end)
end)
