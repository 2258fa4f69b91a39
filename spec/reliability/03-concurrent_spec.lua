-- Concurrent writers on one SQLite file: at the same time, a Lua API writer
-- on this runtime, one on the other runtime, a CLI writer (one process per
-- call, then one import) and an HTTP writer against nginx with two
-- OpenResty workers each holding its own engine: 4 × 500 retains and
-- forgets. No call may fail (a lock waits within busy_timeout_ms), no
-- acknowledged memory may be lost or stored twice, and every connection's
-- indexes must agree with the rows: a fresh engine recalls each live
-- memory, and the fresh engine and both nginx workers count what the rows
-- hold.
local R = require "support.reliability"
local tmp = require "support.tmp"
local nginx = require "support.nginx"
local json = require("astrocyte.util").json

local BANK = "conc"
local N = tonumber(os.getenv("ASTRO_CONCURRENT_N")) or 500
local BUSY = 10000 -- busy_timeout_ms of every writer
-- A CLI call is a process start and an engine open (0.3-0.6 s on a loaded
-- machine, ~2 s under ASan); the CLI writer's other calls are one import.
local CLI_CALLS = os.getenv("ASTRO_SANITIZE") and 10 or 30

local HANDLERS = [[
  init_by_lua_block {
    local astrocyte = require "astrocyte"
    local util = require "astrocyte.util"
    local engine
    local function reply(status, body)
      ngx.status = status
      ngx.header["X-Worker-Pid"] = ngx.worker.pid()
      ngx.say(util.encode(body))
      return ngx.exit(status)
    end
    local function run(fn)
      if not engine then
        local err
        engine, err = astrocyte.open({
          vector_store_config = { path = "@DB@", vector_index = { hnsw_threshold = 16 }, busy_timeout_ms = @BUSY@ },
          signal_quality = { dedup = { enabled = false } } })
        if not engine then return reply(503, { error = { kind = err.kind, message = err.message } }) end
      end
      local args = ngx.req.get_uri_args()
      local res, err = fn(engine, args)
      if not res then return reply(503, { error = { kind = err.kind, message = err.message } }) end
      return reply(200, res)
    end
    package.loaded.reliability_app = {
      retain = function() return run(function(eng, a)
        ngx.req.read_body()
        return eng:retain(ngx.req.get_body_data() or "", { bank_id = a.bank, tags = { a.tag } })
      end) end,
      forget = function() return run(function(eng, a)
        return eng:forget({ bank_id = a.bank, memory_ids = { a.id }, soft = a.soft == "1" })
      end) end,
      count = function() return run(function(eng, a)
        for _, b in ipairs(eng:banks()) do
          if b.bank_id == a.bank then return { count = b.memory_count } end
        end
        return { count = 0 }
      end) end,
    }
  }
  server {
    listen 127.0.0.1:@PORT@ reuseport;
    location = /retain { content_by_lua_block { require("reliability_app").retain() } }
    location = /forget { content_by_lua_block { require("reliability_app").forget() } }
    location = /count  { content_by_lua_block { require("reliability_app").count() } }
  }
}
]]

