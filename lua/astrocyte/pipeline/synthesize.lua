-- astrocyte.pipeline.synthesize: reflect with an LLM, in the reference's
-- structure — a system prompt chosen by variant (default, temporal_aware,
-- evidence_strict, evidence_inference, grounded_synthesis) plus one sentence
-- per strong disposition, and a user message of <reference_date>,
-- <memories> (one "[Memory i] (fact_type) [date]: text" line each) and
-- <query>. Without hits the reference's fixed answer is returned and the
-- LLM is not called.
local intent = require "astrocyte.pipeline.intent"
local reflect = require "astrocyte.pipeline.extractive"
local concat, fmt, ipairs, type, lower = table.concat, string.format, ipairs, type, string.lower

local _M = {}

_M.NOT_FOUND = "This information is not available in my memories."

local BASE = "You answer questions using only the memories provided. Cite nothing that is not in them. " ..
  "If the memories do not contain the answer, say: \"" .. _M.NOT_FOUND .. "\""

_M.PROMPTS = {
  default = BASE .. " Answer concisely and directly.",
  temporal_aware = BASE .. " Pay close attention to dates: resolve relative times (\"last week\", \"yesterday\") " ..
    "against each memory's date and the reference date, and state dates explicitly in the answer.",
  evidence_strict = BASE .. " Only state what a memory says explicitly; do not infer or generalize.",
  evidence_inference = BASE .. " When the question asks about likelihood, preference or intention, reason " ..
    "from the evidence in the memories to the most probable answer and say briefly why.",
  grounded_synthesis = BASE .. " Combine facts from several memories into one coherent answer, " ..
    "and keep every claim grounded in at least one memory.",
}

-- One sentence per disposition that is strong (>= 4) or weak (<= 2).
local DISPOSITION_TEXT = {
  skepticism = { high = "Be skeptical: question claims that are weakly supported.",
                 low = "Take the memories at face value." },
  literalism = { high = "Interpret the question literally and precisely.",
                 low = "Interpret the question flexibly, reading intent over wording." },
  empathy = { high = "Answer warmly and with empathy for the person asking.",
              low = "Answer in a neutral, factual tone." },
}

-- Picks the prompt variant for a query (explicit > temporal intent > inference words > default).
function _M.variant(query, explicit)
  if explicit and _M.PROMPTS[explicit] then return explicit end
  if intent.classify(query) == "TEMPORAL" then return "temporal_aware" end
  local q = lower(query)
  for _, w in ipairs({ "would", "likely", "probably", "considered", "interested in", "prefer", "leaning", "pursue" }) do
    if q:find(w, 1, true) then return "evidence_inference" end
  end
  return "default"
end

-- The system prompt for a variant and dispositions {skepticism, literalism, empathy}.
function _M.system_prompt(variant, dispositions)
  local parts = { _M.PROMPTS[variant] or _M.PROMPTS.default }
  for _, k in ipairs({ "skepticism", "literalism", "empathy" }) do
    local v = dispositions and dispositions[k]
    if type(v) == "number" then
      if v >= 4 then parts[#parts + 1] = DISPOSITION_TEXT[k].high
      elseif v <= 2 then parts[#parts + 1] = DISPOSITION_TEXT[k].low end
    end
  end
  return concat(parts, " ")
end

-- The user message: reference date, memories, query.
function _M.user_message(query, hits, ref_iso)
  local lines = {}
  for i, h in ipairs(hits) do
    local date = h.occurred_at or (h.metadata and (h.metadata.date_time or h.metadata.session_date))
    lines[i] = fmt("[Memory %d] (%s)%s: %s", i, h.fact_type or "world", date and (" [" .. date .. "]") or "", h.text)
  end
  local out = {}
  if ref_iso then out[#out + 1] = "<reference_date>\n" .. ref_iso .. "\n</reference_date>\n" end
  out[#out + 1] = "<memories>\n" .. concat(lines, "\n") .. "\n</memories>\n\n<query>\n" .. query .. "\n</query>"
  return concat(out, "\n")
end

-- Answers `query` from hits. llm may be nil (extractive). opts: {variant,
-- dispositions, max_tokens, ref_iso, max_sentences}. Returns ReflectResult;
-- an LLM failure degrades to the extractive answer (degraded = true).
function _M.run(query, hits, llm, opts)
  opts = opts or {}
  if #hits == 0 then return { answer = reflect.NO_MEMORIES, sources = {}, confidence = 0 } end
  if not llm or type(llm.complete) ~= "function" then
    return reflect.extractive(query, hits, { max_sentences = opts.max_sentences })
  end
  local variant = _M.variant(query, opts.variant)
  local messages = {
    { role = "system", content = _M.system_prompt(variant, opts.dispositions) },
    { role = "user", content = _M.user_message(query, hits, opts.ref_iso) },
  }
  local ok, res, err = pcall(llm.complete, llm, messages, nil, opts.max_tokens or 2048, 0.1)
  if not ok or type(res) ~= "table" or type(res.text) ~= "string" then
    local r = reflect.extractive(query, hits, { max_sentences = opts.max_sentences })
    r.degraded = true
    r.degraded_reason = tostring(ok and (err or "no completion") or res)
    return r
  end
  return { answer = res.text, sources = hits, prompt_variant = variant,
           usage = res.usage, model = res.model }
end

return _M
