-- Astrocyte inside nginx + ngx_http_lua (LuaJIT): starts a private nginx from
-- examples/openresty/nginx.conf in a temporary prefix, then retains and
-- recalls over HTTP with curl. Needs nginx, its lua module and curl; skipped
-- (pending) when one is missing. The spec itself runs under Lua 5.4 or LuaJIT
-- (keep to syntax both accept); the handlers always run on nginx's LuaJIT.
local util = require "astrocyte.util"
local json = util.json

local MODULES = "/usr/lib/nginx/modules/"
local NDK = MODULES .. "ndk_http_module.so"
local LUA_MODULE = MODULES .. "ngx_http_lua_module.so"

-- This file's directory, for running without the ctest environment.
local function here()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    local p = io.popen("pwd")
    local cwd = p:read("*l")
    p:close()
    dir = cwd .. "/" .. dir
  end
  return dir
end

local SOURCE_DIR = os.getenv("ASTRO_SOURCE_DIR") or (here() .. "/../..")
local BUILD_DIR = os.getenv("ASTRO_BUILD_DIR") or (SOURCE_DIR .. "/build")

-- Quotes s for /bin/sh.
local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Runs a shell command; returns true when it exited 0 (Lua 5.1 and 5.4 alike).
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

-- Runs a shell command and returns its whole stdout.
local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return out
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function have(cmd)
  return run("command -v " .. cmd .. " >/dev/null 2>&1")
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Whether process pid is running (an exited master that its parent has not
-- reaped yet is a zombie: it counts as gone).
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then return stat:match("%) (%a)") ~= "Z" end
  if exists("/proc/self/stat") then return false end
  return run("kill -0 " .. pid .. " 2>/dev/null")
end

-- Percent-encodes a query-string value.
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- scripts/setup installs nginx, the lua module and curl, so a missing piece is
-- a failure, not a skip. The one exception is the sanitizer pass: its modules
-- need libasan preloaded, which nginx's forked LuaJIT workers do not survive.
if os.getenv("ASTRO_SANITIZE") == "1" then
  pending("astrocyte in nginx: not run on the ASan build (nginx workers cannot host preloaded ASan)")
  return
end
assert(have("nginx") and have("curl") and exists(NDK) and exists(LUA_MODULE),
  "nginx, libnginx-mod-http-lua and curl are required (run scripts/setup)")
assert(exists(BUILD_DIR .. "/luajit/astrocyte/core.so"), "the LuaJIT modules are not built in " .. BUILD_DIR)
local describe_or_skip = describe

