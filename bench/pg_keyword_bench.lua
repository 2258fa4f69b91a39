-- bench/pg_keyword_bench.lua: the postgres store's search_fulltext with the
-- exact statement (fulltext_candidates = 0: ts_rank_cd over every row that
-- shares a term with the query, the statement before issue #18) beside the
-- bounded one (fulltext_candidates = budget, default 200: rank at most that
-- many rows, rarest query terms first; providers/postgres/keyword.lua), on
-- the same bank in the same run, the two alternating query by query.
-- The bank is filled through store_vectors with bench/words.lua notes (the
-- notes of bench/pg); limit 50 = what eng:recall asks the keyword channel
-- for at max_results 10 (semantic_overfetch 5).
-- Prints per size: mean and p50/p99 ms of each statement and their ratio,
-- overlap@50 of the bounded top 50 with the exact top 50, and known-item
-- recall@10 of both: a note found in the top 10 by three of its own words.
-- Usage: bench/pg_keyword [--sizes 10000,100000] [--queries 200] [--known 200] [--budget 200]
local core = require "astrocyte.core"
local pgs = require "support.pg_server"
local pg = require "astrocyte.providers.postgres"
package.path = (os.getenv("ASTRO_SOURCE_DIR") or ".") .. "/bench/?.lua;" .. package.path
local words = require "words"

local args = { sizes = { 10000 }, queries = 200, known = 200, budget = 200 }
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  if a == "--sizes" then
    args.sizes = {}
    for n in (v or ""):gmatch("%d+") do args.sizes[#args.sizes + 1] = tonumber(n) end
  elseif a == "--queries" or a == "--known" or a == "--budget" then args[a:sub(3)] = tonumber(v)
  else io.stderr:write("pg_keyword_bench: unknown argument " .. a .. "\n"); os.exit(2)
  end
  i = i + 2
end
assert(#args.sizes > 0 and args.queries and args.known and args.budget and args.budget >= 1,
  "--sizes, --queries, --known and --budget (>= 1) take numbers")
table.sort(args.sizes)

local LIMIT, BANK = 50, "kw"
local function percentile(sorted, p) return sorted[math.max(1, math.min(#sorted, math.ceil(p * #sorted)))] end

local srv, err = pgs.start({ timeout_s = 300 })
if not srv then io.stderr:write("pg_keyword_bench: cannot start PGlite: " .. tostring(err) .. "\n"); os.exit(1) end
local store = assert(pg.vector_stores({ dsn = srv.dsn, pool_size = 1, schema = "kwbench_" .. os.time(), dimensions = 4 }))

local gen, texts = words.new(12345), {}
local function fill(target)
  while #texts < target do
    local items = {}
    while #texts < target and #items < 1000 do
      local n = #texts + 1
      texts[n] = "Note " .. n .. ": " .. gen:note() .. "."
      items[#items + 1] = { id = "m" .. n, bank_id = BANK, vector = { 1, n % 7, n % 11, n % 13 }, text = texts[n],
                            tags = { "t" .. (n % 10) } }
    end
    assert(store:store_vectors(items))
  end
end

-- search_fulltext with the given budget: the ids best first, and ms.
local function search(budget, q, lim)
  store.ctx.conf.fulltext_candidates = budget
  local t0 = core.time()
  local hits = assert(store:search_fulltext(q, BANK, lim))
  local ms = (core.time() - t0) * 1000
  local ids = {}
  for k, h in ipairs(hits) do ids[k] = h.id end
  return ids, ms
end

print(string.format("postgres keyword channel on PGlite (%s): exact (rank every match) vs bounded (budget %d), limit %d",
  _VERSION .. (jit and (" / " .. jit.version) or ""), args.budget, LIMIT))
print(string.format("%9s | %9s %9s %9s | %9s %9s %9s | %6s | %10s | %9s %9s", "memories", "exact ms", "p50", "p99",
  "bounded", "p50", "p99", "ratio", "overlap@50", "known ex", "known bd"))
local ok, perr = pcall(function()
  for _, size in ipairs(args.sizes) do
    fill(size)
    local qgen, lat = words.new(999), { exact = {}, bounded = {} }
    local sum = { exact = 0, bounded = 0 }
    local shared, total = 0, 0
    for q = 1, args.queries do
      local query = qgen:phrase(3)
      -- alternate which statement goes first, so drift in machine load hits both
      local order = q % 2 == 0 and { 0, args.budget } or { args.budget, 0 }
      local got = {}
      for _, budget in ipairs(order) do
        local ids, ms = search(budget, query, LIMIT)
        local name = budget == 0 and "exact" or "bounded"
        got[name] = ids
        lat[name][#lat[name] + 1] = ms
        sum[name] = sum[name] + ms
      end
      local set = {}
      for _, id in ipairs(got.bounded) do set[id] = true end
      for _, id in ipairs(got.exact) do total = total + 1; if set[id] then shared = shared + 1 end end
    end
    local kgen, found = words.new(4242), { exact = 0, bounded = 0 }
    for _ = 1, args.known do
      local n = 1 + math.floor(kgen:rand() * size)
      local w = {}
      for x in texts[n]:gsub("^Note %d+: ", ""):gsub("%.$", ""):gmatch("%S+") do w[#w + 1] = x end
      local pick = {}
      for k = 1, 3 do pick[k] = w[1 + math.floor(kgen:rand() * #w)] end
      for _, budget in ipairs({ 0, args.budget }) do
        for _, id in ipairs((search(budget, table.concat(pick, " "), 10))) do
          if id == "m" .. n then
            local name = budget == 0 and "exact" or "bounded"
            found[name] = found[name] + 1
          end
        end
      end
    end
    table.sort(lat.exact); table.sort(lat.bounded)
    local me, mb = sum.exact / args.queries, sum.bounded / args.queries
    print(string.format("%9d | %9.2f %9.2f %9.2f | %9.2f %9.2f %9.2f | %6.2f | %10.3f | %9.3f %9.3f", size, me,
      percentile(lat.exact, 0.5), percentile(lat.exact, 0.99), mb, percentile(lat.bounded, 0.5),
      percentile(lat.bounded, 0.99), me / mb, total > 0 and shared / total or 1, found.exact / args.known,
      found.bounded / args.known))
    io.stdout:flush()
  end
end)
store.ctx.pool:query("DROP SCHEMA " .. store.S .. " CASCADE", nil, { prepare = false })
store:close()
srv:stop()
if not ok then io.stderr:write("pg_keyword_bench: " .. tostring(perr) .. "\n"); os.exit(1) end
print(string.format("queries: %d three-word phrases of the notes' vocabulary (bench/words.lua), both statements each.",
  args.queries))
print("ratio: exact mean / bounded mean. overlap@50: share of the exact top 50 that the bounded top 50 also holds")
print("(the exact order is 0.1 per occurrence of any query term, so common words decide it).")
print(string.format("known: %d notes each searched by three of its own words (limit 10); share found.", args.known))
