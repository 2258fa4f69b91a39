-- The recall cache (recall_cache{enabled, similarity_threshold, max_entries,
-- ttl_seconds}; pipeline/recall_cache.lua): hits on the same and on a
-- near-identical query (cosine measured with the engine's own embedder, so
-- the pairs below are checked, not assumed), misses below the threshold,
-- TTL expiry on an injected clock, LRU eviction, invalidation by this
-- engine's writes and by a second engine's writes to the same SQLite file,
-- no sharing across banks, options or principals, copies handed out, and
-- the config checks.
describe("recall cache", function()
  local astrocyte = require "astrocyte"
  local core = require "astrocyte.core"
  local embed = require "astrocyte.pipeline.embed"
  local tmp = require "support.tmp"
  local dir, path

  before_each(function()
    dir = tmp.dir()
    path = dir .. "/cache.db"
  end)
  after_each(function() tmp.rm(dir) end)

  -- An engine on the shared file with the cache on (extra: recall_cache
  -- keys; opts: open options, e.g. the clock).
  local function open(extra, opts, cfg_extra)
    local rc = { enabled = true }
    for k, v in pairs(extra or {}) do rc[k] = v end
    local cfg = { vector_store_config = { path = path }, recall_cache = rc, signal_quality = { dedup = { enabled = false } } }
    for k, v in pairs(cfg_extra or {}) do cfg[k] = v end
    return assert(astrocyte.open(cfg, opts))
  end

  local function cosine(eng, a, b)
    local v = assert(embed.embed(eng, { a, b }))
    return core.vec_cosine(v[1], v[2])
  end

  local function ids(res)
    local out = {}
    for i, h in ipairs(res.hits) do out[i] = h.memory_id end
    return out
  end

  local function recall(eng, q, opts)
    return assert(eng:recall(q, opts or { bank_id = "b" }))
  end

  local LONG = "zeppelin harbour dawn crew moored lantern copper kettle silver spoon orchard violin meadow river bridge tower garden"
  local SHORT = "zeppelin harbour dawn crew moored lantern"

  local function seed(eng, bank)
    assert(eng:retain("The zeppelin moored over the harbour at dawn with its crew.", { bank_id = bank or "b" }))
    assert(eng:retain("A copper kettle and a silver spoon lay in the orchard.", { bank_id = bank or "b" }))
  end

  it("is off by default: every recall runs and says cache_hit = false", function()
    local eng = assert(astrocyte.open({ vector_store_config = { path = path } }))
    seed(eng)
    assert.is_nil(eng.recall_cache)
    assert.is_false(recall(eng, SHORT).trace.cache_hit)
    assert.is_false(recall(eng, SHORT).trace.cache_hit)
    assert.is_nil(eng:stats().recall_cache)
    eng:close()
  end)

  it("serves a repeated query from the cache with the same hits", function()
    local eng = open()
    seed(eng)
    local first = recall(eng, SHORT)
    assert.is_false(first.trace.cache_hit)
    assert.is_true(#first.hits > 0)
    local second = recall(eng, SHORT)
    assert.is_true(second.trace.cache_hit)
    assert.equal(1.0, second.trace.cache_similarity)
    assert.same(ids(first), ids(second))
    assert.equal(first.hits[1].text, second.hits[1].text)
    local st = eng:stats().recall_cache
    assert.equal(1, st.hits); assert.equal(1, st.misses); assert.equal(1, st.entries)
    local text = eng:metrics_text()
    assert.truthy(text:find('astrocyte_recall_cache_total{bank_id="b",result="hit"} 1', 1, true), text)
    assert.truthy(text:find('astrocyte_recall_cache_total{bank_id="b",result="miss"} 1', 1, true), text)
    eng:close()
  end)

  it("serves a near-identical query (cosine >= threshold) and not one below it", function()
    local eng = open()
    seed(eng)
    local near = LONG .. " balloon"
    local c_near = cosine(eng, LONG, near)
    assert.is_true(c_near >= 0.95 and c_near < 0.999, "near pair cosine " .. c_near)
    local first = recall(eng, LONG)
    local hit = recall(eng, near)
    assert.is_true(hit.trace.cache_hit)
    assert.near(c_near, hit.trace.cache_similarity, 1e-4)
    assert.same(ids(first), ids(hit))

    local far = SHORT .. " balloon"
    local c_far = cosine(eng, SHORT, far)
    assert.is_true(c_far < 0.95 and c_far > 0.8, "far pair cosine " .. c_far)
    recall(eng, SHORT)
    assert.is_false(recall(eng, far).trace.cache_hit)
    eng:close()
    -- the same pair hits under a lower threshold
    local low = open({ similarity_threshold = 0.9 })
    recall(low, SHORT)
    assert.is_true(recall(low, far).trace.cache_hit)
    low:close()
  end)

  it("treats a different text with the same embedding as a hit (threshold 1)", function()
    local eng = open({ similarity_threshold = 1 })
    seed(eng)
    local same = SHORT .. " again"                  -- a stopword: same vector
    assert.near(1.0, cosine(eng, SHORT, same), 1e-6)
    recall(eng, SHORT)
    assert.is_true(recall(eng, same).trace.cache_hit)
    eng:close()
  end)

  it("does not serve a similar query of another intent or time window", function()
    local eng = open()
    seed(eng)
    -- same embedding, other intent (TEMPORAL vs FACTUAL): other channel weights
    local when, where = "when " .. LONG, "where " .. LONG
    assert.near(1.0, cosine(eng, when, where), 1e-6)
    recall(eng, when)
    assert.is_false(recall(eng, where).trace.cache_hit)
    assert.is_true(recall(eng, where).trace.cache_hit)
    -- similar embedding, other time window ("yesterday" vs "today")
    local y, t = LONG .. " yesterday", LONG .. " today"
    assert.is_true(cosine(eng, y, t) >= 0.95)
    recall(eng, y)
    assert.is_false(recall(eng, t).trace.cache_hit)
    assert.is_true(recall(eng, t).trace.cache_hit)
    eng:close()
  end)

  it("expires entries ttl_seconds after they were stored (injected clock)", function()
    local now = 1000
    local eng = open({ ttl_seconds = 30 }, { recall_cache = { clock = function() return now end } })
    seed(eng)
    recall(eng, SHORT)
    now = 1029.9
    assert.is_true(recall(eng, SHORT).trace.cache_hit)
    now = 1030
    assert.is_false(recall(eng, SHORT).trace.cache_hit)  -- expired: recomputed and stored again
    assert.equal(1, eng:stats().recall_cache.expired)
    assert.is_true(recall(eng, SHORT).trace.cache_hit)
    now = 900                                            -- a clock that went back: not trusted
    assert.is_false(recall(eng, SHORT).trace.cache_hit)
    eng:close()
  end)

  it("evicts the least recently used entry beyond max_entries", function()
    local eng = open({ max_entries = 2 })
    seed(eng)
    local q1, q2, q3 = "zeppelin harbour", "copper kettle orchard", "silver spoon violin meadow"
    assert.is_true(cosine(eng, q1, q2) < 0.95 and cosine(eng, q1, q3) < 0.95 and cosine(eng, q2, q3) < 0.95)
    recall(eng, q1); recall(eng, q2)
    assert.is_true(recall(eng, q1).trace.cache_hit)      -- q1 is now the most recent
    recall(eng, q3)                                      -- evicts q2
    local st = eng:stats().recall_cache
    assert.equal(2, st.entries); assert.equal(1, st.evicted)
    assert.is_true(recall(eng, q1).trace.cache_hit)
    assert.is_true(recall(eng, q3).trace.cache_hit)
    assert.is_false(recall(eng, q2).trace.cache_hit)
    eng:close()
  end)

  it("drops a bank's entries when this engine retains, retains many or forgets", function()
    local eng = open()
    seed(eng)
    local before = recall(eng, SHORT)
    assert.is_true(recall(eng, SHORT).trace.cache_hit)
    local r = assert(eng:retain("The zeppelin crew lit a lantern at dawn.", { bank_id = "b" }))
    local after = recall(eng, SHORT)
    assert.is_false(after.trace.cache_hit)
    assert.equal(#before.hits + 1, #after.hits)
    assert.is_true(recall(eng, SHORT).trace.cache_hit)

    assert(eng:forget({ bank_id = "b", memory_ids = r.memory_ids or { r.memory_id } }))
    local gone = recall(eng, SHORT)
    assert.is_false(gone.trace.cache_hit)
    assert.same(ids(before), ids(gone))
    assert.is_true(recall(eng, SHORT).trace.cache_hit)

    assert(eng:retain_many({ "A moored zeppelin again at dawn.", "Harbour lantern crew." }, { bank_id = "b" }))
    assert.is_false(recall(eng, SHORT).trace.cache_hit)
    eng:close()
  end)

  it("drops a bank's entries when another engine on the same file writes to it", function()
    local a, b = open(), open()
    seed(a)
    local before = recall(a, SHORT)
    assert.is_true(recall(a, SHORT).trace.cache_hit)
    -- a write to another bank leaves this bank's entry alone
    assert(b:retain("Zeppelin harbour notes for another bank.", { bank_id = "other" }))
    assert.is_true(recall(a, SHORT).trace.cache_hit)
    -- a write to this bank by the other connection: recomputed, and it is there
    local r = assert(b:retain("The zeppelin crew moored beside a lantern at dawn.", { bank_id = "b" }))
    local after = recall(a, SHORT)
    assert.is_false(after.trace.cache_hit)
    local found = false
    for _, h in ipairs(after.hits) do if h.memory_id == (r.memory_id or r.memory_ids[1]) then found = true end end
    assert.is_true(found, "the other engine's memory is in the recomputed result")
    assert.is_true(recall(a, SHORT).trace.cache_hit)
    -- a forget by the other connection
    assert(b:forget({ bank_id = "b", memory_ids = { r.memory_id or r.memory_ids[1] } }))
    local gone = recall(a, SHORT)
    assert.is_false(gone.trace.cache_hit)
    assert.same(ids(before), ids(gone))
    a:close(); b:close()
  end)

  it("counts writes that bypass the engine on the in-memory store", function()
    local eng = assert(astrocyte.open({ vector_store = "in_memory", recall_cache = { enabled = true } }))
    seed(eng)
    recall(eng, SHORT)
    assert.is_true(recall(eng, SHORT).trace.cache_hit)
    local v = assert(embed.embed(eng, { "zeppelin lantern" }))[1]
    assert(eng.vector_store:store_vectors({ { id = "direct", bank_id = "b", vector = v, text = "zeppelin lantern" } }))
    local res = recall(eng, SHORT)
    assert.is_false(res.trace.cache_hit)
    eng:close()
  end)

  it("never shares an entry across banks, options or principals", function()
    local eng = open(nil, nil, { access_control = { enabled = false } })
    seed(eng, "b"); seed(eng, "b2")
    local function twice(opts, view)
      local e = view or eng
      local first = assert(e:recall(SHORT, opts))
      local second = assert(e:recall(SHORT, opts))
      return first.trace.cache_hit, second.trace.cache_hit
    end
    local variants = {
      { bank_id = "b" }, { bank_id = "b2" }, { banks = { "b", "b2" } }, { banks = { "b2", "b" } },
      { banks = { "b", "b2" }, strategy = "cascade" }, { bank_id = "b", max_results = 1 },
      { bank_id = "b", max_tokens = 5 }, { bank_id = "b", tags = { "x" } }, { bank_id = "b", fact_types = { "world" } },
      { bank_id = "b", time_range = { from = "2020-01-01T00:00:00Z", to = "2030-01-01T00:00:00Z" } },
      { bank_id = "b", as_of = "2030-01-01T00:00:00Z" }, { bank_id = "b", session_id = "s1" },
      { bank_id = "b", query_reference_date = "2024-05-01T00:00:00Z" },
      { bank_id = "b", query_reference_date = "2024-05-02T00:00:00Z" },
      { bank_id = "b", principal = "user:ana" }, { bank_id = "b", principal = "user:bruno" },
      { bank_id = "b", principal = "user:ana", on_behalf_of = "user:carla" },
    }
    for i, o in ipairs(variants) do
      local h1, h2 = twice(o)
      assert.is_false(h1, "variant " .. i .. " was served another variant's entry")
      assert.is_true(h2, "variant " .. i .. " is cached under its own key")
    end
    -- a view acting as a principal is keyed by it too
    local view = assert(eng:with_context({ principal = "user:dora" }))
    local h1, h2 = twice({ bank_id = "b" }, view)
    assert.is_false(h1); assert.is_true(h2)
    eng:close()
  end)

  it("hands out copies: editing a result does not change the cache", function()
    local eng = open()
    seed(eng)
    local first = recall(eng, SHORT)
    local want_ids, want_text = ids(first), first.hits[1].text
    first.hits[1].text = "edited"; first.hits[1].metadata = { x = 1 }; first.hits[2] = nil
    local hit = recall(eng, SHORT)
    assert.is_true(hit.trace.cache_hit)
    assert.same(want_ids, ids(hit)); assert.equal(want_text, hit.hits[1].text)
    hit.hits[1].text = "edited again"; table.remove(hit.hits)
    local again = recall(eng, SHORT)
    assert.same(want_ids, ids(again)); assert.equal(want_text, again.hits[1].text)
    eng:close()
  end)

  it("is used by reflect's recall and dropped on reload", function()
    local eng = open()
    seed(eng)
    assert(eng:reflect(SHORT, { bank_id = "b" }))
    assert(eng:reflect(SHORT, { bank_id = "b" }))
    assert.equal(1, eng:stats().recall_cache.hits)
    recall(eng, SHORT)
    assert.is_true(recall(eng, SHORT).trace.cache_hit)
    assert(eng:reload())
    assert.is_false(recall(eng, SHORT).trace.cache_hit)
    eng:close()
  end)

  it("is off, with a warning, when the backend cannot report changes", function()
    local eng = assert(astrocyte.open({ provider = "in_memory", recall_cache = { enabled = true } }))
    assert.is_nil(eng.recall_cache)
    local said = false
    for _, w in ipairs(eng:warnings()) do
      if w:find("recall_cache.enabled: the recall cache is off", 1, true) then said = true end
    end
    assert.is_true(said, "warning names the key and the reason")
    eng:close()
  end)

  describe("config", function()
    local function load_err(rc)
      local cfg, err = require("astrocyte.config").load({ recall_cache = rc })
      assert.is_nil(cfg)
      return err
    end

    it("accepts the reference keys and reports bad ones by key path", function()
      local config = require "astrocyte.config"
      assert(config.load({ recall_cache = { enabled = true, similarity_threshold = 1, max_entries = 1, ttl_seconds = 0.5 } }))
      local cases = {
        { { similarity_threshold = 0 }, "recall_cache.similarity_threshold", "must be in %(0, 1%]" },
        { { similarity_threshold = 1.5 }, "recall_cache.similarity_threshold", "must be in %(0, 1%]" },
        { { similarity_threshold = "high" }, "recall_cache.similarity_threshold", "must be a number" },
        { { max_entries = 0 }, "recall_cache.max_entries", "integer >= 1" },
        { { max_entries = 2.5 }, "recall_cache.max_entries", "integer" },
        { { ttl_seconds = 0 }, "recall_cache.ttl_seconds", "must be > 0" },
        { { ttl_seconds = -5 }, "recall_cache.ttl_seconds", "must be > 0" },
        { { enabled = "yes" }, "recall_cache.enabled", "must be a boolean" },
      }
      for _, c in ipairs(cases) do
        local err = load_err(c[1])
        assert.equal("ConfigError", err.kind)
        assert.equal(c[2], err.key_path)
        assert.truthy(err.message:find(c[2], 1, true), err.message)
        assert.truthy(err.message:find(c[3]), err.message)
      end
      local err = load_err("on")
      assert.equal("recall_cache", err.key_path)
      local cfg = assert(config.load({ recall_cache = { enabeld = true } }))
      assert.truthy(table.concat(cfg._warnings, "\n"):find("did you mean 'enabled'", 1, true))
    end)

    it("is checked by astrocyte config check", function()
      local cli = require "support.cli"
      local f = tmp.write(dir, "bad.json", '{"recall_cache": {"similarity_threshold": 2}}')
      local code, out, err = cli.run(dir, { "config", "check", f })
      assert.are_not.equal(0, code)
      assert.truthy((out .. err):find("recall_cache.similarity_threshold must be in (0, 1], got 2", 1, true), out .. err)
      f = tmp.write(dir, "good.json", '{"recall_cache": {"enabled": true, "max_entries": 64, "ttl_seconds": 60}}')
      code, out, err = cli.run(dir, { "config", "check", f })
      assert.equal(0, code, out .. err)
    end)
  end)
end)
