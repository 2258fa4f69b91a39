-- Proves each conformance suite can fail: every suite runs (through
-- testing.run_suite, without busted) on a correct provider, which must pass
-- every case, and on deliberately broken variants, each of which must fail
-- the case that checks the broken rule, with a message naming the problem.
local testing = require "astrocyte.testing"
local in_memory = require "astrocyte.providers.in_memory"
local hashing = require "astrocyte.providers.hashing"
local doubles = require "support.doubles"

-- Wraps provider `inner`: methods are forwarded, `overrides` replace some
-- (a method overridden with false is removed). Override functions receive
-- (inner, ...) so they can delegate.
local function wrap(inner, overrides)
  local w = setmetatable({}, { __index = function(_, k)
    local v = inner[k]
    if type(v) == "function" then return function(_, ...) return v(inner, ...) end end
    return v
  end })
  for k, f in pairs(overrides) do
    if f == false then
      w[k] = false
    elseif type(f) == "function" then
      w[k] = function(_, ...) return f(inner, ...) end
    else
      w[k] = f
    end
  end
  return w
end

local function reversed(l)
  local out = {}
  for i = #l, 1, -1 do out[#out + 1] = l[i] end
  return out
end

local function failed_cases(res)
  local names = {}
  for _, f in ipairs(res.failed) do names[f.case] = f.err end
  return names
end

