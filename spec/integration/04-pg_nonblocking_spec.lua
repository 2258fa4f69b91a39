-- Postgres inside nginx without blocking the worker: the postgres pool
-- (driver "auto") in a real nginx with ONE worker, against a real
-- PostgreSQL 15 started for this spec. A query waits on a cosocket (the
-- wire driver, with TLS when asked), so while one request sits in pg_sleep the same worker
-- answers other requests, with and without the database; libpq, the
-- control, blocks the worker for the whole sleep. Nothing here measures
-- speed: the slow query runs until the spec cancels it, and the other
-- requests must complete while pg_stat_activity still shows it running.
local util = require "astrocyte.util"
local core = require "astrocyte.core"
local pq = require "astrocyte.pq"
local nginx = require "support.nginx"
local pgn = require "support.pg_native"
local json = util.json

if nginx.skip("postgres in nginx", pending) then return end

local CONF = nginx.conf_head(1) .. [[
  lua_ssl_trusted_certificate @CERT@;
  init_by_lua_block {
    local pool_mod = require "astrocyte.providers.postgres.pool"
    local dsn = ("@DSN_HEX@"):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    local app = { pools = {
      auto = pool_mod.new({ conninfo = dsn, size = 2, driver = "auto" }),
      one = pool_mod.new({ conninfo = dsn, size = 1, driver = "auto" }),
      libpq = pool_mod.new({ conninfo = dsn, size = 2, driver = "libpq" }),
      tls = pool_mod.new({ conninfo = dsn .. " sslmode=require", size = 1, driver = "auto" }),
      verify = pool_mod.new({ conninfo = dsn .. " sslmode=verify-full", size = 1, driver = "auto" }),
    } }
    package.loaded.pg_spec_app = app
  }
  init_worker_by_lua_block {
    -- No cosockets in this phase: the auto pool must use libpq here.
    local app = require "pg_spec_app"
    local res, err = app.pools.auto:query("SELECT 1 AS one", nil)
    app.init_worker = { ok = res ~= nil and res.rows[1].one == 1, err = err, kind = app.pools.auto.slots[1].kind }
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /ping { content_by_lua_block { ngx.say("pong") } }
    # GET /q?pool=auto|one|libpq&sql=...: one statement through that pool
    location = /q {
      content_by_lua_block {
        local app = require "pg_spec_app"
        local p = app.pools[ngx.var.arg_pool]
        local res, err, state = p:query(ngx.unescape_uri(ngx.var.arg_sql), nil)
        local kinds = {}
        for i, s in ipairs(p.slots) do kinds[i] = s.kind end
        ngx.say(require("astrocyte.util").json.encode({ rows = res and res.rows, err = err, state = state,
          kinds = kinds, driver = select(2, p:_driver()), init_worker = app.init_worker,
          auth = p.slots[1] and p.slots[1].conn and p.slots[1].conn.auth_method }))
      }
    }
  }
}
]]

