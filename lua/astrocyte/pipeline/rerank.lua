-- astrocyte.pipeline.rerank: the built-in reranking after fusion.
-- basic(): the reference's keyword-overlap (+0.05 per shared query term) and
-- proper-noun (+0.10 per shared name) boosts — applied as a relative boost so
-- scores stay in [0,1]: score × (1 + boosts) / (1 + largest possible boosts).
-- diversity(): the reference's session penalty (−0.08 per earlier hit of the
-- same metadata.session_id), skipped for list-style questions.
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

-- Reranks hits in place by term and name overlap; returns hits.
function _M.basic(query, hits, opts)
  local kw = opts and opts.keyword_weight or _M.KEYWORD_WEIGHT
  local pn = opts and opts.proper_noun_weight or _M.PROPER_NOUN_WEIGHT
  local terms, nt, names, nn = query_terms(query)
  local max_boost = 1 + kw * nt + pn * nn
  if nt == 0 then return hits end
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
  return hits
end

local LIST_QUESTIONS = { "how many", "what are", "list", "all ", "which " }

-- Applies the session-diversity penalty in place; returns hits.
function _M.diversity(query, hits)
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
        h.score = h.score - n * _M.SESSION_PENALTY
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
