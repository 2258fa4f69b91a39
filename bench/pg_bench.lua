-- bench/pg_bench.lua: retain throughput and recall latency of the postgres
-- provider beside the embedded default, in the same run, through the public
-- engine API (hashing embedder, 384 dims; retain = one durable call per
-- memory; recall = semantic + keyword channels fused). Postgres is PGlite
-- (Postgres compiled to WASM, with pgvector, single connection, served by
-- node over the wire protocol on 127.0.0.1) started by this script; when
-- ASTRO_PG_DSN is set, that server is measured too.
--
-- At each size, every backend is first filled to (size - retains) memories
-- by a bulk load through the store SPI (vector_store:store_vectors in
-- batches, vectors from the engine's embedder, items shaped like the
-- engine's retains) — the fill is timed and printed, not measured as
-- retain throughput. Then `retains` memories go through eng:retain (the
-- full engine path: chunking, entities, embedding, near-duplicate search,
-- store_vectors, graph), which brings the bank to exactly `size` and gives
-- retain/s; then `queries` recalls through eng:recall give p50/p99.
-- Usage: bench/pg [--quick] [--sizes 10000,100000] [--queries 200]
--                 [--retains 500] [--batch 1000] [--index hnsw|ivfflat|none]
local astrocyte = require "astrocyte"
local core = require "astrocyte.core"
local util = require "astrocyte.util"
local pgs = require "support.pg_server"

local args = { sizes = { 10000, 100000 }, queries = 200, index = "hnsw", retains = 500, batch = 1000 }
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--sizes" then
    args.sizes = {}
    for n in arg[i + 1]:gmatch("%d+") do args.sizes[#args.sizes + 1] = tonumber(n) end
    i = i + 1
  elseif a == "--queries" then args.queries = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--retains" then args.retains = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--batch" then args.batch = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--index" then args.index = arg[i + 1]; i = i + 1
  elseif a == "--quick" then args.sizes = { 10000 }
  else io.stderr:write("pg_bench: unknown argument " .. a .. "\n"); os.exit(2)
  end
  i = i + 1
end
table.sort(args.sizes)
assert(args.retains and args.retains >= 1, "--retains must be >= 1")
assert(args.batch and args.batch >= 1, "--batch must be >= 1")

-- Deterministic notes and queries (bench/words.lua: Zipf-ish vocabulary,
-- 12-30 words; the same sequence on Lua 5.4 and LuaJIT). Each backend has
-- its own note generator, so every backend gets the same notes.
package.path = (os.getenv("ASTRO_SOURCE_DIR") or ".") .. "/bench/?.lua;" .. package.path
local words = require "words"
local gen -- the note generator in use
local function note(n) return "Note " .. n .. ": " .. gen:note() .. "." end

local function now() return core.time() end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local k = math.max(1, math.min(#sorted, math.ceil(p * #sorted)))
  return sorted[k]
end

local BANK = "bench"
local function tags_of(n) return { "t" .. (n % 10) } end

-- Bulk fill of backend b up to `target` memories, through the store SPI:
-- the engine's embedder (embed_packed) and vector_store:store_vectors, in
-- batches of args.batch, items shaped like the engine's retains (a note is
-- one chunk, so the chunk text is the note). Returns seconds spent.
local function fill(b, target)
  local emb, vs = b.eng.providers.embedder, b.eng.providers.vector_store
  local t0, batches = now(), 0
  while b.count < target do
    local texts, nums = {}, {}
    while b.count < target and #texts < args.batch do
      b.count = b.count + 1
      nums[#nums + 1] = b.count
      texts[#texts + 1] = note(b.count)
    end
    local vecs = emb.embed_packed and emb:embed_packed(texts)
    if not vecs then
      vecs = assert(emb:embed(texts), "embed failed on " .. b.name)
      for k = 1, #vecs do if type(vecs[k]) ~= "string" then vecs[k] = core.vec_pack(vecs[k]) end end
    end
    assert(#vecs == #texts, "embedder returned a wrong number of vectors on " .. b.name)
    local at = util.iso(util.now_ms())
    local items = {}
    for k, text in ipairs(texts) do
      items[k] = { id = util.new_id(), bank_id = BANK, vector = vecs[k], text = text,
                   metadata = { _created_at = at }, tags = tags_of(nums[k]), fact_type = "world",
                   retained_at = at }
    end
    local ids, err = vs:store_vectors(items)
    assert(ids and #ids == #items, "bulk store_vectors failed on " .. b.name .. ": " .. tostring(err))
    if not b.probe then b.probe = { id = items[1].id, text = items[1].text } end
    batches = batches + 1
    if batches % 10 == 0 then
      io.stderr:write(string.format("pg_bench: filling %s: %d/%d (%.0fs)\n", b.name, b.count, target, now() - t0))
    end
  end
  return now() - t0
end

-- Backends: name → open() returning an engine.
local backends = {}
local tmp = pgs.tmpdir()
backends[#backends + 1] = { name = "embedded (sqlite)", open = function()
  return assert(astrocyte.open(nil, { db = tmp .. "/bench.db" }))
end }

local srv, err = pgs.start({ data = tmp .. "/pgdata" })
if not srv then io.stderr:write("pg_bench: cannot start PGlite: " .. tostring(err) .. "\n"); os.exit(1) end
local function pg_backend(name, dsn, pool_size)
  return { name = name, open = function()
    return assert(astrocyte.open({ vector_store = "postgres", vector_store_config = {
      dsn = dsn, pool_size = pool_size, schema = "bench_" .. os.time(), vector_index = args.index } }))
  end }
end
backends[#backends + 1] = pg_backend("postgres (pglite)", srv.dsn, 1)
local native = os.getenv("ASTRO_PG_DSN")
if native and native ~= "" then backends[#backends + 1] = pg_backend("postgres (native)", native, 4) end

print(string.format("retain and recall through the engine API (%s, hashing embedder 384 dims, vector index %s)",
  _VERSION .. (jit and (" / " .. jit.version) or ""), args.index))
print(string.format("per size: bulk fill to size-%d via store_vectors (batches of %d), then %d retains via eng:retain, then %d recalls via eng:recall",
  args.retains, args.batch, args.retains, args.queries))
print(string.format("%-20s %9s %9s %11s %12s %14s %14s", "backend", "memories", "fill s", "fill rows/s",
  "retain/s", "recall p50 ms", "recall p99 ms"))
io.stdout:flush()
local results, channels = {}, {}
local ok, perr = pcall(function()
  for _, b in ipairs(backends) do
    b.eng = b.open()
    b.count = 0
    b.gen = words.new(12345)
  end
  for _, size in ipairs(args.sizes) do
    for _, b in ipairs(backends) do
      gen = b.gen
      -- (1) bulk fill (not measured as retain throughput).
      local n_fill = math.max(0, size - args.retains - b.count)
      local fill_s = fill(b, math.max(b.count, size - args.retains))
      -- The bulk rows are visible to the engine: a filled note recalls itself.
      if b.probe and not b.probed then
        local pr = assert(b.eng:recall(b.probe.text, { bank_id = BANK, max_results = 5 }), "probe recall failed on " .. b.name)
        assert(pr.hits and pr.hits[1] and pr.hits[1].memory_id == b.probe.id, "bulk-filled memory not recalled on " .. b.name)
        b.probed = true
      end
      -- (2) measured retains through the full engine path.
      local t0, n0 = now(), b.count
      while b.count < size do
        b.count = b.count + 1
        local r, rerr = b.eng:retain(note(b.count), { bank_id = BANK, tags = tags_of(b.count) })
        assert(r and r.stored, "retain failed on " .. b.name .. ": "
          .. tostring(r and (r.error or r.retention_action) or (type(rerr) == "table" and rerr.message or rerr)))
      end
      local rate = (b.count - n0) / (now() - t0)
      -- (3) recall latency.
      local qgen = words.new(999)
      local lat, used = {}, {}
      for q = 1, args.queries do
        local query = qgen:phrase(3)
        local q0 = now()
        local res = b.eng:recall(query, { bank_id = BANK, max_results = 10 })
        lat[q] = (now() - q0) * 1000
        assert(res, "recall failed on " .. b.name)
        local tr = res.trace or {}
        assert(not tr.degraded and not (tr.strategies_failed and tr.strategies_failed[1]),
          "recall degraded on " .. b.name)
        for _, s in ipairs(tr.strategies_used or {}) do used[s] = (used[s] or 0) + 1 end
      end
      table.sort(lat)
      local r = { backend = b.name, size = size, rate = rate, p50 = percentile(lat, 0.5), p99 = percentile(lat, 0.99),
                  fill_s = fill_s, n_fill = n_fill }
      results[#results + 1] = r
      local names = {}
      for s, c in pairs(used) do names[#names + 1] = s .. " " .. c end
      table.sort(names)
      channels[#channels + 1] = string.format("%s at %d: %s", b.name, size, table.concat(names, ", "))
      if used.graph then b.graph_used = true end
      print(string.format("%-20s %9d %9.1f %11s %12.0f %14.2f %14.2f", r.backend, r.size, fill_s,
        n_fill > 0 and string.format("%.0f", n_fill / fill_s) or "-", r.rate, r.p50, r.p99))
      io.stdout:flush()
    end
  end
end)
for _, b in ipairs(backends) do if b.eng then b.eng:close() end end
srv:stop()
pgs.rmdir(tmp)
if not ok then io.stderr:write("pg_bench: " .. tostring(perr) .. "\n"); os.exit(1) end

print(string.format("fill: bulk vector_store:store_vectors(items) in batches of %d (embedder embed_packed, one", args.batch))
print("transaction per batch; no near-duplicate check, no graph writes); not part of retain/s.")
print(string.format("retain/s: %d memories per size, each one eng:retain call through the full engine path", args.retains))
print("(chunking, entity extraction, embedding, near-duplicate search, one durable store_vectors")
print("transaction, graph transaction), growing the bank from size-" .. args.retains .. " to size.")
print(string.format("recall: %d eng:recall queries (3 lowercase vocabulary words) per size, measured at size.", args.queries))
print("recall channels used (queries answering per channel):")
for _, c in ipairs(channels) do print("  " .. c) end
local graph_used = false
for _, b in ipairs(backends) do graph_used = graph_used or b.graph_used end
if graph_used then
  print("graph: WARNING the graph channel answered some queries; the graph store holds only the")
  print("measured retains' rows (bulk rows have no entities), so those recalls saw a smaller graph.")
else
  print("graph: the bulk rows are not in the graph store (only the measured retains wrote entities);")
  print("the graph channel never ran (the queries name no entities), so recall is unaffected; a")
  print("retain's graph write (entity upsert + memory link, indexed) grows only logarithmically with")
  print("the graph's rows, so retain/s with a fuller graph would be within noise.")
end
print("note: postgres (pglite) is PGlite, Postgres compiled to WASM, with pgvector, serving one")
print("connection from node on 127.0.0.1 (every statement crosses the wire protocol and the WASM")
print("boundary); a native server is expected to be faster.")
