-- spec/support/nginx.lua: a private nginx (Debian's nginx + ngx_http_lua)
-- for specs. start(template) writes the config into a temporary prefix,
-- replacing @SOURCE_DIR@, @BUILD_DIR@, @PORT@ and @PORT1@..@PORT9@ (PORT+1..;
-- free ports are found by retrying on "Address already in use"), starts it
-- and waits until it answers. The spec runs under Lua 5.4 or LuaJIT (keep to syntax both
-- accept); the handlers always run on nginx's LuaJIT.
local _M = {}

local MODULES = "/usr/lib/nginx/modules/"
_M.NDK = MODULES .. "ndk_http_module.so"
_M.LUA_MODULE = MODULES .. "ngx_http_lua_module.so"

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

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function have(cmd)
  return run("command -v " .. cmd .. " >/dev/null 2>&1")
end

-- Whether process pid is running (an exited master that its parent has not
-- reaped yet is a zombie: it counts as gone).
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then return stat:match("%) (%a)") ~= "Z" end
  if exists("/proc/self/stat") then return false end
  return run("kill -0 " .. pid .. " 2>/dev/null")
end

-- This file's directory, for running without the ctest environment.
local function here()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then dir = capture("pwd"):gsub("%s+$", "") .. "/" .. dir end
  return dir
end

_M.SOURCE_DIR = os.getenv("ASTRO_SOURCE_DIR") or (here() .. "/../..")
_M.BUILD_DIR = os.getenv("ASTRO_BUILD_DIR") or (_M.SOURCE_DIR .. "/build")
_M.read_file, _M.write_file, _M.run, _M.capture = read_file, write_file, run, capture
_M.q, _M.run, _M.capture, _M.write_file = q, run, capture, write_file

-- Percent-encodes a query-string value.
function _M.urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- Why nginx cannot run in this process, or nil. scripts/setup installs
-- nginx, the lua module and curl, so a missing piece is an error for the
-- caller to raise; the sanitizer pass is the one exception (its modules
-- need libasan preloaded, which nginx's forked LuaJIT workers do not survive).
function _M.unavailable()
  if os.getenv("ASTRO_SANITIZE") == "1" then
    return "not run on the ASan build (nginx workers cannot host preloaded ASan)", true
  end
  if not (have("nginx") and have("curl") and exists(_M.NDK) and exists(_M.LUA_MODULE)) then
    return "nginx, libnginx-mod-http-lua and curl are required (run scripts/setup)"
  end
  if not exists(_M.BUILD_DIR .. "/luajit/astrocyte/core.so") then
    return "the LuaJIT modules are not built in " .. _M.BUILD_DIR
  end
end

-- For a spec file's top level: true when nginx cannot run in this pass (the
-- caller returns; busted's `pending`, passed in, shows `label`); raises when
-- a required piece is missing.
function _M.skip(label, pending)
  local why, skip = _M.unavailable()
  if why and skip then
    pending(label .. ": " .. why)
    return true
  end
  assert(not why, why)
  return false
end

-- The head of a spec's nginx.conf, up to and inside `http {` (modules,
-- a private prefix for every path, the checkout's Lua code and LuaJIT C
-- modules); the caller appends its http-level directives and servers and
-- closes the block. workers: worker_processes (1).
function _M.conf_head(workers)
  return ([[
load_module %s;
load_module %s;
worker_processes %d;
master_process on;
daemon on;
pid logs/nginx.pid;
error_log logs/error.log notice;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path tmp/client_body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  client_max_body_size 4m;
  client_body_buffer_size 4m;
  lua_package_path "@SOURCE_DIR@/lua/?.lua;@SOURCE_DIR@/lua/?/init.lua;;";
  lua_package_cpath "@BUILD_DIR@/luajit/?.so;;";
]]):format(_M.NDK, _M.LUA_MODULE, workers or 1)
end

local Server = {}
Server.__index = Server

function Server:cmd(extra)
  return "nginx -p " .. q(self.prefix .. "/") .. " -c conf/nginx.conf -e " .. q(self.prefix .. "/logs/error.log")
    .. (extra or "")
end

function Server:error_log()
  return read_file(self.prefix .. "/logs/error.log") or "(no error.log)"
end

-- HTTP request with curl → status (number), body (string), headers (table,
-- lower-case names).
function Server:http(method, path, body)
  local hf = self.prefix .. "/tmp/response-headers"
  os.remove(hf)
  local cmd = "curl -s --max-time 10 -D " .. q(hf) .. " -o - -w '\\n%{http_code}' -X " .. method
  if body then
    local bf = self.prefix .. "/tmp/request-body"
    write_file(bf, body)
    cmd = cmd .. " -H 'Content-Type: text/plain' --data-binary @" .. q(bf)
  end
  local out = capture(cmd .. " " .. q(self.url .. path) .. " 2>/dev/null")
  local resp, code = out:match("^(.*)\n(%d+)$")
  local headers = {}
  for name, value in (read_file(hf) or ""):gmatch("([%w%-]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return tonumber(code) or 0, resp or out, headers
end

-- Stops nginx (waiting for the master to exit) and removes the prefix.
function Server:stop()
  if self.started then
    local pid = (read_file(self.prefix .. "/logs/nginx.pid") or ""):match("%d+")
    run(self:cmd(" -s stop >/dev/null 2>&1"))
    if pid then
      for _ = 1, 50 do
        if not alive(pid) then break end
        os.execute("sleep 0.1")
      end
      if alive(pid) then run("kill -9 " .. pid .. " 2>/dev/null") end
    end
    self.started = false
  end
  run("rm -rf " .. q(self.prefix))
end

local root_user
local function running_as_root()
  if root_user == nil then root_user = capture("id -u"):gsub("%s+$", "") == "0" end
  return root_user
end

-- start(template, ready_path) → server (raises on failure). ready_path is
-- polled until it answers 200.
function _M.start(template, ready_path)
  local prefix = capture("mktemp -d /tmp/astrocyte-nginx.XXXXXX"):gsub("%s+$", "")
  assert(prefix ~= "" and prefix:sub(1, 1) == "/", "mktemp -d failed")
  local self = setmetatable({ prefix = prefix, started = false }, Server)
  -- Workers run as nobody when nginx is started by root: the prefix must be
  -- traversable and data/ (the SQLite file and its journal) writable.
  assert(run("mkdir -p " .. q(prefix .. "/conf") .. " " .. q(prefix .. "/logs") .. " "
    .. q(prefix .. "/tmp") .. " " .. q(prefix .. "/data")
    .. " && chmod 755 " .. q(prefix) .. " && chmod 1777 " .. q(prefix .. "/data")))
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) % 100000)
  local base = math.random(20000, 39000)
  local last_log = ""
  for attempt = 0, 19 do
    self.port = base + attempt * 37
    local conf = template:gsub("@SOURCE_DIR@", _M.SOURCE_DIR):gsub("@BUILD_DIR@", _M.BUILD_DIR)
      :gsub("@PORT@", tostring(self.port)):gsub("@PORT(%d)@", function(i) return tostring(self.port + tonumber(i)) end)
    -- Started by root, nginx runs its workers as nobody, who cannot read a
    -- checkout under /root (mode 700, where a root user's clone lands): run
    -- them as root too. (nginx ignores `user` when not started by root.)
    if running_as_root() then conf = "user root;\n" .. conf end
    assert(not conf:find("@[%u_]+@"), "unreplaced placeholder in nginx.conf")
    write_file(prefix .. "/conf/nginx.conf", conf)
    write_file(prefix .. "/logs/error.log", "")
    if run(self:cmd(" >" .. q(prefix .. "/logs/startup.log") .. " 2>&1")) then
      self.started = true
      break
    end
    last_log = self:error_log() .. (read_file(prefix .. "/logs/startup.log") or "")
    if not last_log:find("Address already in use", 1, true) then break end
  end
  if not self.started then
    self:stop()
    error("nginx did not start; its last lines:\n" .. require("support.output").tail(last_log))
  end
  self.url = "http://127.0.0.1:" .. self.port
  -- Readiness: the master has bound the port; wait for a worker to answer.
  for _ = 1, 50 do
    if self:http("GET", ready_path) == 200 then return self end
    os.execute("sleep 0.1")
  end
  local log = self:error_log()
  self:stop()
  error("nginx not answering on " .. self.url .. "\nerror.log, last lines:\n" .. require("support.output").tail(log))
end

return _M
