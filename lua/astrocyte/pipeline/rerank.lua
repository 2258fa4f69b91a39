-- astrocyte.pipeline.rerank: the built-in reranking after fusion.
-- basic(): the reference's keyword-overlap (+0.05 per shared query term) and
-- proper-noun (+0.10 per shared name) boosts — applied as a relative boost so
-- scores stay in [0,1]: score × (1 + boosts) / (1 + largest possible boosts).
-- diversity(): the reference's session penalty (−0.08 per earlier hit of the
-- same metadata.session_id), skipped for list-style questions; the pipeline
-- passes pipeline.session_diversity_penalty (default 0: the evidence for a
-- question often sits in neighbouring turns of one session, and the penalty
-- cost 0.04 keyword recall@10 on the conversational dev split).
local core = require "astrocyte.core"
local ipairs, lower, find, sort = ipairs, string.lower, string.find, table.sort

local _M = {}

_M.KEYWORD_WEIGHT = 0.05
_M.PROPER_NOUN_WEIGHT = 0.10
_M.SESSION_PENALTY = 0.08

local function stable_sort(hits)
  for i, h in ipairs(hits) do h._pos = i end
  sort(hits, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a._pos < b._pos
  end)
  for _, h in ipairs(hits) do h._pos = nil end
end

-- Query terms (stemmed, stopwords dropped) and proper nouns (capitalized words).
local function query_terms(query)
  local terms, nt = {}, 0
  for _, t in ipairs(core.tokenize(query)) do
    if not terms[t] then terms[t] = true; nt = nt + 1 end
  end
  local names, nn = {}, 0
  for word in query:gmatch("%u[%w'’%-]*") do
    for _, t in ipairs(core.tokenize(word)) do
      if not names[t] then names[t] = true; nn = nn + 1 end
    end
  end
  return terms, nt, names, nn
end

-- How many of hits (sorted by score, descending) can still be among the
-- first `top` after a boost of at most max_boost: a hit scoring below
-- hits[top].score / max_boost stays below each of the first `top` whatever
-- its overlap. #hits when top is nil or hits are not sorted.
local function reachable(hits, top, max_boost)
  local n = #hits
  if not top or top >= n then return n end
  for i = 2, n do
    if hits[i].score > hits[i - 1].score then return n end
  end
  local floor = hits[top].score / max_boost
  local m = top
  while m < n and hits[m + 1].score >= floor do m = m + 1 end
  return m
end

-- Reranks hits in place by term and name overlap; returns hits. With
-- `top`, only the hits that can still reach the first `top` are scored and
-- reordered (the first `top` come out as a full rerank would give them;
-- the rest keep their order and fused scores after them).
function _M.basic(query, hits, opts, top)
  local kw = opts and opts.keyword_weight or _M.KEYWORD_WEIGHT
  local pn = opts and opts.proper_noun_weight or _M.PROPER_NOUN_WEIGHT
  local terms, nt, names, nn = query_terms(query)
  local max_boost = 1 + kw * nt + pn * nn
  if nt == 0 then return hits end
  local n = reachable(hits, top, max_boost)
  local tail = {}
  for i = n + 1, #hits do tail[#tail + 1] = hits[i]; hits[i] = nil end
  for _, h in ipairs(hits) do
    local seen, overlap, named = {}, 0, 0
    for _, t in ipairs(core.tokenize(h.text)) do
      if not seen[t] then
        seen[t] = true
        if terms[t] then overlap = overlap + 1 end
        if names[t] then named = named + 1 end
      end
    end
    h.score = h.score * (1 + kw * overlap + pn * named) / max_boost
  end
  stable_sort(hits)
  for _, h in ipairs(tail) do hits[#hits + 1] = h end
  return hits
end

_M.LLM_SYSTEM = [[You rank memories by how well they answer a question.
Return JSON only: {"ranked_ids": ["<id>", ...]} listing the ids from most to least relevant.]]

-- The reference's llm_pairwise rerank: the top `top_n` hits (after the
-- heuristic rerank) are listed to the LLM as "- id=… score=…: text[:500]"
-- and reordered by its {"ranked_ids": [...]}; ids it omits keep their order
-- after the ranked ones; any failure or unparsable reply keeps the
-- heuristic order. Scores are reassigned in the new order (the old scores,
-- sorted), so they stay in [0,1] and descending. Returns hits, used (bool).
function _M.llm(query, hits, llm, top_n)
  top_n = top_n or 30
  if not llm or type(llm.complete) ~= "function" or #hits < 2 then return hits, false end
  local n = math.min(#hits, top_n)
  local lines = {}
  for i = 1, n do
    local h = hits[i]
    lines[i] = string.format("- id=%s score=%.3f: %s", h.memory_id, h.score, (h.text:sub(1, 500):gsub("\n", " ")))
  end
  local ok, res = pcall(llm.complete, llm, {
    { role = "system", content = _M.LLM_SYSTEM },
    { role = "user", content = "<question>\n" .. query .. "\n</question>\n<memories>\n" ..
      table.concat(lines, "\n") .. "\n</memories>" },
  }, nil, 512, 0.0)
  if not ok or type(res) ~= "table" or type(res.text) ~= "string" then return hits, false end
  local body = res.text:match("%b{}")
  local doc = body and require("astrocyte.util").json.decode(body)
  if type(doc) ~= "table" or type(doc.ranked_ids) ~= "table" then return hits, false end
  local by_id, placed, out = {}, {}, {}
  for i = 1, n do by_id[hits[i].memory_id] = hits[i] end
  for _, id in ipairs(doc.ranked_ids) do
    local h = by_id[id]
    if h and not placed[id] then placed[id] = true; out[#out + 1] = h end
  end
  if #out == 0 then return hits, false end
  for i = 1, n do
    if not placed[hits[i].memory_id] then out[#out + 1] = hits[i] end
  end
  local scores = {}
  for i = 1, n do scores[i] = hits[i].score end
  for i = 1, n do out[i].score = scores[i] end
  for i = n + 1, #hits do out[i] = hits[i] end
  return out, true
end

local LIST_QUESTIONS = { "how many", "what are", "list", "all ", "which " }

-- Applies the session-diversity penalty in place (penalty per earlier hit
-- of the same session, default SESSION_PENALTY; 0 turns it off); returns hits.
function _M.diversity(query, hits, penalty)
  penalty = penalty or _M.SESSION_PENALTY
  if penalty <= 0 then return hits end
  local q = lower(query)
  for _, p in ipairs(LIST_QUESTIONS) do
    if find(q, p, 1, true) then return hits end
  end
  local seen = {}
  local changed = false
  for _, h in ipairs(hits) do
    local sid = h.metadata and h.metadata.session_id
    if sid ~= nil then
      local n = seen[sid] or 0
      if n > 0 then
        h.score = h.score - n * penalty
        if h.score < 0 then h.score = 0 end
        changed = true
      end
      seen[sid] = n + 1
    end
  end
  if changed then stable_sort(hits) end
  return hits
end

return _M
