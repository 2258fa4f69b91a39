-- astrocyte.pipeline.multibank: recall across several banks with the
-- reference's strategies — parallel (all banks), cascade (banks in order
-- until min_results_to_stop), first_match (the first bank with any hit).
-- Banks are not merged by their fused scores (every bank's best hit would
-- tie at the top); each strategy channel is merged across banks by its raw
-- score times the bank weight, then the channels are fused by weighted RRF
-- like a single bank, with dedup of identical texts across banks. The token
-- budget is applied once, by the caller.
local errors = require "astrocyte.errors"
local ipairs, pairs, type, fmt, sort = ipairs, pairs, type, string.format, table.sort

local _M = {}

local MODES = { parallel = true, cascade = true, first_match = true }

-- Normalizes a strategy (string or MultiBankStrategy table); returns it or nil, ConfigError.
function _M.strategy(s)
  if s == nil then s = "parallel" end
  if type(s) == "string" then s = { mode = s } end
  if type(s) ~= "table" then
    return nil, errors.config("strategy must be a string or a MultiBankStrategy table", { field = "strategy" })
  end
  local mode = s.mode or "parallel"
  if not MODES[mode] then
    return nil, errors.config(fmt("unknown multi-bank strategy '%s' (expected parallel, cascade or first_match)", tostring(mode)), { field = "strategy" })
  end
  return {
    mode = mode, min_results_to_stop = s.min_results_to_stop or 3, cascade_order = s.cascade_order,
    bank_weights = s.bank_weights or {}, dedup_across_banks = s.dedup_across_banks ~= false,
  }
end

-- Visit order: cascade_order entries present in banks first, then the rest.
local function order(banks, cascade_order)
  if not cascade_order then return banks end
  local present, out, used = {}, {}, {}
  for _, b in ipairs(banks) do present[b] = true end
  for _, b in ipairs(cascade_order) do
    if present[b] and not used[b] then used[b] = true; out[#out + 1] = b end
  end
  for _, b in ipairs(banks) do if not used[b] then out[#out + 1] = b end end
  return out
end

-- Merges the gathered strategy lists of several banks channel by channel:
-- within a channel, hits of all banks are ordered by their raw score (cosine,
-- BM25, ...) times the bank weight, which is comparable across banks because
-- every bank uses the same embedder and scorer. The merged channels then go
-- through the same weighted RRF, rerank and trim as a single bank.
-- Fusion and rerank rescore the hits they are given, and cascade finishes
-- the gathers of its first banks again with each further bank: a hit's
-- channel score is kept at its first merge (_raw) and put back at the next.
-- A bank whose required channel failed makes the merge degraded.
local function merge_gathers(gathers, st)
  local by_name, order_names = {}, {}
  local merged = { lists = {}, counts = {}, used = {}, failed = {}, timings = {}, top_semantic = 0 }
  for _, entry in ipairs(gathers) do
    local g, w = entry.g, st.bank_weights[entry.bank] or 1.0
    merged.intent, merged.window = merged.intent or g.intent, merged.window or g.window
    if g.top_semantic > merged.top_semantic then merged.top_semantic = g.top_semantic end
    for _, l in ipairs(g.lists) do
      local m = by_name[l.name]
      if not m then
        m = { name = l.name, weight = l.weight, hits = {} }
        by_name[l.name] = m
        order_names[#order_names + 1] = l.name
      end
      for _, h in ipairs(l.hits) do
        local raw = h._raw
        if raw == nil then raw = h.score or 0; h._raw = raw else h.score = raw end
        h._merge = raw * w
        m.hits[#m.hits + 1] = h
      end
    end
    for _, f in ipairs(g.failed) do merged.failed[#merged.failed + 1] = entry.bank .. ":" .. f end
    if g.degraded then
      merged.degraded = true
      merged.errors = merged.errors or {}
      for name, e in pairs(g.errors or {}) do merged.errors[entry.bank .. ":" .. name] = e end
    end
  end
  for _, name in ipairs(order_names) do
    local m = by_name[name]
    for i, h in ipairs(m.hits) do h._pos = i end
    sort(m.hits, function(a, b)
      if a._merge ~= b._merge then return a._merge > b._merge end
      return a._pos < b._pos
    end)
    for _, h in ipairs(m.hits) do h._merge, h._pos = nil, nil end
    merged.lists[#merged.lists + 1] = m
    merged.counts[name] = #m.hits
    merged.used[#merged.used + 1] = name
  end
  return merged
end

-- Drops hits whose text already appeared higher up (dedup_across_banks).
local function dedup(hits)
  local seen, out = {}, {}
  for _, h in ipairs(hits) do
    if not seen[h.text] then seen[h.text] = true; out[#out + 1] = h end
  end
  return out
end

-- Recalls across banks per strategy st. gather_one(bank) → gather table |
-- nil, err; finish(gather) → RecallResult | nil, err. A failing bank is
-- skipped and named in trace.banks_failed (as in the reference); all
-- failing is an error, and so is a failing fusion.
function _M.recall(banks, st, gather_one, finish)
  local gathers, failed, visited = {}, {}, {}
  local result
  for _, bank in ipairs(st.mode == "parallel" and banks or order(banks, st.cascade_order)) do
    local g, err = gather_one(bank)
    visited[#visited + 1] = bank
    if not g then
      failed[#failed + 1] = { bank_id = bank, error = tostring(err) }
    elseif st.mode == "first_match" then
      local r, ferr = finish(merge_gathers({ { bank = bank, g = g } }, st))
      if not r then return nil, ferr end
      if #r.hits > 0 then result = r; break end
    else
      gathers[#gathers + 1] = { bank = bank, g = g }
      if st.mode == "cascade" then
        local r, ferr = finish(merge_gathers(gathers, st))
        if not r then return nil, ferr end
        if st.dedup_across_banks then r.hits = dedup(r.hits) end
        if #r.hits >= st.min_results_to_stop then result = r; break end
      end
    end
  end
  if #gathers == 0 and not result and #failed > 0 then
    return nil, errors.new("ProviderUnavailable", "recall failed on every bank: " .. failed[1].error, { bank_id = failed[1].bank_id })
  end
  if not result then
    local ferr
    result, ferr = finish(merge_gathers(gathers, st))
    if not result then return nil, ferr end
  end
  if st.dedup_across_banks then result.hits = dedup(result.hits) end
  result.trace.banks_visited = visited
  result.trace.banks_failed = failed
  result.trace.multi_bank_strategy = st.mode
  return result
end

return _M