describe("reliability: concurrent writers on one file", function()
  local dir, server

  setup(function() dir = tmp.dir() end)
  teardown(function()
    if server then server:stop() end
    tmp.rm(dir)
  end)

  it("4 writers (Lua API on both runtimes, CLI, OpenResty) lose and duplicate nothing", function()
    -- Without nginx where it cannot run (the ASan build), a fourth Lua API
    -- writer takes the HTTP writer's place.
    local why, skip = nginx.unavailable()
    assert(not why or skip, why)
    local db = dir .. "/conc.db"
    assert(assert(R.open(db)):close()) -- the file exists before the writers race
    local other = R.interp() == "luajit" and "lua5.4" or "luajit"
    local fourth = { args = { db, "pd", N, 14, 0, BANK, "check" }, vars = { ASTRO_BUSY_TIMEOUT_MS = BUSY } }
    if not why then
      server = nginx.start(nginx.conf_head(2) .. HANDLERS:gsub("@DB@", db):gsub("@BUSY@", BUSY), "/count?bank=" .. BANK)
      fourth = { args = { server.url, "pd", N, 14, 0, BANK } }
    else
      print("\nno nginx writer: " .. why)
    end
    local t0 = os.time()
    local runs = R.workers({
      { args = { db, "pa", N, 11, 0, BANK, "check" }, vars = { ASTRO_BUSY_TIMEOUT_MS = BUSY } },
      { args = { db, "pb", N, 12, 0, BANK, "check" }, vars = { ASTRO_RUNTIME = other, ASTRO_BUSY_TIMEOUT_MS = BUSY } },
      { args = { "cli:" .. db, "pc", CLI_CALLS, 13, 0, BANK, "", N - CLI_CALLS }, vars = { ASTRO_BUSY_TIMEOUT_MS = BUSY } },
      fourth,
    })
    local took = os.time() - t0
    local acks = { retained = {}, forgotten = {}, imported = {}, errors = {}, order = {} }
    local calls = 0
    local spans = {}
    for i, r in ipairs(runs) do
      assert.equal(0, r.code, "writer " .. i .. ": " .. r.err .. table.concat(r.lines, "\n"))
      spans[i] = string.format("%.1f", (tonumber(r.lines[#r.lines]:match("^DONE (%d+)")) or 0) / 1000)
      R.acks(r.lines, acks)
      for _, l in ipairs(r.lines) do
        assert.falsy(l:match("^LOST") or l:match("^GHOST"), "writer " .. i .. "'s own indexes: " .. l)
        if l:match("^[RFSI] ") then calls = calls + 1 end
      end
    end
    -- A call may fail only on a lock it waited the whole busy timeout for.
    for _, l in ipairs(acks.errors) do
      local waited = tonumber(l:match("database is locked.*%(after ([%d.]+) ms%)$"))
      assert.truthy(waited and waited >= BUSY, "failed before the busy timeout: " .. l)
    end

    -- The rows: each acknowledged retain once, forgets applied, nothing else.
    local rows, nrows = R.rows(db, BANK)
    local by_word = {}
    for id, r in pairs(rows) do
      local w = assert(r.text:match("mentions (%S+)"), r.text)
      assert.is_nil(by_word[w], "stored twice: " .. w)
      by_word[w] = id
    end
    local expected, live = 0, {}
    for id, w in pairs(acks.retained) do
      local f = acks.forgotten[id]
      if f == "F" then
        assert.is_nil(rows[id], "hard-forgotten " .. id .. " is back")
        assert.is_nil(by_word[w], "hard-forgotten " .. w .. " is back under another id")
      else
        expected = expected + 1
        assert.equal(id, by_word[w], "lost: " .. w .. "; its id now holds: " .. tostring(rows[id] and rows[id].text))
        assert.equal(f == "S", rows[id].archived, "forgotten " .. id .. ": " .. tostring(f))
        if not f then live[id] = w end
      end
    end
    for _, l in ipairs(acks.errors) do
      local w = l:match("^E R (%S+)")
      if w then assert.is_nil(by_word[w], "a failed retain was stored: " .. l) end
    end
    for w in pairs(acks.imported) do
      expected = expected + 1
      local id = assert(by_word[w], "imported " .. w .. " lost")
      assert.is_false(rows[id].archived); live[id] = w
    end
    assert.equal(expected, nrows, "rows stored beyond the acknowledged calls")

    -- Every connection's indexes against the rows.
    local fresh = assert(R.open(db))
    local nlive = 0
    for id, w in pairs(live) do
      nlive = nlive + 1
      assert.is_true(R.recalls(fresh, BANK, w, id), "not recalled: " .. id .. " " .. w)
    end
    assert.equal(nlive, R.count(fresh, BANK))
    assert(fresh:close())
    local seen = {}
    for _ = 1, server and 40 or 0 do
      local status, body, headers = server:http("GET", "/count?bank=" .. BANK)
      assert.equal(200, status, body)
      seen[headers["x-worker-pid"]] = json.decode(body).count
      if next(seen, next(seen)) then break end
    end
    local workers = 0
    for pid, c in pairs(seen) do
      workers = workers + 1
      assert.equal(nlive, c, "nginx worker " .. pid .. " counts otherwise")
    end
    assert.equal(server and 2 or 0, workers)
    local forgets = 0
    for _ in pairs(acks.forgotten) do forgets = forgets + 1 end
    print(string.format("\nconcurrent writers: 4 × %d, %d calls acknowledged (%d retains, %d forgets) in %d s, " ..
      "%d live, 0 lost, 0 duplicated, %d failed after the %d ms busy timeout; writers took %s s (API, API on %s, CLI, %s)",
      N, calls, calls - forgets, forgets, took, nlive, #acks.errors, BUSY, table.concat(spans, "/"), other, server and "nginx" or "API"))
  end)
end)