describe_or_skip("astrocyte in nginx (ngx_http_lua)", function()
  local prefix, port, base_url
  local started = false

  local function nginx_cmd(extra)
    return "nginx -p " .. q(prefix .. "/") .. " -c conf/nginx.conf -e " .. q(prefix .. "/logs/error.log")
      .. (extra or "")
  end

  local function error_log()
    return read_file(prefix .. "/logs/error.log") or "(no error.log)"
  end

  -- HTTP request with curl; returns status (number), body (string) and the
  -- pid of the nginx worker that answered (X-Worker-Pid).
  local function http(method, path, body)
    local hf = prefix .. "/tmp/response-headers"
    os.remove(hf)
    local cmd = "curl -s --max-time 5 -D " .. q(hf) .. " -o - -w '\\n%{http_code}' -X " .. method
    if body then
      local bf = prefix .. "/tmp/request-body"
      write_file(bf, body)
      cmd = cmd .. " -H 'Content-Type: text/plain' --data-binary @" .. q(bf)
    end
    local out = capture(cmd .. " " .. q(base_url .. path) .. " 2>/dev/null")
    local resp, code = out:match("^(.*)\n(%d+)$")
    local worker = (read_file(hf) or ""):match("[Xx]%-[Ww]orker%-[Pp]id: *(%d+)")
    return tonumber(code) or 0, resp or out, worker
  end

  local function get_json(method, path, body)
    local status, text, worker = http(method, path, body)
    local v = json.decode(text)
    assert(v ~= nil, "not JSON (HTTP " .. status .. "): " .. text .. "\nerror.log:\n" .. error_log())
    return status, v, text, worker
  end

  setup(function()
    prefix = capture("mktemp -d /tmp/astrocyte-nginx.XXXXXX"):gsub("%s+$", "")
    assert(prefix ~= "" and prefix:sub(1, 1) == "/", "mktemp -d failed")
    -- Workers run as nobody when nginx is started by root: the prefix must be
    -- traversable and data/ (the SQLite file and its journal) writable.
    assert(run("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " "
      .. q(prefix .. "/tmp") .. " " .. q(prefix .. "/data")
      .. " && chmod 755 " .. q(prefix) .. " && chmod 1777 " .. q(prefix .. "/data")))

    local template = assert(read_file(SOURCE_DIR .. "/examples/openresty/nginx.conf"),
      "cannot read examples/openresty/nginx.conf")

    math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) % 100000)
    local base = math.random(20000, 39000)
    local last_log = ""
    for attempt = 0, 19 do
      port = base + attempt * 37
      local conf = template:gsub("@SOURCE_DIR@", SOURCE_DIR):gsub("@BUILD_DIR@", BUILD_DIR)
        :gsub("@PORT@", tostring(port))
      assert(not conf:find("@[%u_]+@"), "unreplaced placeholder in nginx.conf")
      write_file(prefix .. "/conf/nginx.conf", conf)
      write_file(prefix .. "/logs/error.log", "")
      if run(nginx_cmd(" >" .. q(prefix .. "/logs/startup.log") .. " 2>&1")) then
        started = true
        break
      end
      last_log = error_log() .. (read_file(prefix .. "/logs/startup.log") or "")
      if not last_log:find("Address already in use", 1, true) then break end
    end
    assert(started, "nginx did not start:\n" .. last_log)
    base_url = "http://127.0.0.1:" .. port

    -- Readiness: the master has bound the port; wait for a worker to answer.
    local ready = false
    for _ = 1, 50 do
      if http("GET", "/runtime") == 200 then ready = true break end
      os.execute("sleep 0.1")
    end
    assert(ready, "nginx not answering on " .. base_url .. "\nerror.log:\n" .. error_log())
  end)

  teardown(function()
    if not prefix then return end
    if started then
      local pid = (read_file(prefix .. "/logs/nginx.pid") or ""):match("%d+")
      run(nginx_cmd(" -s stop >/dev/null 2>&1"))
      if pid then
        for _ = 1, 50 do
          if not alive(pid) then break end
          os.execute("sleep 0.1")
        end
        if alive(pid) then run("kill -9 " .. pid .. " 2>/dev/null") end
      end
    end
    run("rm -rf " .. q(prefix))
  end)

  it("runs the handlers on LuaJIT", function()
    local status, v = get_json("GET", "/runtime")
    assert.equal(200, status)
    assert.equal("Lua 5.1", v.lua)
    assert.is_string(v.jit)
    assert.truthy(v.jit:find("^LuaJIT 2%.1"), v.jit)
  end)

  it("retains over POST and recalls the memory as the top hit", function()
    local text = "Ana prefers green tea in the morning"
    local status, kept, raw = get_json("POST", "/retain?bank=ana&tag=drinks", text)
    assert.equal(200, status, raw)
    assert.is_true(kept.stored)
    assert.is_string(kept.memory_id)

    local rstatus, res, rraw = get_json("GET", "/recall?bank=ana&q=" .. urlencode("what does Ana drink?"))
    assert.equal(200, rstatus, rraw)
    assert.is_table(res.hits)
    assert.truthy(#res.hits >= 1, rraw)
    assert.equal(kept.memory_id, res.hits[1].memory_id)
    assert.equal(text, res.hits[1].text)
    assert.equal("ana", res.hits[1].bank_id)
    -- inside the worker the strategies run as ngx light threads
    assert.equal("threads", res.trace.strategy_execution, rraw)
  end)

  it("recalls on one worker what another worker retained (shared SQLite file)", function()
    local words = { "quokka", "zeppelin", "marzipan", "obsidian", "kumquat", "theremin", "axolotl",
                    "sextant", "tamarind", "gondola", "pangolin", "harpsichord", "saffron", "narwhal",
                    "bergamot", "astrolabe", "capybara", "tourmaline", "okapi", "ocarina" }
    local crossed, workers = 0, {}
    for round = 1, 10 do
      for i, w in ipairs(words) do
        local text = ("Round %d note %d: the %s was kept in the attic"):format(round, i, w)
        local status, kept, raw, wk_retain = get_json("POST", "/retain?bank=shared" .. round, text)
        assert.equal(200, status, raw)
        local rstatus, res, rraw, wk_recall = get_json("GET", "/recall?bank=shared" .. round .. "&max=1&q=" .. urlencode(w))
        assert.equal(200, rstatus, rraw)
        assert.equal(kept.memory_id, res.hits[1] and res.hits[1].memory_id, rraw)
        assert.is_string(wk_retain); assert.is_string(wk_recall)
        workers[wk_retain], workers[wk_recall] = true, true
        if wk_retain ~= wk_recall then crossed = crossed + 1 end
      end
      if crossed >= 5 then break end
    end
    local n = 0
    for _ in pairs(workers) do n = n + 1 end
    assert.equal(2, n)
    assert.truthy(crossed >= 5, "only " .. crossed .. " recalls were answered by another worker than the retain")
  end)

  it("rejects an empty text with 400 and a ValidationError", function()
    local status, v, raw = get_json("POST", "/retain?bank=ana&text=")
    assert.equal(400, status, raw)
    assert.is_table(v.error)
    assert.equal("ValidationError", v.error.kind)
    assert.is_string(v.error.message)
  end)
end)
