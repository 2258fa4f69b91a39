-- astrocyte.pipeline.recall: multi-strategy recall for one bank, in the
-- reference's order: embed the query → run the strategies (semantic,
-- keyword, graph, temporal), each over-fetching max_results × 5 → weight
-- them by the query's intent (pipeline.weights × the intent's row, or
-- pipeline.intent_weights) → weighted RRF in C → basic rerank → session
-- diversity (pipeline.session_diversity_penalty, off by default) → trim →
-- token budget. A failing strategy is isolated (it
-- contributes nothing and is named in the trace); only the semantic and
-- keyword channels are required when configured.
local core = require "astrocyte.core"
local entities = require "astrocyte.pipeline.entities"
local errors = require "astrocyte.errors"
local expansion = require "astrocyte.pipeline.expansion"
local fuse = require "astrocyte.pipeline.fuse"
local intent = require "astrocyte.pipeline.intent"
local rerank = require "astrocyte.pipeline.rerank"
local temporal = require "astrocyte.pipeline.temporal"
local util = require "astrocyte.util"
local ipairs, pairs, min, type = ipairs, pairs, math.min, type

local _M = {}

-- Calls store:method(...) for bank; result or nil, error object.
local function try(store, method, bank, ...)
  return errors.call(store, method, { bank_id = bank }, ...)
end

-- Metadata as a hit shows it: without the indexed context retain stored
-- (metadata._context is searchable, not part of the memory).
local function hit_metadata(md)
  if type(md) ~= "table" or md._context == nil then return md end
  local out = {}
  for k, v in pairs(md) do if k ~= "_context" then out[k] = v end end
  return out
end

-- Normalizes any store hit into a MemoryHit.
local function memory_hit(h, bank)
  return {
    memory_id = h.memory_id or h.id or h.document_id, text = h.text, score = h.score or 0,
    bank_id = h.bank_id or bank, tags = h.tags, metadata = hit_metadata(h.metadata),
    occurred_at = h.occurred_at, retained_at = h.retained_at, fact_type = h.fact_type,
    memory_layer = h.memory_layer, chunk_id = h.chunk_id,
  }
end

-- Store-level filters for validated options (nil when there are none).
local function filters_of(o, window)
  local f = { tags = o.tags, fact_types = o.fact_types, session_id = o.session_id }
  local from, to = o.time_range and o.time_range.from, o.time_range and o.time_range.to
  if window then
    from = from and (from > window.from and from or window.from) or window.from
    to = to and (to < window.to - 1 and to or window.to - 1) or (window.to - 1)
  end
  if from or to then f.time_range = { util.iso(from), util.iso(to) } end
  if o.as_of_ms then f.as_of = util.iso(o.as_of_ms) end
  if f.tags or f.fact_types or f.session_id or f.time_range or f.as_of then return f end
  return nil
end
_M.filters_of = filters_of

