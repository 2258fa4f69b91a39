-- astrocyte.pipeline.multibank: recall across several banks with the
-- reference's strategies — parallel (all banks), cascade (banks in order
-- until min_results_to_stop), first_match (the first bank with any hit) —
-- then one merge: weighted RRF over the per-bank rankings with bank weights
-- (the default), or the reference's raw-score merge (merge = "score"), with
-- dedup of identical texts across banks and the token budget applied once.
local fuse = require "astrocyte.pipeline.fuse"
local errors = require "astrocyte.errors"
local ipairs, type, fmt, min, sort = ipairs, type, string.format, math.min, table.sort

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
    merge = s.merge or "rrf",
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

-- Merges per-bank results → hits (deduped by text), total_available.
local function merge(per_bank, st, k)
  local total = 0
  for _, r in ipairs(per_bank) do total = total + (r.result.total_available or #r.result.hits) end
  local hits
  if st.merge == "score" then
    hits = {}
    for _, r in ipairs(per_bank) do
      local w = st.bank_weights[r.bank] or 1.0
      for _, h in ipairs(r.result.hits) do
        h.bank_id = h.bank_id or r.bank
        h.score = h.score * w
        hits[#hits + 1] = h
      end
    end
    for i, h in ipairs(hits) do h._pos = i end
    sort(hits, function(a, b)
      if a.score ~= b.score then return a.score > b.score end
      return a._pos < b._pos
    end)
    for _, h in ipairs(hits) do h._pos = nil end
  else
    local lists = {}
    for _, r in ipairs(per_bank) do
      local list = {}
      for i, h in ipairs(r.result.hits) do
        h.bank_id = h.bank_id or r.bank
        list[i] = h
      end
      -- Memory ids are unique per bank only: key them by bank for fusion.
      local keyed = {}
      for i, h in ipairs(list) do keyed[i] = { memory_id = r.bank .. "\0" .. h.memory_id, hit = h, score = h.score } end
      lists[#lists + 1] = { name = r.bank, weight = st.bank_weights[r.bank] or 1.0, hits = keyed }
    end
    local fused = fuse.rrf(lists, k) or {}
    hits = {}
    for i, f in ipairs(fused) do
      f.hit.score = f.score
      hits[i] = f.hit
    end
  end
  if st.dedup_across_banks then
    local seen, out = {}, {}
    for _, h in ipairs(hits) do
      if not seen[h.text] then seen[h.text] = true; out[#out + 1] = h end
    end
    hits = out
  end
  return hits, total
end

-- Runs recall_one(bank) → RecallResult | nil, err over banks per strategy st.
-- Returns RecallResult (hits trimmed to max_results, budget applied by the
-- caller's token_budget) or nil, err. A failing bank is skipped and named in
-- trace.banks_failed, as in the reference.
function _M.recall(banks, st, max_results, recall_one, k)
  local per_bank, failed, visited = {}, {}, {}
  local count = 0
  for _, bank in ipairs(st.mode == "parallel" and banks or order(banks, st.cascade_order)) do
    local res, err = recall_one(bank)
    visited[#visited + 1] = bank
    if not res then
      failed[#failed + 1] = { bank_id = bank, error = tostring(err) }
    else
      per_bank[#per_bank + 1] = { bank = bank, result = res }
      count = count + #res.hits
      if st.mode == "first_match" and #res.hits > 0 then break end
      if st.mode == "cascade" then
        local hits = merge(per_bank, st, k)
        if #hits >= st.min_results_to_stop then break end
      end
    end
  end
  if #per_bank == 0 and #failed > 0 then
    return nil, errors.new("ProviderUnavailable", "recall failed on every bank: " .. failed[1].error, { bank_id = failed[1].bank_id })
  end
  if st.mode == "first_match" then
    for i = #per_bank, 1, -1 do
      if #per_bank[i].result.hits == 0 then table.remove(per_bank, i) end
    end
    if #per_bank > 1 then per_bank = { per_bank[#per_bank] } end
  end
  local hits, total = merge(per_bank, st, k)
  local trimmed = {}
  for i = 1, min(#hits, max_results) do trimmed[i] = hits[i] end
  return {
    hits = trimmed, total_available = total, truncated = false,
    trace = { strategies_used = { "multi_bank:" .. st.mode }, banks_visited = visited, banks_failed = failed,
              fusion_method = st.merge == "score" and "score" or "rrf" },
  }
end

return _M
