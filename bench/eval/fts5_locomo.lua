-- bench/eval/fts5_locomo.lua: the plain full-text anchor for
-- `astrocyte eval locomo --ablation`: SQLite FTS5 over the same turns (one
-- row per dialogue turn, "Speaker: text"), each question's words OR-ed and
-- ranked by bm25(), scored exactly like the harness (evidence recall@5/10/20
-- per category over categories 1-4). No stemming, no stopwords: the stock
-- unicode61 tokenizer, or porter with --porter.
-- Usage: bench/eval/fts5 FILE.json [--porter]
local locomo = require "astrocyte.eval.locomo"
local sqlite = require "astrocyte.sqlite"
local fmt = string.format

local path, porter = nil, false
for _, a in ipairs(arg) do
  if a == "--porter" then porter = true else path = a end
end
if not path then io.stderr:write("usage: fts5_locomo.lua FILE.json [--porter]\n"); os.exit(2) end
local data = assert(locomo.load(path))

local db = assert(sqlite.open(":memory:"))
assert(db:exec("CREATE VIRTUAL TABLE t USING fts5(text, sample UNINDEXED, dia UNINDEXED" ..
  (porter and ", tokenize = 'porter unicode61'" or "") .. ")"))
local ins = assert(db:prepare("INSERT INTO t(text, sample, dia) VALUES (?, ?, ?)"))
local q = assert(db:prepare("SELECT dia FROM t WHERE t MATCH ? AND sample = ? ORDER BY bm25(t) LIMIT 20"))

local accs, overall = {}, { n = 0, r = { 0, 0, 0 } }
local function add(acc, rk)
  acc.n = acc.n + 1
  for i = 1, 3 do acc.r[i] = acc.r[i] + rk[i] end
end

assert(db:exec("BEGIN"))
for si, s in ipairs(data) do
  for _, sess in ipairs(locomo.sessions(s.conversation)) do
    for _, t in ipairs(sess.turns) do
      if type(t) == "table" and type(t.text) == "string" and t.dia_id then
        ins:reset()
        ins:bind_values(tostring(t.speaker or "?") .. ": " .. t.text, si, t.dia_id)
        ins:step()
      end
    end
  end
end
assert(db:exec("COMMIT"))

for si, s in ipairs(data) do
  for _, qa in ipairs(s.qa) do
    local cat = tonumber(qa.category)
    if cat and locomo.CATEGORIES[cat] and type(qa.question) == "string" and qa.answer ~= nil then
      local ev = {}
      for _, e in ipairs(type(qa.evidence) == "table" and qa.evidence or { tostring(qa.evidence or "") }) do
        for id in tostring(e):gmatch("D%d+:%d+") do ev[#ev + 1] = id end
      end
      if #ev > 0 then
        local words = {}
        for w in qa.question:lower():gmatch("[%w]+") do words[#words + 1] = '"' .. w .. '"' end
        local hits = {}
        if #words > 0 then
          q:reset()
          q:bind_values(table.concat(words, " OR "), si)
          while q:step() do hits[#hits + 1] = q:row()[1] end
        end
        local rk = {}
        for ki, k in ipairs(locomo.KS) do
          local covered = 0
          for _, id in ipairs(ev) do
            for h = 1, math.min(k, #hits) do
              if hits[h] == id then covered = covered + 1; break end
            end
          end
          rk[ki] = covered / #ev
        end
        accs[cat] = accs[cat] or { n = 0, r = { 0, 0, 0 } }
        add(accs[cat], rk)
        add(overall, rk)
      end
    end
  end
end

local function row(name, a)
  return fmt("%-20s | %6.3f %6.3f %6.3f", name, a.r[1] / a.n, a.r[2] / a.n, a.r[3] / a.n)
end
print(fmt("FTS5 bm25 (%s), question words OR-ed, %d questions with evidence", porter and "porter" or "unicode61", overall.n))
print(fmt("%-20s | %6s %6s %6s", "", "R@5", "R@10", "R@20"))
print(row("all", overall))
for c = 1, 4 do if accs[c] then print(row(fmt("%d %s", c, locomo.CATEGORIES[c]), accs[c])) end end