-- Asserts that run_suite(name) on factory fails `case` with an error
-- containing `msg`.
local function assert_fails(name, factory, opts, case, msg)
  local res = testing.run_suite(name, factory, opts)
  local failed = failed_cases(res)
  if not failed[case] then
    local list = {}
    for c, e in pairs(failed) do list[#list + 1] = c .. ": " .. e end
    error(("suite %s did not fail case %q; failures were:\n  %s"):format(name, case, table.concat(list, "\n  ")), 2)
  end
  if msg and not failed[case]:find(msg, 1, true) then
    error(("case %q failed with %q, expected a message containing %q"):format(case, failed[case], msg), 2)
  end
  return res
end

local function assert_passes(name, factory, opts)
  local res = testing.run_suite(name, factory, opts)
  local lines = {}
  for _, f in ipairs(res.failed) do lines[#lines + 1] = f.case .. ": " .. f.err end
  assert.equal("", table.concat(lines, "\n"))
  assert.equal(#testing.cases(name), res.passed)
end

describe("astrocyte.testing", function()
  describe("run_suite()", function()
    it("runs every case of a correct provider", function()
      assert_passes("vector_store", function() return in_memory.vector_stores({}) end, { dims = 8 })
      assert_passes("document_store", function() return in_memory.document_stores({}) end)
      assert_passes("graph_store", function() return in_memory.graph_stores({}) end)
      assert_passes("wiki_store", function() return in_memory.wiki_stores({}) end)
      assert_passes("mental_model_store", function() return in_memory.mental_model_stores({}) end)
      assert_passes("source_store", function() return in_memory.source_stores({}) end)
      assert_passes("engine_provider", function() return in_memory.engine_providers({}) end)
      assert_passes("llm_provider", function() return hashing.llm_providers({ dimensions = 32 }) end)
      assert_passes("outbound_transport", function() return doubles.transport() end)
      assert_passes("access_policy", function() return doubles.policy() end, doubles.POLICY_OPTS)
      assert_passes("memory_export_sink", function() return doubles.sink() end)
    end)

    it("reports a factory that returns nil, err", function()
      local res = testing.run_suite("vector_store", function() return nil, "no database" end)
      assert.equal(0, res.passed)
      assert.equal("factory returned no provider: no database", res.failed[1].err)
    end)

    it("rejects an unknown suite name", function()
      assert.has_error(function() testing.run_suite("teapot", function() end) end)
    end)
  end)

  describe("VectorStore suite fails", function()
    local function vs(over) return function() return wrap(in_memory.vector_stores({}), over) end end

    it("a store missing a required method", function()
      assert_fails("vector_store", vs({ list_vectors = false }), { dims = 8 },
        "has every required method and SPI_VERSION 1 or none", "missing required method: list_vectors")
    end)

    it("a store declaring an unsupported SPI_VERSION", function()
      assert_fails("vector_store", vs({ SPI_VERSION = 2 }), { dims = 8 },
        "has every required method and SPI_VERSION 1 or none", "VectorStore SPI version 2 is not supported. Supported versions: [1]")
    end)

    it("a store that ignores bank isolation", function()
      local function leaky()
        local inner = in_memory.vector_stores({})
        local function one_bank(items)
          local out = {}
          for i, it in ipairs(items) do
            out[i] = {}
            for k, v in pairs(it) do out[i][k] = v end
            out[i].bank_id = "all"
          end
          return out
        end
        return wrap(inner, {
          store_vectors = function(s, items) return s:store_vectors(one_bank(items)) end,
          search_similar = function(s, q, _, limit, f) return s:search_similar(q, "all", limit, f) end,
          delete = function(s, ids) return s:delete(ids, "all") end,
          list_vectors = function(s, _, o, l) return s:list_vectors("all", o, l) end,
        })
      end
      local res = assert_fails("vector_store", leaky, { dims = 8 }, "search_similar never returns another bank's vectors")
      local failed = failed_cases(res)
      assert.truthy(failed["search_similar on an unknown bank returns {}"])
      assert.truthy(failed["delete never removes an id of another bank"])
    end)

    it("a store that returns unsorted hits", function()
      assert_fails("vector_store", vs({ search_similar = function(s, ...)
        local hits, err = s:search_similar(...)
        if not hits then return nil, err end
        return reversed(hits)
      end }), { dims = 8 }, "search_similar sorts by score descending with every score in [0,1]", "not sorted by score descending")
    end)

    it("a store whose scores leave [0,1]", function()
      assert_fails("vector_store", vs({ search_similar = function(s, ...)
        local hits = s:search_similar(...)
        for _, h in ipairs(hits) do h.score = 2 * h.score - 1 end
        return hits
      end }), { dims = 8 }, "search_similar sorts by score descending with every score in [0,1]", "VectorHit.score must be between 0 and 1, got -1")
    end)

    it("a store that ignores limit and filters", function()
      local res = assert_fails("vector_store", vs({ search_similar = function(s, q, bank)
        return s:search_similar(q, bank, 1000)
      end }), { dims = 8 }, "search_similar respects limit", "number of hits with limit 3")
      local failed = failed_cases(res)
      for _, f in ipairs({ "tags", "fact_types", "time_range", "metadata_filters", "as_of", "session_id" }) do
        assert.truthy(failed["search_similar honours filters." .. f], f)
      end
    end)

    it("a store that miscounts deletes", function()
      assert_fails("vector_store", vs({ delete = function(s, ids, bank)
        s:delete(ids, bank)
        return #ids
      end }), { dims = 8 }, "delete returns the number actually deleted", "delete({d1, missing}) count: expected 1, got 2")
    end)

    it("a store whose list_vectors order is not stable", function()
      local flip = false
      assert_fails("vector_store", vs({ list_vectors = function(s, ...)
        flip = not flip
        local l = s:list_vectors(...)
        return flip and reversed(l) or l
      end }), { dims = 8 }, "list_vectors pages in a stable order covering every item exactly once")
    end)

    it("a store that accepts any dimension", function()
      assert_fails("vector_store", vs({ store_vectors = function(s, items)
        local ids = {}
        for i, it in ipairs(items) do ids[i] = it.id end
        if items[1] and #items[1].vector ~= 8 then return ids end
        return s:store_vectors(items)
      end }), { dims = 8 }, "store_vectors rejects a vector of the wrong dimension", "a vector of 9 dims in a 8-dim store: expected VectorStore.store_vectors to fail")
    end)
  end)

  describe("DocumentStore suite fails", function()
    local function ds(over) return function() return wrap(in_memory.document_stores({}), over) end end

    it("a store whose get_document ignores the bank", function()
      assert_fails("document_store", ds({ get_document = function(s, id, bank)
        return s:get_document(id, bank) or s:get_document(id, "docs")
      end }), nil, "get_document of an unknown id or in another bank returns nil", "get_document(d1) in another bank")
    end)

    it("a store whose search ignores filters", function()
      local res = assert_fails("document_store", ds({ search_fulltext = function(s, q, bank, limit)
        return s:search_fulltext(q, bank, limit)
      end }), nil, "search_fulltext honours tag filters")
      assert.truthy(failed_cases(res)["search_fulltext honours metadata filters"])
    end)
  end)

  describe("GraphStore suite fails", function()
    local function gs(over) return function() return wrap(in_memory.graph_stores({}), over) end end

    it("a store that ignores max_depth", function()
      assert_fails("graph_store", gs({ query_neighbors = function(s, ids, bank, _, limit)
        return s:query_neighbors(ids, bank, 10, limit)
      end }), nil, "query_neighbors respects max_depth and puts nearer memories first", "max_depth 1 from alice")
    end)

    it("a store that ignores trigram_threshold", function()
      assert_fails("graph_store", gs({ find_entity_candidates_scored = function(s, name, bank, o)
        return s:find_entity_candidates_scored(name, bank, { name_embedding = o and o.name_embedding, trigram_threshold = 0 })
      end }), nil, "find_entity_candidates_scored drops names below trigram_threshold, best first")
    end)
  end)

  describe("WikiStore suite fails", function()
    it("a store that never bumps the revision", function()
      assert_fails("wiki_store", function()
        return wrap(in_memory.wiki_stores({}), { upsert_page = function(s, page, bank)
          s:delete_page(page.page_id, bank)
          return s:upsert_page(page, bank)
        end })
      end, nil, "upsert_page of an existing page bumps the revision and replaces content", "revision after the second upsert: expected 2, got 1")
    end)

    it("a store whose delete_page always returns true", function()
      assert_fails("wiki_store", function()
        return wrap(in_memory.wiki_stores({}), { delete_page = function(s, ...) s:delete_page(...); return true end })
      end, nil, "delete_page returns true, then false, and the page is gone")
    end)
  end)

  describe("MentalModelStore suite fails", function()
    it("a store whose refresh does not deduplicate", function()
      assert_fails("mental_model_store", function()
        return wrap(in_memory.mental_model_stores({}), { refresh = function(s, id, bank, new_ids)
          local m = s:get(id, bank)
          if not m then return nil end
          for _, x in ipairs(new_ids) do m.source_ids[#m.source_ids + 1] = x end
          s:upsert(m, bank)
          return s:get(id, bank)
        end })
      end, nil, "refresh merges new source ids, deduplicated, existing order kept")
    end)

    it("a store whose update_via_ops invents a model", function()
      assert_fails("mental_model_store", function()
        return wrap(in_memory.mental_model_stores({}), { update_via_ops = function() return 1, {} end })
      end, nil, "update_via_ops on a missing model returns nil")
    end)
  end)

  describe("SourceStore suite fails", function()
    local function ss(over) return function() return wrap(in_memory.source_stores({}), over) end end

    it("a store that does not deduplicate documents", function()
      assert_fails("source_store", ss({ store_document = function(s, d)
        local c = {}
        for k, v in pairs(d) do c[k] = v end
        c.content_hash = c.content_hash and (c.content_hash .. ":" .. c.id)
        return s:store_document(c)
      end }), nil, "store_document deduplicates on (bank_id, content_hash)")
    end)

    it("a store that lists documents oldest first", function()
      assert_fails("source_store", ss({ list_documents = function(s, ...) return reversed(s:list_documents(...)) end }),
        nil, "list_documents returns the newest first and respects limit")
    end)
  end)

  describe("EngineProvider suite fails", function()
    it("an engine that ignores max_results", function()
      assert_fails("engine_provider", function()
        return wrap(in_memory.engine_providers({}), { recall = function(s, req)
          local r = {}
          for k, v in pairs(req) do r[k] = v end
          r.max_results = 100
          return s:recall(r)
        end })
      end, nil, "recall respects max_results", "recall with max_results 2 returned 4 hits")
    end)

    it("an engine that declares reflect but cannot reflect", function()
      assert_fails("engine_provider", function()
        return wrap(in_memory.engine_providers({}), { reflect = function() error("not implemented") end })
      end, nil, "reflect works when supports_reflect is declared", "EngineProvider.reflect raised an error")
    end)
  end)

  describe("LLMProvider suite fails", function()
    it("a provider that drops an embedding", function()
      assert_fails("llm_provider", function()
        return wrap(hashing.llm_providers({ dimensions = 32 }), { embed = function(s, texts)
          local v = s:embed(texts)
          v[#v] = nil
          return v
        end })
      end, nil, "embed returns one vector per text, all of the same length", "number of vectors: expected 3, got 2")
    end)

    it("a provider that claims completions but fails them", function()
      assert_fails("llm_provider", function()
        return wrap(hashing.llm_providers({ dimensions = 32 }), { capabilities = function() return {} end })
      end, nil, "complete returns a Completion (or fails cleanly when not supported)", "LLMProvider.complete returned an error")
    end)
  end)

  describe("OutboundTransportProvider suite fails", function()
    it("a transport whose subprocess_env is not a string map", function()
      assert_fails("outbound_transport", function()
        return wrap(doubles.transport(), { subprocess_env = function() return { HTTPS_PROXY = 3128 } end })
      end, nil, "subprocess_env() returns a map of strings to strings", "is not string → string")
    end)

    it("a transport that replaces the headers table", function()
      assert_fails("outbound_transport", function()
        return wrap(doubles.transport(), { apply = function(_, ctx) ctx.headers = { ["x-tenant"] = "t1" } end })
      end, nil, "apply(ctx) mutates the context in place and leaves it a valid HttpClientContext", "must keep headers")
    end)

    it("a transport that sets a proxy it does not declare", function()
      assert_fails("outbound_transport", function()
        return wrap(doubles.transport(), { capabilities = function() return { supports_custom_ca = true, supports_headers = true } end })
      end, nil, "apply(ctx) changes only what capabilities() declares", "proxy set by a transport without supports_proxy")
    end)
  end)

  describe("AccessPolicyProvider suite fails", function()
    it("a policy that allows unknown permissions", function()
      assert_fails("access_policy", function()
        return wrap(doubles.policy(), { check = function(s, p, b, perm)
          if perm == "superpower" then return true end
          return s:check(p, b, perm)
        end })
      end, doubles.POLICY_OPTS, "check never allows an unknown permission")
    end)

    it("a policy that flips its decisions", function()
      local n = 0
      assert_fails("access_policy", function()
        return wrap(doubles.policy(), { check = function() n = n + 1; return n % 2 == 0 end })
      end, doubles.POLICY_OPTS, "check is consistent for the same question")
    end)

    it("a policy that denies what it should allow", function()
      assert_fails("access_policy", function()
        return wrap(doubles.policy(), { check = function() return false, "closed" end })
      end, doubles.POLICY_OPTS, "check allows what opts.allowed lists and denies what opts.denied lists")
    end)
  end)

  describe("MemoryExportSink suite fails", function()
    it("a sink that rejects an event kind", function()
      assert_fails("memory_export_sink", function()
        return wrap(doubles.sink(), { emit = function(s, ev)
          if ev.kind == "GovernanceSignal" then return nil, "unsupported kind" end
          return s:emit(ev)
        end })
      end, nil, "emit accepts every event kind", "MemoryExportSink.emit returned an error: unsupported kind")
    end)

    it("a sink that reports itself unhealthy", function()
      assert_fails("memory_export_sink", function()
        return wrap(doubles.sink(), { health = function() return { healthy = false, message = "disk full" } end })
      end, nil, "health() returns a healthy HealthStatus", "disk full")
    end)
  end)
end)
