-- astrocyte.pipeline.intent: the reference's query-intent classifier (regex
-- banks, no LLM) and the strategy weights it selects. Each pattern adds its
-- weight once when it matches; the best intent wins by (score, number of
-- matches, name); below confidence 0.4 the intent is UNKNOWN.
local lower, find, ipairs, pairs, sort, type = string.lower, string.find, ipairs, pairs, table.sort, type

local _M = {}

_M.CONFIDENCE_THRESHOLD = 0.4

-- Strategy weights per intent (reference INTENT_STRATEGY_WEIGHTS).
_M.WEIGHTS = {
  FACTUAL     = { semantic = 1.2, keyword = 1.2, graph = 0.7, temporal = 0.8 },
  RELATIONAL  = { semantic = 0.9, keyword = 0.8, graph = 1.5, temporal = 0.8 },
  COMPARATIVE = { semantic = 1.0, keyword = 1.3, graph = 1.0, temporal = 0.8 },
  PROCEDURAL  = { semantic = 1.2, keyword = 1.0, graph = 0.8, temporal = 0.8 },
  TEMPORAL    = { semantic = 0.9, keyword = 0.9, graph = 0.8, temporal = 1.5 },
  EXPLORATORY = { semantic = 1.0, keyword = 1.0, graph = 1.0, temporal = 1.0 },
  UNKNOWN     = { semantic = 1.0, keyword = 1.0, graph = 1.0, temporal = 1.0 },
}

-- Word-bounded find of any of `words` (Lua patterns) in s.
local function any_word(s, words)
  for _, w in ipairs(words) do
    if find(s, "%f[%w]" .. w .. "%f[%W]") then return true end
  end
  return false
end

local UNITS = { "days", "weeks", "months", "years", "hours", "minutes", "day", "week", "month", "year" }
local PERIODS = { "week", "month", "year", "night", "time", "monday", "tuesday", "wednesday", "thursday",
                  "friday", "saturday", "sunday", "weekend", "summer", "winter", "spring", "fall", "autumn" }

-- Each rule: intent, weight, test(lowercased query) → bool.
local RULES = {
  { "TEMPORAL", 0.7, function(q)
      if any_word(q, { "when", "recently", "lately", "yesterday", "today" }) then return true end
      for _, p in ipairs(PERIODS) do
        if find(q, "%f[%w]last%s+" .. p .. "%f[%W]") then return true end
      end
      return false
    end },
  { "TEMPORAL", 0.8, function(q)
      for _, u in ipairs(UNITS) do
        if find(q, "how%s+many%s+" .. u .. "%f[%W]") or find(q, "how%s+long%s+" .. u .. "%f[%W]") then return true end
      end
      return find(q, "%f[%w]how%s+long%f[%W]") ~= nil
    end },
  { "TEMPORAL", 0.4, function(q) return any_word(q, { "before", "after", "since", "until", "during" }) end },
  { "TEMPORAL", 0.2, function(q) return find(q, "%f[%d][12]%d%d%d%f[%D]") ~= nil end },
  { "TEMPORAL", 0.3, function(q) return any_word(q, { "earlier", "later", "latest", "oldest", "newest", "first", "last" }) end },
  { "RELATIONAL", 0.8, function(q)
      return any_word(q, { "relate", "related", "relation", "relationship", "connected", "connection" })
        or find(q, "linked%s+to") ~= nil
    end },
  { "RELATIONAL", 0.5, function(q) return find(q, "%f[%w]between%s+.+%s+and%s+") ~= nil end },
  { "COMPARATIVE", 0.9, function(q) return any_word(q, { "vs", "versus" }) or find(q, "%f[%w]vs%.") ~= nil end },
  { "COMPARATIVE", 0.8, function(q) return any_word(q, { "compare", "compared", "comparison" }) end },
  { "COMPARATIVE", 0.7, function(q) return find(q, "difference%s+between") ~= nil or find(q, "%f[%w]differ") ~= nil end },
  { "COMPARATIVE", 0.6, function(q)
      for _, w in ipairs({ "better", "worse", "more", "less", "greater", "smaller" }) do
        if find(q, "%f[%w]" .. w .. "%s+than%f[%W]") then return true end
      end
      return false
    end },
  { "PROCEDURAL", 0.8, function(q)
      return find(q, "how%s+to%f[%W]") ~= nil or find(q, "how%s+do%s+i%f[%W]") ~= nil
        or find(q, "how%s+can%s+i%f[%W]") ~= nil or find(q, "how%s+should%s+i%f[%W]") ~= nil
    end },
  { "PROCEDURAL", 0.5, function(q) return any_word(q, { "steps", "procedure", "process", "workflow", "tutorial", "guide" }) end },
  { "PROCEDURAL", 0.4, function(q)
      return any_word(q, { "configure", "install", "setup", "enable", "disable" }) or find(q, "set%s+up") ~= nil
    end },
  { "FACTUAL", 0.6, function(q)
      return find(q, "^%s*what%f[%W]") ~= nil or find(q, "^%s*who%f[%W]") ~= nil or find(q, "^%s*where%f[%W]") ~= nil
        or find(q, "^%s*which%f[%W]") ~= nil or find(q, "^%s*how%s+many%f[%W]") ~= nil or find(q, "^%s*how%s+much%f[%W]") ~= nil
    end },
  { "FACTUAL", 0.2, function(q) return find(q, "%f[%w]is%s+the%f[%W]") ~= nil or find(q, "%f[%w]are%s+the%f[%W]") ~= nil end },
  { "EXPLORATORY", 0.8, function(q)
      return find(q, "tell%s+me%s+about") ~= nil or find(q, "what%s+about") ~= nil or find(q, "anything%s+about") ~= nil
    end },
  { "EXPLORATORY", 0.5, function(q) return any_word(q, { "summary", "overview", "describe", "explain" }) end },
}

