-- astrocyte.eval.locomo: evaluation on LoCoMo-format data (snap-research
-- locomo10.json layout: a JSON list of samples {sample_id, conversation =
-- {speaker_a, speaker_b, session_N = [{speaker, dia_id, text}],
-- session_N_date_time = "1:56 pm on 8 May, 2023"}, qa = [{question, answer,
-- evidence = ["D1:3", ...], category}]}).
--
-- Ingest: one bank per sample (<bank_prefix><sample_id>), content_type
-- "conversation" (dialogue chunking keeps turns whole), occurred_at = the
-- session date, metadata {session_id, sample_id}. Granularity "turn" (the
-- default) retains each turn ("Speaker: text") as its own memory with
-- metadata.dia_id, so a hit is one turn (or a piece of a long one);
-- "session" retains each session as one dialogue text that the chunker
-- splits into multi-turn chunks (easier: one hit can cover several turns).
-- Scoring, for every question of categories 1-4:
--   * evidence recall@k (k = 5, 10, 20): recall with max_results 20; an
--     evidence dia_id is covered by a hit carrying that dia_id (turn mode),
--     or by a hit of its own session whose text contains that turn
--     ("Speaker: text", whitespace-normalized; a turn too long for one
--     chunk counts when its first 100 characters are there; session mode).
--     Per question: covered / evidence; averaged over questions that have
--     evidence.
--   * answer token-F1 of reflect's answer vs the gold answer: lowercase,
--     commas and punctuation removed, articles (a, an, the) and "and"
--     dropped, multiset token overlap (no stemming). Category rules from the
--     reference judge: 1 (multi-hop) = gold split on commas, mean over gold
--     parts of the best F1 against the answer's comma parts; 3 (open-domain)
--     = first ';' alternative of the gold; 2 and 4 plain.
-- Record ids are drawn from a fixed random seed during a run (and the
-- generator reseeded afterwards), so equal data gives equal figures.
-- The engine knows no dataset: the harness maps LoCoMo onto the public API
-- (content_type, occurred_at, metadata {session_id, sample_id, dia_id,
-- speakers}), and EXTRACTION_PROFILES are LoCoMo's extraction profiles for
-- a config's extraction_profiles (entities from the speakers metadata).
local util = require "astrocyte.util"
local errors = require "astrocyte.errors"
local fmt, concat, floor, lower = string.format, table.concat, math.floor, string.lower

local _M = {}

_M.CATEGORIES = { [1] = "multi-hop", [2] = "temporal", [3] = "open-domain", [4] = "single-hop" }
_M.KS = { 5, 10, 20 }

-- The reference's LoCoMo extraction profiles, as config data.
_M.EXTRACTION_PROFILES = {
  locomo_conversation = { content_type = "conversation", chunking_strategy = "dialogue",
                          entity_extraction = "metadata", fact_type = "experience" },
  locomo_persona = { content_type = "document", chunking_strategy = "paragraph",
                     entity_extraction = "metadata", fact_type = "wiki" },
}

local MONTHS = { january = 1, february = 2, march = 3, april = 4, may = 5, june = 6, july = 7, august = 8,
  september = 9, october = 10, november = 11, december = 12 }

-- "1:56 pm on 8 May, 2023" → "2023-05-08T13:56:00Z" (nil when unparsable).
function _M.parse_date(s)
  if type(s) ~= "string" then return nil end
  local h, mi, ap, d, mon, y = s:match("(%d+):(%d+)%s*([aApP][mM])%s+on%s+(%d+)%s+(%a+),?%s+(%d%d%d%d)")
  if not h then return nil end
  local m = MONTHS[lower(mon)]
  if not m then return nil end
  h = tonumber(h) % 12
  if lower(ap) == "pm" then h = h + 12 end
  return fmt("%04d-%02d-%02dT%02d:%02d:00Z", tonumber(y), m, tonumber(d), h, tonumber(mi))
end

