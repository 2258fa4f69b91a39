-- Conformance of the postgres provider through the wire driver inside
-- nginx: every store SPI suite of astrocyte.testing (run_suite, no busted
-- in nginx) runs in an ngx.timer of a one-worker nginx, where driver
-- "auto" picks the cosocket wire driver, against PGlite + pgvector on
-- 127.0.0.1 (one connection: pool_size 1). The spec polls for the results
-- and checks that every case passed and that the connections were cosocket
-- ones. PGlite migrates a fresh schema per case slowly (~2 s a case here),
-- so by default three suites run (vector: pgvector and full-text SQL;
-- mental model: revision bumps in transactions; source); ASTRO_PG_WIRE_ALL=1
-- runs all seven (they passed, 170 s on a loaded 2-core machine).
local util = require "astrocyte.util"
local nginx = require "support.nginx"
local pgs = require "support.pg_server"
local json = util.json

if nginx.skip("postgres provider conformance in nginx", pending) then return end

local CONF = nginx.conf_head(1) .. [[
  init_by_lua_block {
    local testing = require "astrocyte.testing"
    local pg = require "astrocyte.providers.postgres"
    local app = { results = {}, kinds = {} }
    local SUITES = {
      { "vector_store", "vector_stores", { dimensions = 8 }, { dims = 8 } },
      { "mental_model_store", "mental_model_stores" }, { "source_store", "source_stores" },
    }
    if @ALL@ then
      for _, s in ipairs({ { "vector_store", "vector_stores", { vector_index = "ivfflat" }, { dims = 8 } },
        { "document_store", "document_stores" }, { "graph_store", "graph_stores" }, { "wiki_store", "wiki_stores" } }) do
        SUITES[#SUITES + 1] = s
      end
    end
    app.n_suites = #SUITES
    local n = 0
    local function factory(group, extra)
      return function()
        n = n + 1
        local conf = { dsn = "@DSN@", pool_size = 1, schema = "ngx_" .. ngx.worker.pid() .. "_" .. n }
        for k, v in pairs(extra or {}) do conf[k] = v end
        local store, err = pg[group](conf)
        if not store then return nil, err end
        return store, function(s)
          app.kinds[s.ctx.pool.slots[1].kind] = true
          s.ctx.pool:query('DROP SCHEMA "' .. conf.schema .. '" CASCADE', nil, { prepare = false })
          s:close()
        end
      end
    end
    function app.run()
      for i, s in ipairs(SUITES) do
        local ok, res = pcall(testing.run_suite, s[1], factory(s[2], s[3]), s[4])
        app.results[i] = ok and res or { error = tostring(res) }
      end
      app.done = true
    end
    package.loaded.pg_conf_app = app
  }
  server {
    listen 127.0.0.1:@PORT@;
    location = /ping { content_by_lua_block { ngx.say("pong") } }
    location = /start { content_by_lua_block {
      local app = require "pg_conf_app"
      assert(ngx.timer.at(0, function() app.run() end))
      ngx.say("started")
    } }
    location = /results { content_by_lua_block {
      local app = require "pg_conf_app"
      ngx.say(require("astrocyte.util").json.encode({ done = app.done == true, results = app.results, kinds = app.kinds,
        n_suites = app.n_suites }))
    } }
  }
}
]]

describe("postgres provider conformance through the wire driver in nginx", function()
  local pglite, web

  setup(function()
    pglite = assert(pgs.start())
    local all = os.getenv("ASTRO_PG_WIRE_ALL") == "1"
    web = nginx.start((CONF:gsub("@DSN@", pglite.dsn):gsub("@ALL@", tostring(all))), "/ping")
  end)
  teardown(function()
    if web then web:stop() end
    if pglite then pglite:stop() end
  end)

  it("passes every store suite over cosockets", function()
    assert.equal(200, (web:http("GET", "/start")))
    local out
    for _ = 1, 3000 do
      local status, body = web:http("GET", "/results")
      assert.equal(200, status, body)
      out = json.decode(body)
      if out.done then break end
      os.execute("sleep 0.1")
    end
    assert.is_true(out.done, "the suites did not finish:\n" .. web:error_log())
    assert.equal(os.getenv("ASTRO_PG_WIRE_ALL") == "1" and 7 or 3, out.n_suites)
    assert.equal(out.n_suites, #out.results)
    for i, r in ipairs(out.results) do
      assert.is_nil(r.error, r.error)
      assert.same({}, r.failed, "suite " .. i .. ": " .. json.encode(r.failed))
      assert.truthy(r.total > 0 and r.passed == r.total, "suite " .. i .. ": " .. json.encode(r))
    end
    assert.same({ cosocket = true }, out.kinds)
  end)
end)
