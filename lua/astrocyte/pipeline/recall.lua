-- astrocyte.pipeline.recall: multi-strategy recall for one bank, in the
-- reference's order: embed the query → run the strategies (semantic,
-- keyword, graph, temporal), each over-fetching max_results × 5 → weight
-- them by the query's intent → weighted RRF in C → basic rerank → session
-- diversity → trim → token budget. A failing strategy is isolated (it
-- contributes nothing and is named in the trace); only the semantic and
-- keyword channels are required when configured.
local core = require "astrocyte.core"
local entities = require "astrocyte.pipeline.entities"
local fuse = require "astrocyte.pipeline.fuse"
local intent = require "astrocyte.pipeline.intent"
local rerank = require "astrocyte.pipeline.rerank"
local temporal = require "astrocyte.pipeline.temporal"
local util = require "astrocyte.util"
local ipairs, min, type = ipairs, math.min, type

local _M = {}

-- Calls store[method] catching raised errors: returns result or nil, err.
local function try(store, method, ...)
  local ok, res, err = pcall(store[method], store, ...)
  if not ok then return nil, tostring(res) end
  if res == nil and err ~= nil then return nil, tostring(err) end
  return res
end

-- Normalizes any store hit into a MemoryHit.
local function memory_hit(h, bank)
  return {
    memory_id = h.memory_id or h.id or h.document_id, text = h.text, score = h.score or 0,
    bank_id = h.bank_id or bank, tags = h.tags, metadata = h.metadata,
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
  local items = try(vs, "get_items", ids, bank)
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
        local full = memory_hit(it, bank)
        full.score = h.score
        out[#out + 1] = full
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
    local ents = try(gs, "query_entities", name, bank, 3) or {}
    for _, e in ipairs(ents) do
      if not seen[e.id] then seen[e.id] = true; ids[#ids + 1] = e.id end
    end
  end
  if #ids == 0 then return {} end
  local hits, err = try(gs, "query_neighbors", ids, bank, 2, limit)
  if not hits then return nil, err end
  local out = {}
  for i, h in ipairs(hits) do out[i] = { memory_id = h.memory_id, text = h.text, score = h.score } end
  return complete_and_filter(eng, bank, out, o)
end

-- The temporal strategy: with a time expression in the query, the memories
-- inside that window ranked by similarity; otherwise, for temporal intents,
-- the most recent memories by 7-day half-life decay from the reference date.
local function temporal_strategy(eng, bank, o, limit, qvec, window, is_temporal)
  local vs = eng.vector_store
  if window then
    return try(vs, "search_similar", qvec, bank, limit, filters_of(o, window))
  end
  if not is_temporal or type(vs.list_recent) ~= "function" then return false end
  local cap = eng.cfg.pipeline.temporal_scan_cap or 500
  local items, err = try(vs, "list_recent", bank, cap)
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

-- Recalls from one bank. o: validated options {query, bank_id, max_results,
-- max_tokens, tags, fact_types, time_range, as_of_ms, ref_ms, session_id};
-- qvec: packed query vector (embedded once by the caller). Returns
-- RecallResult or nil, err.
function _M.single(eng, o, qvec, bcfg)
  local t0 = os.clock()
  local p = (bcfg or eng.cfg).pipeline
  local limit = o.max_results * p.semantic_overfetch
  local filters = filters_of(o)
  local weights, query_intent = intent.weights(o.query, p.weights)
  local window = temporal.window(o.query, o.ref_ms)
  local lists, counts, used, timings, failed = {}, {}, {}, {}, {}
  local top_semantic = 0

  local function run(name, fn)
    local ts = os.clock()
    local hits, err = fn()
    if hits == false then return false end      -- not applicable to this query
    timings[name] = (os.clock() - ts) * 1000
    if not hits then failed[#failed + 1] = name; return nil, err end
    counts[name] = #hits
    used[#used + 1] = name
    lists[#lists + 1] = { name = name, weight = weights[name] or 1.0, hits = hits }
    return hits
  end

  if (weights.semantic or 0) > 0 then
    local hits, err = run("semantic", function()
      return try(eng.vector_store, "search_similar", qvec, o.bank_id, limit, filters)
    end)
    if not hits then return nil, { where = "semantic", err = err } end
    if hits[1] then top_semantic = hits[1].score end
  end
  if (weights.keyword or 0) > 0 and eng.document_store then
    local hits, err = run("keyword", function()
      return try(eng.document_store, "search_fulltext", o.query, o.bank_id, limit, filters)
    end)
    if not hits then return nil, { where = "keyword", err = err } end
  end
  if (weights.graph or 0) > 0 and eng.graph_store then
    run("graph", function() return graph_strategy(eng, o.bank_id, o, limit) end)
  end
  if (weights.temporal or 0) > 0 then
    run("temporal", function()
      return temporal_strategy(eng, o.bank_id, o, limit, qvec, window, query_intent == "TEMPORAL")
    end)
  end

  local total = 0
  for _, l in ipairs(lists) do total = total + #l.hits end
  local fused, err = fuse.rrf(lists, p.rrf_k)
  if not fused then return nil, { where = "fusion", err = err } end
  local hits = {}
  for i, h in ipairs(fused) do hits[i] = memory_hit(h, o.bank_id) end
  rerank.basic(o.query, hits)
  rerank.diversity(o.query, hits)
  local trimmed = {}
  for i = 1, min(#hits, o.max_results) do trimmed[i] = hits[i] end
  local truncated
  trimmed, truncated = _M.token_budget(trimmed, o.max_tokens)
  return {
    hits = trimmed, total_available = #fused, truncated = truncated,
    top_semantic_score = top_semantic,
    trace = {
      strategies_used = used, strategies_failed = failed, total_candidates = total,
      fusion_method = "rrf", intent = query_intent, temporal_window = window and window.phrase or nil,
      strategy_candidate_counts = counts, strategy_timings_ms = timings,
      latency_ms = (os.clock() - t0) * 1000,
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
