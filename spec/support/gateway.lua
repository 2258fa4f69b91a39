-- spec/support/gateway.lua: runs `bin/astrocyte serve` (the REST gateway on
-- nginx) as a process for the specs under spec/serve/, on a free loopback
-- port (retrying on "Address already in use"), and talks to it with curl.
--
--   local gateway = require "support.gateway"
--   local g = gateway.start({ workers = 2, args = { "--rate-limit", "20" },
--                             env = { ASTROCYTE_AUTH_MODE = "api_key", ... },
--                             config = "<JSON engine config>" })
--   local status, body, headers = g:request("POST", "/v1/retain", json_text, { ["X-Api-Key"] = k })
--   local status, value = g:json("POST", "/v1/recall", { query = ..., bank_id = ... }, headers)
--   local rc = g:stop()        -- SIGTERM, waits, returns the exit code
--
-- The process writes its exit code to a file when it ends, so stop() can
-- check that SIGTERM ends it cleanly.
local nginx = require "support.nginx"
local util = require "astrocyte.util"

local _M = {}
local G = {}
G.__index = G

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local run, capture, write_file = nginx.run, nginx.capture, nginx.write_file

_M.read_file = nginx.read_file
_M.SOURCE_DIR, _M.BUILD_DIR = nginx.SOURCE_DIR, nginx.BUILD_DIR
_M.skip = nginx.skip

-- The shell command that runs the gateway in the background and records
-- its pid and, when it ends, its exit code.
function G:_launch(port)
  local env = { "ASTRO_BUILD_DIR=" .. q(_M.BUILD_DIR) }
  for k, v in pairs(self.env) do env[#env + 1] = k .. "=" .. q(v) end
  local argv = { q(_M.SOURCE_DIR .. "/bin/astrocyte"), "--db", q(self.db) }
  if self.config_file then argv[#argv + 1] = "--config"; argv[#argv + 1] = q(self.config_file) end
  for _, a in ipairs({ "serve", "--listen", "127.0.0.1:" .. port, "--workers", tostring(self.workers) }) do
    argv[#argv + 1] = q(a)
  end
  if self.prefix then argv[#argv + 1] = "--prefix " .. q(self.prefix) end
  for _, a in ipairs(self.args) do argv[#argv + 1] = q(a) end
  os.remove(self.dir .. "/rc")
  local inner = table.concat(env, " ") .. " " .. table.concat(argv, " ") .. " >" .. q(self.dir .. "/out.log")
    .. " 2>&1 & echo $! >" .. q(self.dir .. "/pid") .. "; wait $!; echo $? >" .. q(self.dir .. "/rc")
  assert(run("( " .. inner .. " ) >/dev/null 2>&1 &"))
end

function G:output() return _M.read_file(self.dir .. "/out.log") or "" end
function G:exit_code()
  local rc = _M.read_file(self.dir .. "/rc")
  return rc and tonumber(rc:match("%d+")) or nil
end
function G:pid() return tonumber((_M.read_file(self.dir .. "/pid") or ""):match("%d+")) end

-- request(method, path, body?, headers?) → status (0: no answer), body, headers (lower-case names).
function G:request(method, path, body, headers)
  local hf = self.dir .. "/resp-headers"
  os.remove(hf)
  local cmd = { "curl -s --max-time 20 -D", q(hf), "-o - -w '\\n%{http_code}' -X", q(method) }
  for k, v in pairs(headers or {}) do cmd[#cmd + 1] = "-H " .. q(k .. ": " .. v) end
  if body then
    local bf = self.dir .. "/req-body"
    write_file(bf, body)
    if not (headers and (headers["Content-Type"] or headers["content-type"])) then
      cmd[#cmd + 1] = "-H 'Content-Type: application/json'"
    end
    cmd[#cmd + 1] = "--data-binary @" .. q(bf)
  end
  cmd[#cmd + 1] = q(self.url .. path) .. " 2>/dev/null"
  local out = capture(table.concat(cmd, " "))
  local resp, code = out:match("^(.*)\n(%d+)$")
  local h = {}
  for name, value in (_M.read_file(hf) or ""):gmatch("([%w%-]+):%s*([^\r\n]*)") do h[name:lower()] = value end
  return tonumber(code) or 0, resp or out, h
end

-- json(method, path, value?, headers?) → status, decoded body (raises if not JSON), headers, raw.
function G:json(method, path, value, headers)
  local body = value
  if type(value) == "table" then body = assert(util.encode(value)) end
  local status, raw, h = self:request(method, path, body, headers)
  local v = util.json.decode(raw)
  assert(v ~= nil, "not JSON (HTTP " .. status .. "): " .. raw .. "\ngateway output:\n" .. self:output())
  return status, v, h, raw
end

-- stop(signal = "TERM") → exit code (nil if it did not exit within 10 s;
-- then it is killed).
function G:stop(signal)
  local pid = self:pid()
  if pid and self:exit_code() == nil then
    run("kill -" .. (signal or "TERM") .. " " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if self:exit_code() ~= nil then break end
      os.execute("sleep 0.1")
    end
  end
  local rc = self:exit_code()
  if rc == nil and pid then
    local master = self.prefix and tonumber((_M.read_file(self.prefix .. "/logs/nginx.pid") or ""):match("%d+") or "")
    run("kill -9 " .. pid .. " 2>/dev/null")
    if master then run("kill -9 " .. master .. " 2>/dev/null") end
  end
  return rc
end

function G:cleanup()
  self:stop()
  run("rm -rf " .. q(self.dir))
end

-- start(o) → gateway (raises with its output when it does not become ready).
-- o: workers (1), args (extra serve options), env (table), config (engine
-- config text, JSON), ready_path ("/ready"), prefix (false: let serve make
-- and remove a temporary one).
function _M.start(o)
  o = o or {}
  local dir = capture("mktemp -d /tmp/astrocyte-gw.XXXXXX"):gsub("%s+$", "")
  assert(dir:sub(1, 1) == "/", "mktemp -d failed")
  local self = setmetatable({ dir = dir, db = dir .. "/astrocyte.db", workers = o.workers or 1,
                              args = o.args or {}, env = o.env or {},
                              prefix = o.prefix ~= false and dir .. "/prefix" or nil }, G)
  if o.config then
    self.config_file = dir .. "/astrocyte.json"
    write_file(self.config_file, o.config)
  end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) % 100000)
  local base = math.random(20000, 39000)
  for attempt = 0, 9 do
    self.port = base + attempt * 41
    self.url = "http://127.0.0.1:" .. self.port
    self:_launch(self.port)
    for _ = 1, 100 do
      if self:exit_code() ~= nil then break end
      if self:request("GET", o.ready_path or "/ready") == 200 then return self end
      os.execute("sleep 0.1")
    end
    local out = self:output()
    self:stop("KILL")
    if not out:find("Address already in use", 1, true) then
      run("rm -rf " .. q(dir))
      error("astrocyte serve did not become ready; its output:\n" .. require("support.output").tail(out))
    end
  end
  run("rm -rf " .. q(dir))
  error("astrocyte serve: no free port found")
end

return _M
