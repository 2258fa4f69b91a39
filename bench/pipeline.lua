-- bench/pipeline.lua: end-to-end speed of the embedded default (SQLite store,
-- hashing embedder, C indexes) through the public engine API — retain
-- throughput (each call durable: one transaction, synchronous=FULL) and
-- recall latency p50/p99 at growing bank sizes — with anchors measured in
-- the same run on the same texts: raw SQLite INSERTs with the same
-- durability (one transaction per row), and SQLite FTS5 MATCH queries.
-- Usage: bench/pipeline [--sizes 10000,100000] [--queries 300] [--json]
local astrocyte = require "astrocyte"
local core = require "astrocyte.core"
local sqlite = require "astrocyte.sqlite"
local util = require "astrocyte.util"

local args = { sizes = { 10000, 100000 }, queries = 300, json = false }
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--sizes" then
    args.sizes = {}
    for n in arg[i + 1]:gmatch("%d+") do args.sizes[#args.sizes + 1] = tonumber(n) end
    i = i + 1
  elseif a == "--queries" then args.queries = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--json" then args.json = true
  elseif a == "--quick" then args.sizes = { 10000 }; args.queries = 200
  end
  i = i + 1
end

-- Deterministic text generator: Zipf-ish vocabulary, 12-30 words per note.
local seed = 12345
local function rand()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
end
local VOCAB = {}
for w = 1, 20000 do
  local s, n = {}, w
  repeat s[#s + 1] = string.char(97 + n % 26); n = math.floor(n / 26) until n == 0
  VOCAB[w] = table.concat(s) .. (w % 7 == 0 and "ing" or "")
end
local function word()
  return VOCAB[math.floor(20000 ^ rand())]     -- log-uniform rank ≈ Zipf s=1
end
local function note(n)
  local parts = {}
  for k = 1, 12 + math.floor(rand() * 18) do parts[k] = word() end
  return "Note " .. n .. ": " .. table.concat(parts, " ") .. "."
end
local function query()
  return word() .. " " .. word() .. " " .. word()
end

local function now() return core.time() end
local function pct(list, p)
  table.sort(list)
  return list[math.max(1, math.ceil(#list * p))]
end

local dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir)
local eng = assert(astrocyte.open({ vector_store_config = { path = dir .. "/bench.db" },
  signal_quality = { dedup = { enabled = false } } }))

-- Anchor database: same durability, one transaction per insert; FTS5 index.
local adb = assert(sqlite.open(dir .. "/anchor.db"))
assert(adb:exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"))
assert(adb:exec("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); CREATE VIRTUAL TABLE fts USING fts5(text);"))
local ins = assert(adb:prepare("INSERT INTO notes(text) VALUES (?)"))
local fins = assert(adb:prepare("INSERT INTO fts(text) VALUES (?)"))
local fq = assert(adb:prepare("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT 10"))

local results, done = {}, 0
for _, size in ipairs(args.sizes) do
  local texts = {}
  for n = done + 1, size do texts[#texts + 1] = note(n) end
  -- ours: retain through the engine
  local t0 = now()
  for _, t in ipairs(texts) do assert(eng:retain(t, { bank_id = "bench" })) end
  local ours_retain = #texts / (now() - t0)
  -- anchor: raw durable inserts of the same texts (+ FTS5 rows, untimed)
  t0 = now()
  for _, t in ipairs(texts) do
    assert(adb:exec("BEGIN")); ins:reset(); ins:bind(1, t); ins:step(); assert(adb:exec("COMMIT"))
  end
  local anchor_retain = #texts / (now() - t0)
  assert(adb:exec("BEGIN"))
  for _, t in ipairs(texts) do fins:reset(); fins:bind(1, t); fins:step() end
  assert(adb:exec("COMMIT"))
  done = size

  local qs = {}
  for q = 1, args.queries do qs[q] = query() end
  local lat, alat = {}, {}
  for q = 1, #qs do
    local s = now()
    assert(eng:recall(qs[q], { bank_id = "bench", max_results = 10 }))
    lat[q] = (now() - s) * 1000
    s = now()
    fq:reset(); fq:bind(1, (qs[q]:gsub(" ", " OR ")))
    while fq:step() do end
    alat[q] = (now() - s) * 1000
  end
  results[#results + 1] = {
    memories = size, retain_per_s = ours_retain, anchor_insert_per_s = anchor_retain,
    recall_p50_ms = pct(lat, 0.5), recall_p99_ms = pct(lat, 0.99),
    fts5_p50_ms = pct(alat, 0.5), fts5_p99_ms = pct(alat, 0.99),
    index_bytes = eng.providers.vector_store:index_bytes(),
  }
end
eng:close(); adb:close()
os.execute("rm -rf " .. dir)

if args.json then
  print(util.encode({ results = results }))
else
  print(("%-9s %12s %14s %8s %10s %10s %10s %10s"):format("memories", "retain/s", "sqlite ins/s", "ratio",
    "recall p50", "recall p99", "fts5 p50", "fts5 p99"))
  for _, r in ipairs(results) do
    print(("%-9d %12.0f %14.0f %8.2f %8.2fms %8.2fms %8.2fms %8.2fms"):format(r.memories, r.retain_per_s,
      r.anchor_insert_per_s, r.retain_per_s / r.anchor_insert_per_s, r.recall_p50_ms, r.recall_p99_ms,
      r.fts5_p50_ms, r.fts5_p99_ms))
  end
  print("recall = full pipeline (embed query, vector + BM25 + graph channels, RRF, rerank); fts5 = keyword only")
end
