-- bench/pg_bench.lua: retain throughput and recall latency of the postgres
-- provider beside the embedded default, in the same run, through the public
-- engine API (hashing embedder, 384 dims; retain = one durable call per
-- memory; recall = semantic + keyword channels fused). Postgres is PGlite
-- (Postgres compiled to WASM, with pgvector, single connection, served by
-- node over the wire protocol on 127.0.0.1) started by this script; when
-- ASTRO_PG_DSN is set, that server is measured too.
-- Usage: bench/pg [--quick] [--sizes 10000,100000] [--queries 200]
--                 [--index hnsw|ivfflat|none]
local astrocyte = require "astrocyte"
local core = require "astrocyte.core"
local pgs = require "support.pg_server"

local args = { sizes = { 10000, 100000 }, queries = 200, index = "hnsw" }
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--sizes" then
    args.sizes = {}
    for n in arg[i + 1]:gmatch("%d+") do args.sizes[#args.sizes + 1] = tonumber(n) end
    i = i + 1
  elseif a == "--queries" then args.queries = tonumber(arg[i + 1]); i = i + 1
  elseif a == "--index" then args.index = arg[i + 1]; i = i + 1
  elseif a == "--quick" then args.sizes = { 10000 }
  else io.stderr:write("pg_bench: unknown argument " .. a .. "\n"); os.exit(2)
  end
  i = i + 1
end

-- Deterministic notes and queries (Zipf-ish vocabulary, 12-30 words).
local seed
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
local function word() return VOCAB[math.floor(20000 ^ rand())] end
local function note(n)
  local parts = {}
  for k = 1, 12 + math.floor(rand() * 18) do parts[k] = word() end
  return "Note " .. n .. ": " .. table.concat(parts, " ") .. "."
end

local function now() return core.time() end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local k = math.max(1, math.min(#sorted, math.ceil(p * #sorted)))
  return sorted[k]
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

print(string.format("retain and recall through the engine API (%s, hashing embedder 384 dims, %d recalls per size, vector index %s)",
  _VERSION .. (jit and (" / " .. jit.version) or ""), args.queries, args.index))
print(string.format("%-20s %9s %14s %15s %15s", "backend", "memories", "retain/s", "recall p50 ms", "recall p99 ms"))
io.stdout:flush()
local results = {}
local ok, perr = pcall(function()
  for _, b in ipairs(backends) do
    b.eng = b.open()
    b.count = 0
    seed = 12345
    b.seed = seed
  end
  for _, size in ipairs(args.sizes) do
    for _, b in ipairs(backends) do
      seed = b.seed
      local t0, n0 = now(), b.count
      while b.count < size do
        b.count = b.count + 1
        local r = b.eng:retain(note(b.count), { bank_id = "bench", tags = { "t" .. (b.count % 10) } })
        assert(r and r.stored, "retain failed on " .. b.name)
      end
      b.seed = seed
      local rate = (b.count - n0) / (now() - t0)
      seed = 999
      local lat = {}
      for q = 1, args.queries do
        local query = word() .. " " .. word() .. " " .. word()
        local q0 = now()
        assert(b.eng:recall(query, { bank_id = "bench", max_results = 10 }), "recall failed on " .. b.name)
        lat[q] = (now() - q0) * 1000
      end
      table.sort(lat)
      local r = { backend = b.name, size = size, rate = rate, p50 = percentile(lat, 0.5), p99 = percentile(lat, 0.99) }
      results[#results + 1] = r
      print(string.format("%-20s %9d %14.0f %15.2f %15.2f", r.backend, r.size, r.rate, r.p50, r.p99))
      io.stdout:flush()
    end
  end
end)
for _, b in ipairs(backends) do if b.eng then b.eng:close() end end
srv:stop()
pgs.rmdir(tmp)
if not ok then io.stderr:write("pg_bench: " .. tostring(perr) .. "\n"); os.exit(1) end

print("note: postgres (pglite) is PGlite, Postgres compiled to WASM, with pgvector, serving one")
print("connection from node on 127.0.0.1 (every statement crosses the wire protocol and the WASM")
print("boundary); a native server is expected to be faster. retain/s is the growth to each size,")
print("one durable retain call (one transaction) per memory.")
