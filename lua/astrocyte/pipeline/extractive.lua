-- astrocyte.reflect: reflect without an LLM — extractive and deterministic.
-- The answer is made of the sentences of the recalled memories that best
-- match the query (term overlap in the shared tokenizer, weighted by the
-- memory's recall score), in score order, with the memories they came from as
-- sources. No hits gives the reference's fixed answer.
local core = require "astrocyte.core"
local ipairs, sort, concat = ipairs, table.sort, table.concat

local _M = {}

_M.NO_MEMORIES = "I don't have any relevant memories to answer this question."

-- Splits text into sentences (after . ! ? followed by whitespace, and at
-- line breaks), trimmed, empty ones dropped.
function _M.sentences(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local start = 1
    while true do
      local s, e = line:find("[%.!%?]+[\"')%]]*%s+", start)
      local piece = s and line:sub(start, e) or line:sub(start)
      piece = piece:gsub("^%s+", ""):gsub("%s+$", "")
      if piece ~= "" then out[#out + 1] = piece end
      if not s then break end
      start = e + 1
    end
  end
  return out
end

-- Builds the ReflectResult for `query` from recall hits.
-- opts: { max_sentences = 3 }.
function _M.extractive(query, hits, opts)
  if #hits == 0 then return { answer = _M.NO_MEMORIES, sources = {}, confidence = 0 } end
  local max_sentences = opts and opts.max_sentences or 3
  -- Query terms weigh 1, names (capitalized words) 2: "what does Mira work
  -- on?" is about Mira before it is about work.
  local qterms, nq = {}, 0
  for _, t in ipairs(core.tokenize(query)) do
    if not qterms[t] then qterms[t] = 1; nq = nq + 1 end
  end
  for word in query:gmatch("%u[%w]*") do
    for _, t in ipairs(core.tokenize(word)) do
      if qterms[t] == 1 then qterms[t] = 2; nq = nq + 1 end
    end
  end
  local cands, seen = {}, {}
  for hi, h in ipairs(hits) do
    for si, s in ipairs(_M.sentences(h.text)) do
      if not seen[s] then
        seen[s] = true
        local matched, sterms = 0, {}
        for _, t in ipairs(core.tokenize(s)) do
          if qterms[t] and not sterms[t] then sterms[t] = true; matched = matched + qterms[t] end
        end
        local overlap = nq > 0 and matched / nq or 0
        cands[#cands + 1] = {
          text = s, hit = hi, pos = si, matched = matched,
          score = overlap * 0.7 + (h.score or 0) * 0.3,
        }
      end
    end
  end
  sort(cands, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    if a.hit ~= b.hit then return a.hit < b.hit end
    return a.pos < b.pos
  end)
  local picked = {}
  for _, c in ipairs(cands) do
    if #picked >= max_sentences then break end
    if c.matched > 0 or #picked == 0 then picked[#picked + 1] = c end
  end
  local parts, sources, used, conf = {}, {}, {}, 0
  for i, c in ipairs(picked) do
    parts[i] = c.text
    conf = conf + c.score
    if not used[c.hit] then
      used[c.hit] = true
      sources[#sources + 1] = hits[c.hit]
    end
  end
  return { answer = concat(parts, " "), sources = sources, confidence = conf / #picked }
end

return _M
