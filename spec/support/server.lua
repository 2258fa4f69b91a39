-- spec/support/server.lua: starts and stops the loopback servers of
-- spec/support/servers/ for provider specs.
--
--   local server = require "support.server"
--   local s = server.start("openai", { "--api-key", "sk-..." })
--   s.url            -- "http://127.0.0.1:<port>"
--   s:fault{ kind = "429", count = 1, retry_after = "1" }
--   s:stats()        -- { requests = n, by_path = {...} }
--   s:reset()        -- clears data, faults and counters
--   s:stop()         -- kills the process (teardown); idempotent
--
-- The server runs /usr/bin/python3 on a free port, prints "READY <port>",
-- and exits by itself if this Lua process dies (it watches our pid), so a
-- crashed spec leaves no process behind. start() waits at most 10 s.
local curl = require "astrocyte.http_curl"
local cjson = require "cjson.safe"

local _M = {}
local mt = { __index = _M }

local PYTHON = os.getenv("ASTRO_PYTHON") or "/usr/bin/python3"

local function source_dir()
  return os.getenv("ASTRO_SOURCE_DIR") or "."
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- Starts server `name` (spec/support/servers/<name>_server.py) with extra
-- argv; returns the handle or raises with the server's output.
-- A name ending in ".py" is the script's file name itself
-- (start("webhook_receiver.py", ...)).
function _M.start(name, args)
  local file = name:match("%.py$") and name or (name .. "_server.py")
  local script = source_dir() .. "/spec/support/servers/" .. file
  local log = os.tmpname()
  local p = io.popen("echo $PPID")
  local parent = p:read("*l")
  p:close()
  local argv = { PYTHON, "-u", script, "--port", "0", "--parent-pid", parent }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  local quoted = {}
  for i, a in ipairs(argv) do quoted[i] = sh_quote(a) end
  local cmd = table.concat(quoted, " ") .. " >" .. sh_quote(log) .. " 2>&1 & echo $!"
  p = io.popen(cmd)
  local pid = p:read("*l")
  p:close()
  local self = setmetatable({ name = name, pid = tonumber(pid), log = log, http = curl.new() }, mt)
  for _ = 1, 200 do
    local out = read_all(log)
    local port = out:match("READY (%d+)")
    if port then
      self.port = tonumber(port)
      self.host = "127.0.0.1:" .. port
      self.url = "http://127.0.0.1:" .. port
      return self
    end
    curl.sleep_ms(50)
  end
  local out = read_all(log)
  self:stop()
  error("server " .. name .. " did not start within 10 s; its last lines:\n" .. require("support.output").tail(out), 2)
end

-- Sends an admin request; returns the decoded JSON body.
function _M:admin(method, path, body)
  local res, err = self.http:request { method = method, url = self.url .. path,
    headers = { ["Content-Type"] = "application/json" }, body = body and cjson.encode(body) or nil,
    timeout_ms = 5000 }
  if not res then error("admin " .. path .. ": " .. tostring(err), 2) end
  return cjson.decode(res.body)
end

-- Queues a fault: { kind = "429"|"500"|"503"|"delay"|"reset"|"malformed"|"close", skip = n,
-- count = n, path = "substring", retry_after = "1", delay_ms = n }.
function _M:fault(f) return self:admin("POST", "/__admin/faults", f) end
function _M:stats() return self:admin("GET", "/__admin/stats") end
function _M:reset() return self:admin("POST", "/__admin/reset", {}) end

-- Kills the server and waits (boundedly) for it to exit.
function _M:stop()
  if self.pid then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    for _ = 1, 40 do
      local r = os.execute("kill -0 " .. self.pid .. " 2>/dev/null")
      if not (r == true or r == 0) then break end
      curl.sleep_ms(25)
    end
    os.execute("kill -9 " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
  if self.http then self.http:close(); self.http = nil end
  if self.log then os.remove(self.log); self.log = nil end
end

-- Returns the server's output so far (for failure messages).
function _M:output() return self.log and read_all(self.log) or "" end

return _M
