-- `astrocyte serve` as a command: bin/astrocyte runs as a process, serves,
-- and ends with exit code 0 on SIGTERM (a graceful nginx stop: QUIT),
-- removing the temporary prefix it made; the generated nginx.conf passes
-- `nginx -t`; bad options and bad settings exit 2 (1 for usage) before
-- nginx starts, with a message naming the option or variable; a taken
-- port makes it exit non-zero; --include adds locations (a static page).
local gateway = require "support.gateway"

if gateway.skip("astrocyte serve", pending) then return end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs bin/astrocyte with args (a shell word list) and env; → exit code, stdout+stderr.
local function astrocyte(args, env)
  local out = os.tmpname()
  local cmd = "env ASTRO_BUILD_DIR=" .. q(gateway.BUILD_DIR) .. " " .. (env or "") .. " "
    .. q(gateway.SOURCE_DIR .. "/bin/astrocyte") .. " " .. args .. " >" .. q(out) .. " 2>&1; echo $?"
  local p = assert(io.popen(cmd))
  local rc = tonumber(p:read("*a"):match("%d+"))
  p:close()
  local text = gateway.read_file(out) or ""
  os.remove(out)
  return rc, text
end

describe("astrocyte serve: the command", function()
  it("prints a config that nginx accepts", function()
    local inc = os.tmpname()
    local f = assert(io.open(inc, "w")); f:write('location = /hello { return 200 "hi"; }\n'); f:close()
    local rc, conf = astrocyte("--db /tmp/astrocyte-serve-spec.db serve --print-config --listen 127.0.0.1:18123 --workers 3 --include " .. q(inc))
    assert.equal(0, rc, conf)
    for _, want in ipairs({ "daemon off;", "master_process on;", "error_log stderr", "worker_processes 3;",
                            "listen 127.0.0.1:18123 reuseport;", "location = /mcp", "include \"" .. inc .. "\"",
                            "env ASTROCYTE_JWT_SECRET;", "lua_shared_dict astrocyte_limits" }) do
      assert.truthy(conf:find(want, 1, true), "missing " .. want .. " in:\n" .. conf)
    end
    assert.falsy(conf:find("daemon on", 1, true))
    -- nginx -t on it, in a scratch prefix
    local dir = io.popen("mktemp -d /tmp/astrocyte-serve-t.XXXXXX"):read("*l")
    os.execute("mkdir -p " .. q(dir .. "/conf") .. " " .. q(dir .. "/logs") .. " " .. q(dir .. "/tmp"))
    f = assert(io.open(dir .. "/conf/nginx.conf", "w")); f:write(conf); f:close()
    local p = io.popen("nginx -t -p " .. q(dir .. "/") .. " -c conf/nginx.conf -e stderr 2>&1; echo rc=$?")
    local out = p:read("*a"); p:close()
    os.execute("rm -rf " .. q(dir)); os.remove(inc)
    assert.truthy(out:find("rc=0", 1, true), out)
  end)

  it("refuses bad options and settings before nginx starts", function()
    local cases = {
      { "serve --workers 0", "", 2, "--workers" },
      { "serve --listen nowhere", "", 2, "--listen" },
      { "serve --auth magic", "", 2, "auth mode must be" },
      { "serve --max-body 5x", "", 2, "--max-body" },
      { "serve --listen 0.0.0.0:18124", "", 2, "loopback" },
      { "serve --auth jwt_hs256", "", 2, "ASTROCYTE_JWT_SECRET" },
      { "serve --auth jwt_oidc", "ASTROCYTE_OIDC_JWKS_URL=http://127.0.0.1:1/jwks", 2, "ASTROCYTE_OIDC_ISSUER" },
      { "serve --auth api_key", "ASTROCYTE_API_KEYS=nokey", 2, "ASTROCYTE_API_KEYS" },
      { "--config /nonexistent/astrocyte.yaml serve", "", 2, "/nonexistent/astrocyte.yaml" },
      { "serve --include /nonexistent.conf", "", 2, "--include" },
      { "serve extra", "", 1, "serve takes no arguments" },
    }
    for _, c in ipairs(cases) do
      local rc, out = astrocyte("--db /tmp/astrocyte-serve-spec.db " .. c[1], c[2])
      assert(rc == c[3], c[1] .. ": expected exit " .. c[3] .. ", got " .. tostring(rc) .. ": " .. out)
      assert(out:find(c[4], 1, true), c[1] .. ": message should mention " .. c[4] .. ": " .. out)
      assert.falsy(out:find("start worker process", 1, true))
    end
  end)

  it("serves until SIGTERM, stops gracefully with exit 0 and removes its temporary prefix", function()
    local inc = os.tmpname()
    local f = assert(io.open(inc, "w")); f:write('location = /hello { default_type text/plain; return 200 "hi"; }\n'); f:close()
    local g = gateway.start({ workers = 2, prefix = false, args = { "--include", inc } })
    local ok, err = pcall(function()
      local s, v, _, raw = g:json("POST", "/v1/retain", { content = "served by the CLI", bank_id = "cli" })
      assert.equal(200, s, raw)
      assert.is_true(v.stored)
      local hs, body = g:request("GET", "/hello")
      assert.equal(200, hs); assert.equal("hi", body)
      -- the same port cannot be served twice: the second exits non-zero
      local rc, out = astrocyte("--db " .. q(g.db) .. " serve --listen 127.0.0.1:" .. g.port)
      assert.truthy(rc ~= 0, out)
      assert.truthy(out:find("Address already in use", 1, true), out)
    end)
    local out = g:output()
    local prefix = out:match("prefix (/[^)]+)%)")
    local rc = g:stop("TERM")
    os.remove(inc)
    -- the memory outlived the server
    local eng = require("astrocyte").open(nil, { db = g.db })
    local banks = eng and eng:banks()
    if eng then eng:close() end
    g:cleanup()
    assert(ok, err)
    assert.equal(0, rc, out)
    assert.is_string(prefix, out)
    assert.falsy(io.open(prefix .. "/conf/nginx.conf"), "temporary prefix left behind: " .. prefix)
    assert.same({ { bank_id = "cli", memory_count = 1 } }, banks)
  end)

  it("answers 503 while the engine cannot open, and recovers without a restart", function()
    -- the database's directory is a file: the workers' open fails
    local dir = io.popen("mktemp -d /tmp/astrocyte-serve-503.XXXXXX"):read("*l")
    local data = dir .. "/data"
    assert(io.open(data, "w")):close()
    local g = gateway.start({ ready_path = "/live", args = { "--db", data .. "/astrocyte.db" } })
    local ok, err = pcall(function()
      local s, v, h, raw, _
      s, v, _, raw = g:json("GET", "/ready")
      assert.equal(503, s, raw)
      assert.equal("StorageError", v.error.kind)
      s, v, _, raw = g:json("POST", "/v1/retain", { content = "kept once it opens", bank_id = "later" })
      assert.equal(503, s, raw)
      assert.equal("StorageError", v.error.kind)
      s, v = g:json("GET", "/health")
      assert.equal(503, s); assert.is_false(v.healthy)
      assert.truthy(g:output():find("cannot open the engine (retrying in 1 s)", 1, true), g:output())
      os.execute("rm -f " .. q(data) .. " && mkdir " .. q(data))
      for _ = 1, 60 do
        s, v, h, raw = g:json("POST", "/v1/retain", { content = "kept once it opens", bank_id = "later" })
        if s == 200 then break end
        os.execute("sleep 0.1")
      end
      assert.equal(200, s, raw)
      assert.is_true(v.stored)
      assert.equal(200, (g:json("GET", "/ready")))
      assert.is_string(h["x-request-id"])
    end)
    g:cleanup()
    os.execute("rm -rf " .. q(dir))
    assert(ok, err)
  end)

  it("logs to stderr and answers TERM with nginx's graceful stop: a request in flight completes", function()
    -- a location that answers after 1.5 s, included for this test
    local inc = os.tmpname()
    local f = assert(io.open(inc, "w"))
    f:write('location = /slow { content_by_lua_block { ngx.sleep(1.5) ngx.say("finished") } }\n')
    f:close()
    local g = gateway.start({ args = { "--include", inc } })
    local resp = g.dir .. "/slow-response"
    os.execute("curl -s --max-time 20 -o " .. q(resp) .. " -w '%{http_code}' " .. q(g.url .. "/slow")
      .. " >" .. q(resp .. ".code") .. " 2>/dev/null &")
    os.execute("sleep 0.5")                      -- the request is in flight
    local rc = g:stop("TERM")
    for _ = 1, 50 do                             -- curl writes its code when it ends
      if (gateway.read_file(resp .. ".code") or "") ~= "" then break end
      os.execute("sleep 0.1")
    end
    local body, code = gateway.read_file(resp), gateway.read_file(resp .. ".code")
    local out = g:output()
    g:cleanup()
    os.remove(inc)
    assert.equal("200", code, out)
    assert.equal("finished\n", body)
    assert.equal(0, rc, out)
    assert.truthy(out:find("start worker process", 1, true), out)
    assert.truthy(out:find("SIGQUIT", 1, true), out)
    assert.truthy(out:find("gracefully shutting down", 1, true), out)
  end)
end)