-- Keeps graph/temporal hits that satisfy the request's filters, filling in
-- their full fields from the store when it can tell (extension get_items).
local function complete_and_filter(eng, bank, hits, o)
  local vs = eng.vector_store
  if #hits == 0 or type(vs.get_items) ~= "function" then return hits end
  local ids = {}
  for i, h in ipairs(hits) do ids[i] = h.memory_id or h.id end
  local items = try(vs, "get_items", bank, ids, bank)
  if not items then return hits end
  local out = {}
  for _, h in ipairs(hits) do
    local it = items[h.memory_id or h.id]
    if it then
      local keep = true
      if o.tags then
        keep = false
        for _, t in ipairs(it.tags or {}) do
          for _, want in ipairs(o.tags) do if t == want then keep = true end end
        end
      end
      if keep and o.time_range then
        local ts = it.occurred_at and util.parse_iso(it.occurred_at)
        if not ts or (o.time_range.from and ts < o.time_range.from) or (o.time_range.to and ts > o.time_range.to) then keep = false end
      end
      if keep and o.as_of_ms and it.retained_at and util.parse_iso(it.retained_at) > o.as_of_ms then keep = false end
      if keep and o.fact_types then
        keep = false
        for _, ft in ipairs(o.fact_types) do if it.fact_type == ft then keep = true end end
      end
      if keep then
        -- the store's hit (its fields are read when needed), at this score
        it.score = h.score
        out[#out + 1] = it
      end
    end
  end
  return out
end

-- The graph strategy: names in the query → entity ids → neighbouring memories.
local function graph_strategy(eng, bank, o, limit)
  local gs = eng.graph_store
  local names = entities.names(o.query)
  if #names == 0 then return false end
  local ids, seen = {}, {}
  for _, name in ipairs(names) do
    local ents = try(gs, "query_entities", bank, name, bank, 3) or {}
    for _, e in ipairs(ents) do
      if not seen[e.id] then seen[e.id] = true; ids[#ids + 1] = e.id end
    end
  end
  if #ids == 0 then return {} end
  local hits, err = try(gs, "query_neighbors", bank, ids, bank, 2, limit)
  if not hits then return nil, err end
  local out = {}
  for i, h in ipairs(hits) do out[i] = { memory_id = h.memory_id, text = h.text, score = h.score } end
  return complete_and_filter(eng, bank, out, o)
end

-- The memories inside a time window (on occurred_at): the keyword matches
-- there by BM25, then the rest of the window by vector similarity.
local function window_hits(eng, bank, o, limit, qvec, window)
  local f = filters_of(o, window)
  local out, seen = {}, {}
  if eng.document_store then
    local kw = try(eng.document_store, "search_fulltext", bank, o.query, bank, limit, f) or {}
    for _, h in ipairs(kw) do
      local id = h.id or h.document_id
      if not seen[id] then seen[id] = true; out[#out + 1] = h end
    end
  end
  if qvec and #out < limit then
    local sem, err = try(eng.vector_store, "search_similar", bank, qvec, bank, limit, f)
    if not sem and #out == 0 then return nil, err end
    for _, h in ipairs(sem or {}) do
      if not seen[h.id] and #out < limit then seen[h.id] = true; out[#out + 1] = h end
    end
  end
  -- Rank order is what fusion reads; scores restate it.
  for i, h in ipairs(out) do h.score = 1 / i end
  return out
end

-- The temporal strategy: with a time expression in the query, the memories
-- inside that window (keyword matches first, then by similarity); otherwise,
-- for temporal intents, the most recent memories by 7-day half-life decay
-- from the reference date.
local function temporal_strategy(eng, bank, o, limit, qvec, window, is_temporal)
  local vs = eng.vector_store
  if window then return window_hits(eng, bank, o, limit, qvec, window) end
  if not qvec then return false end
  if not is_temporal or type(vs.list_recent) ~= "function" then return false end
  local cap = eng.cfg.pipeline.temporal_scan_cap or 500
  local items, err = try(vs, "list_recent", bank, bank, cap)
  if not items then return nil, err end
  local ref = o.ref_ms
  local half = eng.cfg.pipeline.temporal_half_life_days or 7.0
  local scored = {}
  for _, it in ipairs(items) do
    local ts = (it.occurred_at and util.parse_iso(it.occurred_at)) or (it.retained_at and util.parse_iso(it.retained_at))
    if ts and (not o.as_of_ms or not it.retained_at or util.parse_iso(it.retained_at) <= o.as_of_ms) then
      scored[#scored + 1] = { memory_id = it.id, text = it.text, score = temporal.decay(ts, ref, half), _ts = ts }
    end
  end
  table.sort(scored, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.memory_id < b.memory_id
  end)
  local out = {}
  for i = 1, min(#scored, limit) do out[i] = scored[i] end
  return complete_and_filter(eng, bank, out, o)
end

-- Runs strategy tasks {name, fn}: each sets t.hits (false = not
-- applicable), t.err and t.ms. Inside OpenResty (a phase with light threads)
-- they run as ngx.thread light threads, so strategies whose providers do I/O
-- through cosockets overlap; elsewhere one after another. A task that raises
-- fails alone.
local PARALLEL_PHASES = { rewrite = true, access = true, content = true, timer = true, ssl_cert = false }
function _M.run_tasks(tasks)
  local function exec(t)
    local ts = core.time()
    local ok, hits, err = pcall(t.fn)
    if not ok then hits, err = nil, tostring(hits) end
    t.hits, t.err, t.ms = hits, err, (core.time() - ts) * 1000
  end
  local ngx_ = rawget(_G, "ngx")
  if #tasks > 1 and ngx_ and ngx_.thread and ngx_.get_phase and PARALLEL_PHASES[ngx_.get_phase()] then
    local threads = {}
    for i, t in ipairs(tasks) do threads[i] = ngx_.thread.spawn(exec, t) end
    for i, th in ipairs(threads) do
      local ok = ngx_.thread.wait(th)
      if not ok then tasks[i].hits, tasks[i].err = nil, "strategy thread failed" end
    end
    return "threads"
  end
  for _, t in ipairs(tasks) do exec(t) end
  return "sequential"
end

-- Runs the strategies for one bank. o: validated options {query, bank_id,
-- max_results, tags, fact_types, time_range, as_of_ms, ref_ms, session_id};
-- qvec: the packed query vector (embedded once by the caller). Returns a
-- gather table {lists = {{name, weight, hits}}, counts, used, failed,
-- timings, intent, window, top_semantic} or nil, err when every channel
-- that should have answered failed.
function _M.gather(eng, o, qvec, bcfg)
  local p = (bcfg or eng.cfg).pipeline
  local limit = o.max_results * p.semantic_overfetch
  local filters = filters_of(o)
  local weights, query_intent = intent.weights(o.query, p.weights, p.intent_weights)
  local window = temporal.window(o.query, o.ref_ms)
  local g = { lists = {}, counts = {}, used = {}, failed = {}, timings = {}, intent = query_intent,
              window = window, top_semantic = 0 }

  -- The applicable strategies, in their fixed order.
  local tasks = {}
  if (weights.semantic or 0) > 0 and qvec then
    -- A vector search always returns its top k, related or not; hits below
    -- semantic_min_score are noise that would only dilute the fusion (and
    -- would make every non-empty bank look like a match to cascade and
    -- first_match).
    local floor = p.semantic_min_score or 0
    tasks[#tasks + 1] = { name = "semantic", required = true, fn = function()
      local all, serr = try(eng.vector_store, "search_similar", o.bank_id, qvec, o.bank_id, limit, filters)
      if not all then return nil, serr end
      if all[1] then g.top_semantic = all[1].score end
      local kept = {}
      for _, h in ipairs(all) do if h.score >= floor then kept[#kept + 1] = h end end
      return kept
    end }
  end
  if (weights.keyword or 0) > 0 and eng.document_store then
    tasks[#tasks + 1] = { name = "keyword", required = true, fn = function()
      return try(eng.document_store, "search_fulltext", o.bank_id, o.query, o.bank_id, limit, filters)
    end }
  end
  local astore = expansion.store(eng)
  if (weights.associative or 0) > 0 and astore then
    tasks[#tasks + 1] = { name = "associative", fn = function()
      local hits, aerr = try(astore, "search_associative", o.bank_id, o.query, o.bank_id, limit, filters)
      if hits == false then astore = nil end   -- no usable index for the bank: no expansion either
      return hits, aerr
    end }
  end
  if (weights.graph or 0) > 0 and eng.graph_store then
    tasks[#tasks + 1] = { name = "graph", fn = function() return graph_strategy(eng, o.bank_id, o, limit) end }
  end
  -- A time window named in the query is a strong constraint: its channel
  -- weighs at least pipeline.temporal_window_weight.
  if window and (weights.temporal or 0) > 0 then
    weights.temporal = math.max(weights.temporal, p.temporal_window_weight or 0)
  end
  if (weights.temporal or 0) > 0 and (qvec or window) then
    tasks[#tasks + 1] = { name = "temporal", fn = function()
      return temporal_strategy(eng, o.bank_id, o, limit, qvec, window, query_intent == "TEMPORAL")
    end }
  end

  g.execution = _M.run_tasks(tasks)

  -- Results in the fixed order (deterministic fusion input).
  for _, t in ipairs(tasks) do
    local hits, err = t.hits, t.err
    if hits ~= false then
      g.timings[t.name] = t.ms
      if not hits then
        g.failed[#g.failed + 1] = t.name
        if t.required then
          g.degraded = true
          g.errors = g.errors or {}
          g.errors[t.name] = err
        end
      else
        for _, h in ipairs(hits) do h.bank_id = h.bank_id or o.bank_id end
        g.counts[t.name] = #hits
        g.used[#g.used + 1] = t.name
        g.lists[#g.lists + 1] = { name = t.name, weight = weights[t.name] or 1.0, hits = hits }
      end
    end
  end
  -- Multi-hop expansion: the first channels' best hits as feedback.
  local ex = p.expansion
  if (weights.expansion or 0) > 0 and astore and #g.lists > 0 then
    local ts = core.time()
    local seeds = expansion.seeds(g.lists, p.rrf_k or 60, ex and ex.seeds or 5, o.bank_id)
    local hits = #seeds > 0 and try(astore, "search_associative", o.bank_id, o.query, o.bank_id, limit, filters, seeds)
    if hits then
      for _, h in ipairs(hits) do h.bank_id = h.bank_id or o.bank_id end
      g.timings.expansion, g.counts.expansion = (core.time() - ts) * 1000, #hits
      g.used[#g.used + 1] = "expansion"
      g.lists[#g.lists + 1] = { name = "expansion", weight = weights.expansion, hits = hits }
    elseif hits == nil and #seeds > 0 then
      g.failed[#g.failed + 1] = "expansion"
    end
  end
  -- Every channel that should have answered failed: nothing to degrade to.
  -- The store's error object goes up as it is; anything else becomes a
  -- StorageError naming the channel.
  if #g.lists == 0 and g.errors then
    local where = g.errors.semantic and "semantic" or "keyword"
    local err = g.errors[where]
    if errors.is(err) then return nil, err end
    return nil, errors.storage(where .. ": " .. tostring(err), { bank_id = o.bank_id })
  end
  return g
end

-- Equal scores carry no order: within a run of tied hits, order graph and
-- temporal lists by the best rank the semantic and keyword channels gave
-- (then by id), so ties follow the other evidence instead of chance.
local function break_ties(lists)
  local prior = {}
  for _, l in ipairs(lists) do
    if l.name == "semantic" or l.name == "keyword" then
      for i, h in ipairs(l.hits) do
        local id = fuse.key(h)
        if not prior[id] or i < prior[id] then prior[id] = i end
      end
    end
  end
  for _, l in ipairs(lists) do
    if l.name ~= "semantic" and l.name ~= "keyword" then
      table.sort(l.hits, function(a, b)
        if a.score ~= b.score then return a.score > b.score end
        local ia, ib = fuse.key(a), fuse.key(b)
        local pa, pb = prior[ia] or math.huge, prior[ib] or math.huge
        if pa ~= pb then return pa < pb end
        return ia < ib
      end)
    end
  end
end

-- Which channels found each returned hit, and at what rank:
-- {[memory_id] = {semantic = 1, keyword = 4, ...}} (for the trace, so a
-- person or a tuner can see why a hit is there). Only the returned hits are
-- looked up, so this costs one key per candidate.
local function channel_ranks(lists, fused, hits)
  local returned, want, out = {}, {}, {}
  for _, h in ipairs(hits) do returned[h.memory_id] = true end
  for _, h in ipairs(fused) do
    local id = h.memory_id or h.id or h.document_id
    if returned[id] then want[fuse.key(h)] = id end
  end
  for _, l in ipairs(lists) do
    for i, h in ipairs(l.hits) do
      local id = want[fuse.key(h)]
      if id then
        local r = out[id]
        if not r then r = {}; out[id] = r end
        if not r[l.name] then r[l.name] = i end
      end
    end
  end
  return out
end

-- Fuses gathered lists, reranks and trims; p is the pipeline config (for
-- session_diversity_penalty). Returns RecallResult or nil, err.
function _M.finish(o, g, k, t0, p)
  break_ties(g.lists)
  local total = 0
  for _, l in ipairs(g.lists) do total = total + #l.hits end
  local fused, err = fuse.rrf(g.lists, k)
  if not fused then return nil, errors.new("InternalError", "fusion: " .. tostring(err), { bank_id = o.bank_id }) end
  -- Only the hits that can still make the returned page need their text
  -- scored and become MemoryHits, unless a later step reorders past it (LLM
  -- rerank, session penalty): the rest keep their store hits' lazy fields
  -- unread (store/localstore).
  local penalty = p and p.session_diversity_penalty
  if penalty == nil then penalty = rerank.SESSION_PENALTY end
  local exact = (o.final_rerank_mode == "llm_pairwise" and o.llm) or penalty > 0
  local hits = fused
  if exact then
    hits = {}
    for i, h in ipairs(fused) do hits[i] = memory_hit(h, o.bank_id) end
  end
  rerank.basic(o.query, hits, nil, (not exact) and o.max_results or nil)
  local llm_reranked = false
  if o.final_rerank_mode == "llm_pairwise" and o.llm then
    hits, llm_reranked = rerank.llm(o.query, hits, o.llm, o.final_rerank_top_n)
  end
  rerank.diversity(o.query, hits, p and p.session_diversity_penalty)
  local trimmed = {}
  for i = 1, min(#hits, o.max_results) do
    trimmed[i] = exact and hits[i] or memory_hit(hits[i], o.bank_id)
  end
  return {
    hits = trimmed, total_available = #fused, truncated = false,
    top_semantic_score = g.top_semantic,
    trace = {
      strategies_used = g.used, strategies_failed = g.failed, total_candidates = total,
      fusion_method = "rrf", intent = g.intent, llm_reranked = llm_reranked or nil,
      strategy_execution = g.execution, temporal_window = g.window and g.window.phrase or nil,
      strategy_candidate_counts = g.counts, strategy_timings_ms = g.timings, degraded = g.degraded,
      channel_ranks = channel_ranks(g.lists, fused, trimmed),
      latency_ms = (core.time() - (t0 or core.time())) * 1000,
    },
  }
end

-- Greedy token budget: keep hits in rank order, stop at the first overflow.
function _M.token_budget(hits, max_tokens)
  if not max_tokens then return hits, false end
  local used, out = 0, {}
  for _, h in ipairs(hits) do
    local n = core.token_count(h.text)
    if used + n > max_tokens then return out, true end
    used = used + n
    out[#out + 1] = h
  end
  return out, false
end

return _M
