-- bench/serve_bench.lua: throughput and tail latency of the REST gateway
-- (`astrocyte serve`, nginx + the Lua module) for POST /v1/recall on a bank
-- of N memories (10,000), against a bare `return 200` location in the same
-- nginx in the same run (the anchor: what nginx does with no Lua and no
-- engine), plus GET /live (the gateway's Lua path: routing, JSON reply,
-- metrics; no engine) to tell the gateway's cost from the engine's. wrk
-- drives all three with the same threads, connections and
-- duration. Prints rps and p99 of each and the ratio recall/bare (the
-- headline: every recall computed). Then the same recall run against a
-- second gateway on the same bank with recall_cache on (the 200 queries
-- repeat, so after the first round nearly all are served from each
-- worker's cache), printed as its own row with its own ratio.
-- Usage: bench/serve [--memories N] [--duration S] [--connections C]
--                    [--workers W] [--threads T] [--json]
local astrocyte = require "astrocyte"
local util = require "astrocyte.util"

local args = { memories = 10000, duration = 10, connections = 64, workers = 2, threads = 2, json = false }
local i = 1
while i <= #arg do
  local a, v = arg[i], arg[i + 1]
  local key = a:match("^%-%-(%a+)$")
  if key == "json" then args.json = true
  elseif key and args[key] ~= nil and tonumber(v) then args[key] = tonumber(v); i = i + 1
  else io.stderr:write("serve_bench: unknown argument ", a, "\n"); os.exit(1) end
  i = i + 1
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end
local function write(path, s)
  local f = assert(io.open(path, "wb")); f:write(s); f:close()
end
local function log(...) io.stderr:write("serve_bench: ", string.format(...), "\n") end

assert(sh("command -v wrk"):find("wrk"), "wrk is not installed (scripts/setup --bench)")
local root = os.getenv("ASTRO_SOURCE_DIR") or "."
local dir = sh("mktemp -d /tmp/astrocyte-serve-bench.XXXXXX"):gsub("%s+$", "")

-- Deterministic notes (bench/words.lua).
package.path = root .. "/bench/?.lua;" .. package.path
local gen = require("words").new(12345)
local function words(k) return gen:phrase(k) end

-- 1. the bank, written through the engine into the file the gateway serves
local db = dir .. "/astrocyte.db"
local eng = assert(astrocyte.open(nil, { db = db }))
local t0 = os.time()
local batch = {}
local function flush()
  if #batch == 0 then return end
  if eng.retain_many then
    assert(eng:retain_many(batch, { bank_id = "bench" }))
  else
    for _, it in ipairs(batch) do assert(eng:retain(it.content, { bank_id = "bench" })) end
  end
  batch = {}
end
for n = 1, args.memories do
  batch[#batch + 1] = { content = ("note %d: %s"):format(n, gen:note()) }
  if #batch == 500 then flush() end
end
flush()
eng:close()
log("%d memories written in %d s", args.memories, os.time() - t0)

-- 2. the wrk script: POST /v1/recall with 200 different queries in turn
local bodies = {}
for n = 1, 200 do bodies[n] = util.encode({ query = words(3 + n % 4), bank_id = "bench", max_results = 10 }) end
write(dir .. "/recall.lua", "wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n"
  .. "local bodies = {" .. table.concat((function()
    local t = {}
    for n, b in ipairs(bodies) do t[n] = string.format("%q", b) end
    return t
  end)(), ",\n") .. "}\nlocal i = 0\nrequest = function() i = i + 1\n"
  .. "  return wrk.format(nil, nil, nil, bodies[i % #bodies + 1]) end\n")
write(dir .. "/bare.conf", "location = /bare { return 200; }\n")

-- 2b. the engine alone: the same queries in one LuaJIT process, one after
-- another (what one nginx worker could do at most, without HTTP): the
-- first pass over the 200 queries (each one new to the process, as the
-- gateway's first round), then a second pass (warm, as the gateway's
-- steady state, where wrk repeats the same 200 queries for the whole run)
local qlist = {}
for n, b in ipairs(bodies) do qlist[n] = string.format("%q", util.json.decode(b).query) end
write(dir .. "/engine.lua", "local core = require 'astrocyte.core'\n"
  .. "local e = assert(require('astrocyte').open(nil, { db = " .. string.format("%q", db) .. " }))\n"
  .. "local qs = {" .. table.concat(qlist, ",") .. "}\n"
  .. "for i = 1, 20 do assert(e:recall(qs[i], { bank_id = 'bench', max_results = 10 })) end\n"
  .. "local ms = {}\nlocal t0 = core.time()\n"
  .. "for i = 1, #qs do local t = core.time(); assert(e:recall(qs[i], { bank_id = 'bench', max_results = 10 }))\n"
  .. "  ms[i] = (core.time() - t) * 1000 end\n"
  .. "local total = core.time() - t0\ntable.sort(ms)\n"
  .. "io.write(#qs / total, ' ', ms[math.ceil(#ms * 0.99)], ' ')\n"
  .. "t0 = core.time()\n"
  .. "for i = 1, #qs do local t = core.time(); assert(e:recall(qs[i], { bank_id = 'bench', max_results = 10 }))\n"
  .. "  ms[i] = (core.time() - t) * 1000 end\n"
  .. "total = core.time() - t0\ntable.sort(ms)\n"
  .. "io.write(#qs / total, ' ', ms[math.ceil(#ms * 0.99)], '\\n')\n")
local eng_rps, eng_p99, warm_rps, warm_p99 = sh("luajit " .. q(dir .. "/engine.lua"))
  :match("([%d%.]+) ([%d%.]+) ([%d%.]+) ([%d%.]+)")
local engine = { rps = tonumber(eng_rps), p99_ms = tonumber(eng_p99), warm_rps = tonumber(warm_rps),
                 warm_p99_ms = tonumber(warm_p99) }

-- 3. the gateway: 2 workers, dev auth on loopback, the bare location
-- included; config: a config file for the engine (nil: the defaults)
write(dir .. "/cache.json", '{"recall_cache": {"enabled": true}}')
local port = 20000 + math.floor(os.time() % 10000)
local url
local function status(path, body)
  local cmd = "curl -s -o /dev/null -w '%{http_code}' "
  if body then cmd = cmd .. "-H 'Content-Type: application/json' --data-binary " .. q(body) .. " " end
  return sh(cmd .. q(url .. path))
end
local function stop_gateway()
  local pid = sh("cat " .. q(dir .. "/pid") .. " 2>/dev/null"):match("%d+")
  if pid then os.execute("kill -TERM " .. pid .. " 2>/dev/null; sleep 1") end
  os.remove(dir .. "/pid")
end
local function stop()
  stop_gateway()
  os.execute("rm -rf " .. q(dir))
end
local function start_gateway(config)
  port = port + 1
  url = "http://127.0.0.1:" .. port
  os.execute("ASTRO_BUILD_DIR=" .. q(os.getenv("ASTRO_BUILD_DIR") or (root .. "/build")) .. " " .. q(root .. "/bin/astrocyte")
    .. " --db " .. q(db) .. (config and (" --config " .. q(config)) or "") .. " serve --listen 127.0.0.1:" .. port
    .. " --workers " .. args.workers .. " --include " .. q(dir .. "/bare.conf") .. " >" .. q(dir .. "/serve.log")
    .. " 2>&1 & echo $! >" .. q(dir .. "/pid"))
  local ready = false
  for _ = 1, 100 do
    if status("/ready") == "200" then ready = true break end
    os.execute("sleep 0.1")
  end
  if not ready then
    io.stderr:write(sh("tail -20 " .. q(dir .. "/serve.log")))
    stop()
    error("the gateway did not start")
  end
  -- warm up: every worker loads the bank's indexes on its first recall
  for n = 1, 40 do assert(status("/v1/recall", bodies[n]) == "200", "recall failed") end
end
start_gateway(nil)

-- 4. wrk on each location; rps and p99 from its --latency report
local function to_ms(v, unit)
  v = tonumber(v)
  return unit == "us" and v / 1000 or unit == "s" and v * 1000 or unit == "m" and v * 60000 or v
end
local function run_wrk(path, script)
  local cmd = ("wrk -t%d -c%d -d%ds --latency %s %s"):format(args.threads, args.connections, args.duration,
    script and ("-s " .. q(script)) or "", q(url .. path))
  local out = sh(cmd .. " 2>&1")
  local rps = tonumber(out:match("Requests/sec:%s+([%d%.]+)"))
  local p99v, p99u = out:match("%s99%%%s+([%d%.]+)(%a+)")
  local non2xx = tonumber(out:match("Non%-2xx or 3xx responses:%s+(%d+)") or "0")
  if not rps or not p99v then stop(); error("cannot read wrk's output:\n" .. out) end
  return { rps = rps, p99_ms = to_ms(p99v, p99u), errors = non2xx, requests = tonumber(out:match("(%d+) requests in")) }
end
local bare = run_wrk("/bare")
local live = run_wrk("/live")      -- the gateway's Lua path without the engine
local recall = run_wrk("/v1/recall", dir .. "/recall.lua")
stop_gateway()

-- 5. the same recall run with recall_cache on (a second gateway, same bank)
start_gateway(dir .. "/cache.json")
-- fill both workers' caches first (a short run, not counted): the measured
-- run is the steady state of repeating queries, not 400 cold recalls queued
-- behind 64 connections
sh(("wrk -t%d -c%d -d3s %s %s 2>&1"):format(args.threads, args.connections, "-s " .. q(dir .. "/recall.lua"),
  q(url .. "/v1/recall")))
local cached = run_wrk("/v1/recall", dir .. "/recall.lua")
-- what the cache answered afterwards: cache_hit of each of the 200 queries
local hits = 0
for n = 1, #bodies do
  local out = sh("curl -s -H 'Content-Type: application/json' --data-binary " .. q(bodies[n]) .. " " .. q(url .. "/v1/recall"))
  if out:find('"cache_hit":true', 1, true) then hits = hits + 1 end
end
cached.hit_share = hits / #bodies
stop()

local ratio = recall.rps / bare.rps
local cached_ratio = cached.rps / bare.rps
if args.json then
  print(util.encode({ memories = args.memories, workers = args.workers, connections = args.connections,
    duration_s = args.duration, bare = bare, live = live, recall = recall, engine_alone = engine, ratio = ratio,
    recall_cache_on = cached, recall_cache_on_ratio = cached_ratio }))
else
  print(("gateway bench: %d memories, %d nginx workers, wrk %d threads x %d connections, %d s each")
    :format(args.memories, args.workers, args.threads, args.connections, args.duration))
  print(("  bare return 200 (anchor)  %10.0f req/s   p99 %8.2f ms"):format(bare.rps, bare.p99_ms))
  print(("  GET /live (Lua, no engine) %9.0f req/s   p99 %8.2f ms   ratio %.3f"):format(live.rps, live.p99_ms, live.rps / bare.rps))
  print(("  POST /v1/recall           %10.0f req/s   p99 %8.2f ms   non-2xx %d"):format(recall.rps, recall.p99_ms, recall.errors))
  if engine.rps then
    print(("  engine alone (LuaJIT, 1 thread, no HTTP) %6.0f recalls/s   p99 %8.2f ms"):format(engine.rps, engine.p99_ms))
    if engine.warm_rps then
      print(("    same, 2nd pass (warm)                   %6.0f recalls/s   p99 %8.2f ms"):format(engine.warm_rps, engine.warm_p99_ms))
    end
  end
  print(("  ratio recall/bare         %10.3f   (goal >= 0.25)"):format(ratio))
  print(("  POST /v1/recall, recall_cache on %5.0f req/s   p99 %8.2f ms   non-2xx %d   ratio %.3f   (%d of %d queries then cached)")
    :format(cached.rps, cached.p99_ms, cached.errors, cached_ratio, hits, #bodies))
  print("    (the same 200 queries repeating, caches filled by a 3 s run first; the cold row above is the headline)")
end
