-- bench/pipeline.lua: end-to-end speed of the embedded default (SQLite store,
-- hashing embedder, C indexes) through the public engine API, at growing
-- bank sizes, with anchors measured in the same run on the same texts:
--   retain/s     one eng:retain per note, each durable (one transaction,
--                synchronous=FULL), timed on the last --sample notes of a size;
--                anchor: raw SQLite INSERTs of the same notes, one transaction each
--   batch/s      eng:retain_many, --batch notes per call (one transaction), for
--                the rest of the notes; anchor: raw INSERTs, --batch per transaction
--   recall       eng:recall p50/p99 on the reopened bank (after 50 warm-up
--                queries), and its mean CPU time (os.clock: what a query
--                costs when the machine is shared); anchor: FTS5 MATCH, the
--                same queries in a loop of its own after the same warm-up
--   open         seconds to reopen the engine on the file (index snapshots),
--                and the process's resident memory after it
--   workers      (--workers 1,2) recall throughput of N processes on one file,
--                each its own engine (as N OpenResty workers)
-- Usage: bench/pipeline [--sizes 10000,100000,1000000] [--queries 300]
--        [--sample 1000] [--batch 5000] [--workers 1,2] [--json] [--quick]
--        bench/pipeline --db FILE --workers 1,2: only the workers, on an
--        existing bench file (bank "bench") of an earlier run
local astrocyte = require "astrocyte"
local core = require "astrocyte.core"
local sqlite = require "astrocyte.sqlite"
local util = require "astrocyte.util"

local args = { sizes = { 10000, 100000, 1000000 }, queries = 300, sample = 1000, batch = 5000, workers = {},
               json = false }