-- Reads a LoCoMo JSON file: a list of samples (or one sample object).
function _M.load(path)
  local f, oerr = io.open(path, "rb")
  if not f then return nil, errors.validation(fmt("cannot read '%s': %s", path, tostring(oerr)), { field = "path" }) end
  local text = f:read("*a")
  f:close()
  local data, jerr = util.json.decode(text)
  if type(data) ~= "table" then
    return nil, errors.validation(fmt("%s: not JSON (%s)", path, tostring(jerr)), { field = "path" })
  end
  if data.conversation then data = { data } end
  for i, s in ipairs(data) do
    if type(s) ~= "table" or type(s.conversation) ~= "table" or type(s.qa) ~= "table" then
      return nil, errors.validation(fmt("%s: sample %d has no 'conversation' or 'qa'", path, i), { field = "path" })
    end
  end
  return data
end

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- Sessions of a conversation in order: {n, id, date, turns}.
function _M.sessions(conv)
  local list = {}
  for k, v in pairs(conv) do
    local n = type(k) == "string" and k:match("^session_(%d+)$")
    if n and type(v) == "table" then
      list[#list + 1] = { n = tonumber(n), id = k, turns = v, date = _M.parse_date(conv[k .. "_date_time"]) }
    end
  end
  table.sort(list, function(a, b) return a.n < b.n end)
  return list
end

-- Evidence ids of a qa item (a list, or the zip layout's stringified list).
local function evidence_of(q)
  local out, seen = {}, {}
  local ev = q.evidence
  local items = type(ev) == "table" and ev or { tostring(ev or "") }
  for _, e in ipairs(items) do
    for id in tostring(e):gmatch("D%d+:%d+") do
      if not seen[id] then seen[id] = true; out[#out + 1] = id end
    end
  end
  return out
end

-- Answer normalization and token F1 (see header).
local ARTICLES = { a = true, an = true, the = true, ["and"] = true }
function _M.tokens(s)
  s = lower(tostring(s or "")):gsub(",", ""):gsub("[%p]", " ")
  local out = {}
  for w in s:gmatch("%S+") do if not ARTICLES[w] then out[#out + 1] = w end end
  return out
end

function _M.f1(pred, gold)
  local p, g = _M.tokens(pred), _M.tokens(gold)
  if #p == 0 and #g == 0 then return 1 end
  if #p == 0 or #g == 0 then return 0 end
  local counts, common = {}, 0
  for _, w in ipairs(g) do counts[w] = (counts[w] or 0) + 1 end
  for _, w in ipairs(p) do
    if (counts[w] or 0) > 0 then counts[w] = counts[w] - 1; common = common + 1 end
  end
  if common == 0 then return 0 end
  local prec, rec = common / #p, common / #g
  return 2 * prec * rec / (prec + rec)
end

local function split(s, sep)
  local out = {}
  for part in (s .. sep):gmatch("(.-)" .. sep) do
    if part:find("%S") then out[#out + 1] = part end
  end
  if #out == 0 then out[1] = s end
  return out
end

-- Category-aware F1 of an answer against the gold answer.
function _M.score_answer(pred, gold, category)
  gold = tostring(gold or "")
  pred = tostring(pred or "")
  if category == 3 then gold = split(gold, ";")[1] end
  if category == 1 then
    local gparts, pparts, sum = split(gold, ","), split(pred, ","), 0
    for _, gp in ipairs(gparts) do
      local best = 0
      for _, pp in ipairs(pparts) do
        local f = _M.f1(pp, gp)
        if f > best then best = f end
      end
      sum = sum + best
    end
    return sum / #gparts
  end
  return _M.f1(pred, gold)
end

local function bank_of(prefix, sample, i)
  local id = tostring(sample.sample_id or i):gsub("[^%w%._:@%-]", "-")
  return prefix .. id
end

-- Retains one sample; returns {bank, turns = {dia_id → {session, text}}, ref_date, sessions, nturns}.
local function ingest(eng, sample, bank, granularity)
  local conv = sample.conversation
  local speakers = concat({ conv.speaker_a or "", conv.speaker_b or "" }, ",")
  local turns, nturns, last_date = {}, 0, nil
  local ok, err = eng:forget({ bank_id = bank, scope = "all", reason = "eval reset" })
  if not ok then return nil, err end
  local sessions = _M.sessions(conv)
  for _, s in ipairs(sessions) do
    local lines = {}
    for _, t in ipairs(s.turns) do
      if type(t) == "table" and type(t.text) == "string" and t.text:find("%S") then
        local line = squash(tostring(t.speaker or "?") .. ": " .. t.text)
        lines[#lines + 1] = line
        if t.dia_id then turns[t.dia_id] = { session = s.id, text = line, dia_id = t.dia_id } end
        nturns = nturns + 1
        if granularity == "turn" then
          local res; res, err = eng:retain(line, { bank_id = bank, content_type = "conversation", occurred_at = s.date,
            metadata = { session_id = s.id, sample_id = tostring(sample.sample_id or bank), dia_id = t.dia_id,
            speakers = speakers } })
          if not res then return nil, err end
        end
      end
    end
    if #lines > 0 and granularity ~= "turn" then
      local res; res, err = eng:retain(concat(lines, "\n"), { bank_id = bank, content_type = "conversation",
        occurred_at = s.date, metadata = { session_id = s.id, sample_id = tostring(sample.sample_id or bank),
        speakers = speakers } })
      if not res then return nil, err end
    end
    if s.date and (not last_date or s.date > last_date) then last_date = s.date end
  end
  return { bank = bank, turns = turns, ref_date = last_date, sessions = #sessions, nturns = nturns }
end

-- Whether hit h covers turn tv ({session, text}).
local function covers(h, tv)
  if not (h.metadata and h.metadata.session_id == tv.session) then return false end
  if h.metadata.dia_id ~= nil then return h.metadata.dia_id == tv.dia_id end
  local text = squash(h.text or "")
  if text:find(tv.text, 1, true) then return true end
  return #tv.text > 100 and text:find(tv.text:sub(1, 100), 1, true) ~= nil
end

local function new_acc() return { count = 0, with_evidence = 0, r = { 0, 0, 0 }, f1 = 0 } end

local function add(acc, rk, f1)
  acc.count = acc.count + 1
  acc.f1 = acc.f1 + f1
  if rk then
    acc.with_evidence = acc.with_evidence + 1
    for i = 1, #_M.KS do acc.r[i] = acc.r[i] + rk[i] end
  end
end

local function round(x) return floor(x * 10000 + 0.5) / 10000 end

local function summary(acc, name)
  local ev = acc.with_evidence
  return { name = name, count = acc.count, with_evidence = ev,
           recall_at_5 = ev > 0 and round(acc.r[1] / ev) or 0, recall_at_10 = ev > 0 and round(acc.r[2] / ev) or 0,
           recall_at_20 = ev > 0 and round(acc.r[3] / ev) or 0, f1 = acc.count > 0 and round(acc.f1 / acc.count) or 0 }
end

-- Evidence recall at each of KS for hits against evidence turns ev.
local function recall_at_ks(hits, ev)
  local rk = {}
  for ki, k in ipairs(_M.KS) do
    local covered = 0
    for _, tv in ipairs(ev) do
      for hi = 1, math.min(k, #hits) do
        if covers(hits[hi], tv) then covered = covered + 1; break end
      end
    end
    rk[ki] = covered / #ev
  end
  return rk
end

local function median(list)
  if #list == 0 then return 0 end
  table.sort(list)
  return list[math.max(1, math.ceil(#list * 0.5))]
end

-- Channels that only refine what others found (expansion feeds on the first
-- channels' hits): no "X only" row, it would always be empty.
local DEPENDENT = { expansion = true }

-- The ablation variants for the channel weights w (name → weight): fusion,
-- each channel with a weight > 0 alone, fusion minus each of them.
local function variants_of(w)
  local names = {}
  for name, v in pairs(w) do if v > 0 then names[#names + 1] = name end end
  table.sort(names)
  local out = { { name = "fused", weights = util.copy(w) } }
  for _, n in ipairs(names) do
    if not DEPENDENT[n] then
      local only = {}
      for k in pairs(w) do only[k] = 0 end
      only[n] = w[n]
      out[#out + 1] = { name = n .. " only", weights = only, channel = n }
    end
  end
  for _, n in ipairs(names) do
    local minus = util.copy(w)
    minus[n] = 0
    out[#out + 1] = { name = "fused - " .. n, weights = minus }
  end
  return out
end

-- Runs the evaluation on engine eng. opts: {bank_prefix = "locomo-",
-- granularity = "turn"|"session", seed = 1, details = false, ablation =
-- false}. With ablation, every question is recalled once per variant
-- (fusion, each channel alone, fusion minus each channel; the engine's
-- pipeline.weights are swapped between calls, so the engine must be the
-- harness's own) and reflect is skipped; report.ablation lists the variants
-- with their recall per category and the p50 latency (the channel's own
-- strategy time for "X only", the whole recall otherwise). Returns the
-- report or nil, err.
function _M.run(eng, data, opts)
  opts = opts or {}
  local prefix = opts.bank_prefix or "locomo-"
  local granularity = opts.granularity or "turn"
  if granularity ~= "turn" and granularity ~= "session" then
    return nil, errors.validation(fmt("granularity must be 'turn' or 'session', got '%s'", tostring(granularity)), { field = "granularity" })
  end
  local pcfg = eng.cfg and eng.cfg.pipeline
  local variants
  if opts.ablation then
    if not (pcfg and type(pcfg.weights) == "table") then
      return nil, errors.validation("ablation needs an engine with a pipeline (pipeline.weights)", { field = "ablation" })
    end
    variants = variants_of(pcfg.weights)
    for _, v in ipairs(variants) do v.accs, v.overall, v.lat = {}, new_acc(), {} end
  end
  util.new_id()                          -- make util seed itself first, then fix the sequence
  math.randomseed(opts.seed or 1)
  local accs, overall, details = {}, new_acc(), {}
  local nsessions, nturns = 0, 0
  local base_weights = pcfg and pcfg.weights
  local ok, res, err = pcall(function()
    for i, sample in ipairs(data) do
      local ing, ierr = ingest(eng, sample, bank_of(prefix, sample, i), granularity)
      if not ing then return nil, ierr end
      nsessions, nturns = nsessions + ing.sessions, nturns + ing.nturns
      for _, q in ipairs(sample.qa) do
        local cat = tonumber(q.category)
        if cat then cat = floor(cat) end
        if cat and _M.CATEGORIES[cat] and type(q.question) == "string" and q.answer ~= nil then
          local ev = {}
          for _, id in ipairs(evidence_of(q)) do if ing.turns[id] then ev[#ev + 1] = ing.turns[id] end end
          local ropts = { bank_id = ing.bank, max_results = 20, query_reference_date = ing.ref_date }
          if variants then
            for _, v in ipairs(variants) do
              pcfg.weights = v.weights
              pcfg._bank_cache = nil
              local rec, rerr = eng:recall(q.question, ropts)
              pcfg.weights = base_weights
              if not rec then return nil, rerr end
              local tm = rec.trace and rec.trace.strategy_timings_ms
              local ms = v.channel and tm and tm[v.channel] or (rec.trace and rec.trace.latency_ms)
              if ms then v.lat[#v.lat + 1] = ms end
              local rk = #ev > 0 and recall_at_ks(rec.hits, ev) or nil
              v.accs[cat] = v.accs[cat] or new_acc()
              add(v.accs[cat], rk, 0)
              add(v.overall, rk, 0)
            end
          else
            local rec, rerr = eng:recall(q.question, ropts)
            if not rec then return nil, rerr end
            local rk = #ev > 0 and recall_at_ks(rec.hits, ev) or nil
            local ans; ans, rerr = eng:reflect(q.question, { bank_id = ing.bank, query_reference_date = ing.ref_date })
            if not ans then return nil, rerr end
            local f1 = _M.score_answer(ans.answer, q.answer, cat)
            accs[cat] = accs[cat] or new_acc()
            add(accs[cat], rk, f1)
            add(overall, rk, f1)
            if opts.details then
              details[#details + 1] = { sample_id = sample.sample_id, category = cat, question = q.question,
                gold = tostring(q.answer), answer = ans.answer, f1 = round(f1),
                recall_at_5 = rk and round(rk[1]), recall_at_10 = rk and round(rk[2]), recall_at_20 = rk and round(rk[3]) }
            end
          end
        end
      end
    end
    return true
  end)
  if pcfg then pcfg.weights = base_weights end
  math.randomseed(os.time() + floor(os.clock() * 1e6))
  if not ok then return nil, errors.wrap("InternalError", res) end
  if not res then return nil, err end
  local function cats_of(a)
    local cats = {}
    for c = 1, 4 do
      if a[c] then cats[tostring(c)] = summary(a[c], _M.CATEGORIES[c]) end
    end
    return cats
  end
  local report = { samples = #data, sessions = nsessions, turns = nturns, granularity = granularity,
                   max_results = 20, ks = _M.KS, details = opts.details and details or nil }
  if variants then
    local rows = {}
    for i, v in ipairs(variants) do
      rows[i] = { name = v.name, weights = v.weights, categories = cats_of(v.accs), overall = summary(v.overall, "overall"),
                  p50_ms = round(median(v.lat)) }
    end
    report.ablation = rows
    report.questions = variants[1].overall.count
    report.categories, report.overall = rows[1].categories, rows[1].overall
  else
    report.questions = overall.count
    report.categories, report.overall = cats_of(accs), summary(overall, "overall")
  end
  return report
end

-- The ablation rows as a text table: R@5/10/20 overall and per category,
-- and the p50 latency.
function _M.format_ablation(r)
  local out = { fmt("LoCoMo ablation: %d samples, %d turns, %d questions (categories 1-4), %s granularity\n\n",
                    r.samples, r.turns, r.questions, r.granularity) }
  local head = { fmt("%-20s", "variant") }
  local groups = { "all" }
  for c = 1, 4 do groups[#groups + 1] = tostring(c) end
  for _, g in ipairs(groups) do
    local label = g == "all" and "all" or ("c" .. g)
    head[#head + 1] = fmt(" | %-5s@5 %6s %6s", label, "@10", "@20")
  end
  head[#head + 1] = fmt(" | %8s\n", "p50 ms")
  out[#out + 1] = concat(head)
  for _, row in ipairs(r.ablation) do
    local line = { fmt("%-20s", row.name) }
    for _, g in ipairs(groups) do
      local s = g == "all" and row.overall or row.categories[g]
      if s then line[#line + 1] = fmt(" | %8.3f %6.3f %6.3f", s.recall_at_5, s.recall_at_10, s.recall_at_20)
      else line[#line + 1] = fmt(" | %8s %6s %6s", "-", "-", "-") end
    end
    line[#line + 1] = fmt(" | %8.2f\n", row.p50_ms)
    out[#out + 1] = concat(line)
  end
  out[#out + 1] = "categories: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop\n"
  return concat(out)
end

-- The report as a text table.
function _M.format_table(r)
  local out = { fmt("LoCoMo evaluation: %d samples, %d sessions, %d turns, %d questions (categories 1-4), %s granularity\n\n",
                    r.samples, r.sessions, r.turns, r.questions, r.granularity),
                fmt("%-4s %-12s %5s %8s %8s %8s %8s\n", "cat", "name", "n", "R@5", "R@10", "R@20", "F1") }
  local function row(key, s)
    out[#out + 1] = fmt("%-4s %-12s %5d %8.3f %8.3f %8.3f %8.3f\n", key, s.name, s.count,
                        s.recall_at_5, s.recall_at_10, s.recall_at_20, s.f1)
  end
  for c = 1, 4 do
    local s = r.categories[tostring(c)]
    if s then row(tostring(c), s) end
  end
  row("all", r.overall)
  return concat(out)
end

return _M