local function hexs(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end

describe("postgres in nginx", function()
  local srv, web, admin

  setup(function()
    srv = pgn.start()
    admin = assert(pq.connect(srv:dsn("postgres")))
    web = nginx.start((CONF:gsub("@DSN_HEX@", hexs(srv:dsn("wire_scram"))):gsub("@CERT@", srv.cert)), "/ping")
  end)
  teardown(function()
    if web then web:stop() end
    if admin then admin:close() end
    if srv then srv:stop() end
  end)

  local function get(path)
    local status, body = web:http("GET", path)
    assert.equal(200, status, body .. "\n" .. web:error_log())
    return assert(json.decode(body), body)
  end

  local function q_path(pool, sql) return "/q?pool=" .. pool .. "&sql=" .. nginx.urlencode(sql) end

  -- Sleeping statements now running on the server.
  local function sleepers()
    local r = assert(admin:exec_params("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active'"
      .. " AND query LIKE 'SELECT pg_sleep(%' AND pid <> pg_backend_pid()", nil))
    return r.rows[1].n
  end

  -- Starts GET path in the background; returns the file its body lands in.
  local n_bg = 0
  local function background(path, max_s)
    n_bg = n_bg + 1
    local out = web.prefix .. "/tmp/bg" .. n_bg
    os.execute("curl -s --max-time " .. (max_s or 90) .. " " .. nginx.q(web.url .. path) .. " > " .. nginx.q(out) .. " 2>/dev/null &")
    return out
  end

  local function wait_for_sleeper()
    for _ = 1, 300 do
      if sleepers() >= 1 then return end
      os.execute("sleep 0.05")
    end
    error("the slow statement never started:\n" .. web:error_log())
  end

  local function cancel_sleepers()
    admin:exec_params("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(%'"
      .. " AND pid <> pg_backend_pid()", nil)
  end

  local function result_of(file)
    for _ = 1, 400 do
      local body = nginx.read_file(file)
      if body and body:find("}%s*$") then return json.decode(body) end
      os.execute("sleep 0.05")
    end
    error("the background request never answered:\n" .. web:error_log())
  end

  it("uses libpq in init_worker and the wire driver over cosockets in requests", function()
    local out = get(q_path("auto", "SELECT current_user AS u, 40 + 2 AS n"))
    assert.same({ ok = true, kind = "libpq" }, out.init_worker)
    assert.equal("wire_scram", out.rows[1].u)
    assert.equal(42, out.rows[1].n)
    assert.same({ "cosocket" }, out.kinds)
    assert.equal("cosocket", out.driver)
    assert.equal("scram-sha-256", out.auth)
    -- The connection outlives the request: the next one reuses its session.
    local pid1 = get(q_path("auto", "SELECT pg_backend_pid() AS p")).rows[1].p
    local pid2 = get(q_path("auto", "SELECT pg_backend_pid() AS p")).rows[1].p
    assert.equal(pid1, pid2)
    -- The server ends that session while it idles in nginx's keepalive
    -- pool: the next request reconnects (and retries the read) by itself.
    assert(admin:exec_params("SELECT pg_terminate_backend($1)", { pid1 }))
    local again = get(q_path("auto", "SELECT pg_backend_pid() AS p"))
    assert.is_nil(again.err)
    assert.not_equal(pid1, again.rows[1].p)
    local err = get(q_path("auto", "SELECT * FROM missing_table"))
    assert.equal("42P01", err.state)
    assert.matches("relation \"missing_table\" does not exist", err.err)
  end)

  it("speaks TLS over the cosocket when the connection string asks for it", function()
    for _, pool in ipairs({ "tls", "verify" }) do
      local sql = "SELECT s.ssl, pg_backend_pid() AS p FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
      local a, b = get(q_path(pool, sql)), get(q_path(pool, sql))
      assert.equal("cosocket", a.driver, pool)
      assert.is_true(a.rows[1].ssl, pool)
      -- the TLS connection went through nginx's keepalive pool between requests
      assert.equal(a.rows[1].p, b.rows[1].p)
    end
  end)

  it("a slow query does not stall other requests on the worker", function()
    local slow = background(q_path("auto", "SELECT pg_sleep(60)"))
    wait_for_sleeper()
    local t0 = core.now_ms()
    local status, body = web:http("GET", "/ping")
    local ping_ms = core.now_ms() - t0
    assert.equal(200, status)
    assert.equal("pong\n", body)
    -- Another request on the same worker uses the pool's second connection.
    t0 = core.now_ms()
    local other = get(q_path("auto", "SELECT 7 AS n"))
    local other_ms = core.now_ms() - t0
    assert.equal(7, other.rows[1].n)
    assert.equal(1, sleepers(), "both requests completed while the slow query was still running")
    cancel_sleepers()
    local out = result_of(slow)
    assert.equal("57014", out.state)
    assert.matches("canceling statement due to user request", out.err)
    assert.same({ "cosocket", "cosocket" }, out.kinds)
    print(string.format("\n[pg nonblocking] during pg_sleep: /ping %d ms, another query %d ms", ping_ms, other_ms))
  end)

  it("a request waits for a busy pool instead of failing", function()
    local slow = background(q_path("one", "SELECT pg_sleep(60)"))
    wait_for_sleeper()
    local queued = background(q_path("one", "SELECT 5 AS n"))
    assert.equal(200, (web:http("GET", "/ping")))
    cancel_sleepers()
    assert.equal("57014", result_of(slow).state)
    local out = result_of(queued)
    assert.is_nil(out.err)
    assert.equal(5, out.rows[1].n)
  end)

  it("libpq, the control, blocks the worker for the whole query", function()
    local slow = background(q_path("libpq", "SELECT pg_sleep(60)"))
    wait_for_sleeper()
    -- The worker is inside libpq: nothing answers until the query ends.
    local ping = background("/ping", 1.5)
    local t0 = core.now_ms()
    while core.now_ms() - t0 < 2500 and not (nginx.read_file(ping) or ""):find("pong") do os.execute("sleep 0.1") end
    assert.equal("", nginx.read_file(ping) or "")
    assert.equal(1, sleepers())
    cancel_sleepers()
    local out = result_of(slow)
    assert.equal("57014", out.state)
    assert.same({ "libpq" }, out.kinds)
    assert.equal(200, (web:http("GET", "/ping")))
  end)
end)