-- Classifies a query → intent name, confidence in [0,1]. The last query's
-- answer is remembered: one recall asks for it once per bank, and the
-- recall cache once more (the rules cost tens of microseconds).
local last_query, last_intent, last_conf
local classify
function _M.classify(query)
  if query ~= last_query then
    last_intent, last_conf = classify(query)
    last_query = query
  end
  return last_intent, last_conf
end

function classify(query)
  local q = lower(query)
  local score, count = {}, {}
  for _, r in ipairs(RULES) do
    if r[3](q) then
      score[r[1]] = (score[r[1]] or 0) + r[2]
      count[r[1]] = (count[r[1]] or 0) + 1
    end
  end
  local names = {}
  for name in pairs(score) do names[#names + 1] = name end
  if #names == 0 then return "UNKNOWN", 0 end
  sort(names, function(a, b)
    if score[a] ~= score[b] then return score[a] > score[b] end
    if count[a] ~= count[b] then return count[a] > count[b] end
    return a > b
  end)
  local best = names[1]
  local conf = score[best] > 1 and 1 or score[best]
  if conf < _M.CONFIDENCE_THRESHOLD then return "UNKNOWN", conf end
  return best, conf
end

-- Strategy weights for a query: intent weights (the WEIGHTS row of its
-- intent, with the strategies a config's per-intent table `by_intent[intent]`
-- names replaced), each multiplied by the configured base weight of that
-- strategy (default 1).
function _M.weights(query, base, by_intent)
  local intent, conf = _M.classify(query)
  local w = _M.WEIGHTS[intent]
  local over = by_intent and by_intent[intent]
  local out = {}
  for k, v in pairs(w) do
    if type(over) == "table" and type(over[k]) == "number" then v = over[k] end
    out[k] = v * ((base and base[k]) or 1.0)
  end
  -- Channels the intent table has no row for (associative) keep their base weight.
  for k, v in pairs(base or {}) do
    if out[k] == nil then out[k] = (type(over) == "table" and type(over[k]) == "number" and over[k] or 1.0) * v end
  end
  return out, intent, conf
end

return _M