local function numbers(s)
  local out = {}
  for n in s:gmatch("%d+") do out[#out + 1] = tonumber(n) end
  return out
end
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--sizes" then args.sizes = numbers(arg[i + 1]); i = i + 1
  elseif a == "--queries" then args.queries = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--sample" then args.sample = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--batch" then args.batch = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--workers" then args.workers = numbers(arg[i + 1]); i = i + 1
  elseif a == "--worker" then args.worker = arg[i + 1]; i = i + 1   -- internal: one recall worker
  elseif a == "--db" then args.db = arg[i + 1]; i = i + 1
  elseif a == "--json" then args.json = true
  elseif a == "--quick" then args.sizes = { 10000 }; args.queries = 200
  elseif a == "--help" or a == "-h" then
    for line in io.lines(arg[0]) do
      if not line:match("^%-%-") then break end
      io.stdout:write(line:sub(4), "\n")
    end
    os.exit(0)
  else
    io.stderr:write("bench/pipeline: unknown argument '", a, "' (--help lists them)\n")
    os.exit(2)
  end
  i = i + 1
end

-- Deterministic text (bench/words.lua: Zipf-ish vocabulary, 12-30 words per
-- note; the same sequence on Lua 5.4 and LuaJIT).
package.path = (arg[0]:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
local gen = require("words").new(12345)
local function note(n) return "Note " .. n .. ": " .. gen:note() .. "." end
local function query() return gen:phrase(3) end

local WARMUP = 50
local function now() return core.time() end
local function pct(list, p)
  table.sort(list)
  return list[math.max(1, math.ceil(#list * p))]
end
local function rss_bytes()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("*a")
  f:close()
  return (tonumber(s:match("VmRSS:%s*(%d+)")) or 0) * 1024
end
local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
local function open_engine(path)
  return assert(astrocyte.open({ vector_store_config = { path = path },
    signal_quality = { dedup = { enabled = false } } }))
end

-- One recall worker (a child process of --workers): opens the bank, says
-- ready, waits for go, runs its queries; prints "<queries> <start> <end>".
if args.worker then
  local dir, id = args.worker:match("^(.*):(%d+)$")
  for _ = 1, tonumber(id) * 7919 do gen:rand() end    -- each worker its own queries
  local eng = open_engine(args.db or dir .. "/bench.db")
  local qs = {}
  for q = 1, args.queries do qs[q] = query() end
  io.open(dir .. "/ready." .. id, "w"):close()
  while not exists(dir .. "/go") do sqlite.sleep_ms(2) end
  local t0, c0 = now(), os.clock()
  for q = 1, #qs do assert(eng:recall(qs[q], { bank_id = "bench", max_results = 10 })) end
  print(#qs, t0, now(), os.clock() - c0)
  eng:close()
  os.exit(0)
end

local dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir)
if args.db then args.sizes = {} end
local db_path = dir .. "/bench.db"
local eng = not args.db and open_engine(db_path) or nil

-- Anchor database: same durability; FTS5 index.
local adb = assert(sqlite.open(dir .. "/anchor.db"))
assert(adb:exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"))
assert(adb:exec("CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT); CREATE VIRTUAL TABLE fts USING fts5(text);"))
local ins = assert(adb:prepare("INSERT INTO notes(text) VALUES (?)"))
local fins = assert(adb:prepare("INSERT INTO fts(text) VALUES (?)"))
local fq = assert(adb:prepare("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT 10"))

local function anchor_insert(texts, from, to)
  assert(adb:exec("BEGIN"))
  for k = from, to do ins:reset(); ins:bind(1, texts[k]); ins:step() end
  assert(adb:exec("COMMIT"))
end

-- Rows are printed as each size finishes (a 1M run takes a long while).
local function header()
  print(("%-9s %12s %14s %8s %10s %13s %6s %10s %10s %10s %10s %7s %8s %9s"):format("memories", "retain/s",
    "sqlite ins/s", "ratio", "batch/s", "sqlite bat/s", "ratio", "recall p50", "recall p99", "fts5 p50", "fts5 p99",
    "open s", "rss MB", "recall cpu"))
end
local function row(r)
  local bat, abat = r.batch_per_s or 0, r.anchor_batch_per_s or 0
  print(("%-9d %12.0f %14.0f %8.2f %10.0f %13.0f %6.2f %8.2fms %8.2fms %8.2fms %8.2fms %7.2f %8.0f %7.2fms"):format(
    r.memories, r.retain_per_s, r.anchor_insert_per_s, r.retain_per_s / r.anchor_insert_per_s, bat, abat,
    abat > 0 and bat / abat or 0, r.recall_p50_ms, r.recall_p99_ms, r.fts5_p50_ms, r.fts5_p99_ms,
    r.open_s, r.rss_bytes / 1048576, r.recall_cpu_ms))
  io.stdout:flush()
end
if not args.json then header() end

local results, done = {}, 0
for _, size in ipairs(args.sizes) do
  local texts = {}
  for n = done + 1, size do texts[#texts + 1] = note(n) end
  local nsample = math.min(args.sample, #texts)
  local nbulk = #texts - nsample
  -- bulk: retain_many, --batch per call; anchor: --batch per transaction
  local ours_batch, anchor_batch
  if nbulk > 0 then
    local t0 = now()
    for s = 1, nbulk, args.batch do
      local part = {}
      for k = s, math.min(nbulk, s + args.batch - 1) do part[#part + 1] = texts[k] end
      assert(eng:retain_many(part, { bank_id = "bench" }))
    end
    ours_batch = nbulk / (now() - t0)
    t0 = now()
    for s = 1, nbulk, args.batch do anchor_insert(texts, s, math.min(nbulk, s + args.batch - 1)) end
    anchor_batch = nbulk / (now() - t0)
  end
  -- sample: one durable retain per note; anchor: one transaction per insert
  local t0 = now()
  for k = nbulk + 1, #texts do assert(eng:retain(texts[k], { bank_id = "bench" })) end
  local ours_retain = nsample / (now() - t0)
  t0 = now()
  for k = nbulk + 1, #texts do anchor_insert(texts, k, k) end
  local anchor_retain = nsample / (now() - t0)
  assert(adb:exec("BEGIN"))
  for _, t in ipairs(texts) do fins:reset(); fins:bind(1, t); fins:step() end
  assert(adb:exec("COMMIT"))
  done = size

  -- reopen: what a restart costs at this size. The notes are the bench's
  -- input, not the engine's state: dropped first, so that recall is not
  -- timed with the collector marking up to a million bench strings.
  texts = nil
  eng:close()
  collectgarbage()
  t0 = now()
  eng = open_engine(db_path)
  local open_s = now() - t0
  local rss = rss_bytes()

  -- Each side answers the queries in its own loop, after the same warm-up
  -- (WARMUP other queries: the first reads after an open fault the file's
  -- pages in), as a server answers a stream of recalls. Interleaved, each of
  -- our recalls ran in the caches FTS5's 20-800 ms scans had just swept
  -- (recall CPU at 100k: 3.1 ms interleaved, 1.8-2.0 ms in its own loop).
  local qs, warm = {}, {}
  for q = 1, args.queries do qs[q] = query() end
  for q = 1, WARMUP do warm[q] = query() end
  local function fts5(q)
    fq:reset(); fq:bind(1, (q:gsub(" ", " OR ")))
    while fq:step() do end
  end
  for _, q in ipairs(warm) do assert(eng:recall(q, { bank_id = "bench", max_results = 10 })) end
  local lat, alat, cpu = {}, {}, 0
  for q = 1, #qs do
    local s, c = now(), os.clock()
    assert(eng:recall(qs[q], { bank_id = "bench", max_results = 10 }))
    lat[q] = (now() - s) * 1000
    cpu = cpu + (os.clock() - c)
  end
  for _, q in ipairs(warm) do fts5(q) end
  for q = 1, #qs do
    local s = now()
    fts5(qs[q])
    alat[q] = (now() - s) * 1000
  end
  results[#results + 1] = {
    memories = size, retain_per_s = ours_retain, anchor_insert_per_s = anchor_retain,
    batch_per_s = ours_batch, anchor_batch_per_s = anchor_batch,
    recall_p50_ms = pct(lat, 0.5), recall_p99_ms = pct(lat, 0.99), recall_cpu_ms = cpu / #qs * 1000,
    fts5_p50_ms = pct(alat, 0.5), fts5_p99_ms = pct(alat, 0.99),
    open_s = open_s, rss_bytes = rss, index_bytes = eng.providers.vector_store:index_bytes(),
  }
  if not args.json then row(results[#results]) end
end
if eng then eng:close() end
adb:close()

-- Recall throughput of N worker processes on the last bank.
local scaling = {}
local interp = arg[-1] or "lua5.4"
for _, n in ipairs(args.workers) do
  os.remove(dir .. "/go")
  local pipes = {}
  for w = 1, n do
    os.remove(dir .. "/ready." .. w)
    pipes[w] = assert(io.popen(("%s %s --worker %s:%d --queries %d%s"):format(interp, arg[0], dir, w, args.queries,
      args.db and (" --db " .. args.db) or "")))
  end
  local ready = 0
  while ready < n do
    ready = 0
    for w = 1, n do if exists(dir .. "/ready." .. w) then ready = ready + 1 end end
    sqlite.sleep_ms(10)
  end
  io.open(dir .. "/go", "w"):close()
  local total, first, last, cpu = 0, math.huge, 0, 0
  for w = 1, n do
    local q, s, e, c = pipes[w]:read("*a"):match("(%d+)%s+(%S+)%s+(%S+)%s+(%S+)")
    pipes[w]:close()
    total, first, last = total + tonumber(q), math.min(first, tonumber(s)), math.max(last, tonumber(e))
    cpu = cpu + tonumber(c)
  end
  scaling[#scaling + 1] = { workers = n, recall_qps = total / (last - first), cpu_ms = cpu / total * 1000 }
end
os.execute("rm -rf " .. dir)

if args.json then
  print(util.encode({ results = results, workers = scaling }))
else
  print("recall = full pipeline (embed query, vector + BM25 + graph channels, RRF, rerank); fts5 = keyword only")
  print(("retain/s on the last %d notes of each size, batch/s on the rest (%d per call)"):format(args.sample,
    args.batch))
  for _, s in ipairs(scaling) do
    print(("recall with %d worker process(es) on one file: %.0f queries/s (%.2fx one), %.2f ms CPU per query"):format(
      s.workers, s.recall_qps, s.recall_qps / scaling[1].recall_qps, s.cpu_ms))
  end
end
