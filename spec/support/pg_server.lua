-- spec/support/pg_server.lua: real PostgreSQL servers for the postgres
-- provider's specs and bench. start() runs tools/pglite/server.mjs (PGlite +
-- pgvector over the wire protocol) on 127.0.0.1, on a port the OS picks or
-- a given one, optionally persisting to a directory, and waits (bounded) for
-- its ready line. The server watches this process and exits when it is
-- gone, so an aborted run leaves nothing behind. targets() lists the servers
-- a spec runs against: PGlite always, plus the server of ASTRO_PG_DSN when
-- that variable is set.
local output = require "support.output"
local _M = {}

local root = os.getenv("ASTRO_SOURCE_DIR") or "."
_M.root = root

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local function sleep(s) os.execute("sleep " .. s) end

-- os.execute's success value differs: true on 5.4, 0 on LuaJIT.
local function run_ok(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function alive(pid)
  return run_ok("kill -0 " .. pid .. " 2>/dev/null")
end

-- The pid of this Lua process (the shell's parent).
local my_pid
local function self_pid()
  if not my_pid then
    local p = io.popen("echo $PPID")
    my_pid = tonumber(p:read("*l"))
    p:close()
  end
  return my_pid
end

-- Returns true, or nil and why PGlite cannot run here (actionable).
function _M.available()
  local p = io.popen("command -v node 2>/dev/null")
  local node = p:read("*l")
  p:close()
  if not node or node == "" then
    return nil, "node is not installed: run scripts/setup --test (installs nodejs and npm, then tools/pglite's packages)"
  end
  local f = io.open(root .. "/tools/pglite/node_modules/@electric-sql/pglite-socket/package.json", "rb")
  if not f then
    return nil, "tools/pglite/node_modules is missing: run scripts/setup --test (npm ci in tools/pglite; needs the npm registry)"
  end
  f:close()
  return true
end

local Server = {}
Server.__index = Server

-- start({port?, data?, timeout_s = 60}) → server {port, dsn, pid, data} | nil, err.
function _M.start(opts)
  opts = opts or {}
  local ok, why = _M.available()
  if not ok then return nil, why end
  local log = os.tmpname()
  -- Under the sanitizer pass LD_PRELOAD carries libasan for the Lua
  -- interpreter; node must not inherit it.
  local args = { "--port", tostring(opts.port or 0), "--watch-pid", tostring(self_pid()) }
  if opts.data then args[#args + 1] = "--data"; args[#args + 1] = opts.data end
  local cmd = "cd " .. sh_quote(root .. "/tools/pglite") .. " && exec env -u LD_PRELOAD node server.mjs "
    .. table.concat(args, " ") .. " >" .. sh_quote(log) .. " 2>&1 </dev/null & echo $!"
  local p = io.popen(cmd)
  local pid = tonumber(p:read("*l"))
  p:close()
  if not pid then return nil, "pglite: could not start node" end
  local deadline = os.time() + (opts.timeout_s or 60)
  while os.time() <= deadline do
    local out = read_all(log)
    local port = out:match("pglite: ready on 127%.0%.0%.1:(%d+)")
    if port then
      local self = setmetatable({ pid = pid, port = tonumber(port), data = opts.data, log = log }, Server)
      self.dsn = "host=127.0.0.1 port=" .. port .. " user=postgres dbname=postgres sslmode=disable"
      return self
    end
    if not alive(pid) then
      os.remove(log)
      return nil, "pglite server exited before it was ready; its last lines:\n" .. output.tail(out)
    end
    sleep(0.1)
  end
  os.execute("kill -9 " .. pid .. " 2>/dev/null")
  local out = read_all(log)
  os.remove(log)
  return nil, "pglite server not ready within " .. (opts.timeout_s or 60) .. " s; its last lines:\n" .. output.tail(out)
end

-- Stops the server (SIGTERM, or SIGKILL when hard) and waits up to 10 s for
-- the process to be gone. Idempotent.
function Server:stop(hard)
  if not self.pid then return true end
  os.execute("kill " .. (hard and "-9 " or "") .. self.pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not alive(self.pid) then break end
    sleep(0.1)
  end
  if alive(self.pid) then os.execute("kill -9 " .. self.pid .. " 2>/dev/null"); sleep(0.2) end
  self.pid = nil
  os.remove(self.log)
  return true
end

-- A fresh temporary directory.
function _M.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

function _M.rmdir(d)
  if d and d:match("^/tmp/") then os.execute("rm -rf " .. sh_quote(d)) end
end

-- The servers to run against: { {name, pool_size, start = fn → dsn | nil, err,
-- stop = fn} }. PGlite serves one connection (pool_size 1).
function _M.targets()
  local list = {
    { name = "pglite", pool_size = 1,
      start = function(t)
        local srv, err = _M.start()
        if not srv then return nil, err end
        t.server = srv
        return srv.dsn
      end,
      stop = function(t) if t.server then t.server:stop(); t.server = nil end end },
  }
  local dsn = os.getenv("ASTRO_PG_DSN")
  if dsn and dsn ~= "" then
    list[#list + 1] = { name = "native", pool_size = 4,
      start = function() return dsn end, stop = function() end }
  end
  return list
end

-- A unique schema name for one test.
local counter = 0
function _M.schema(prefix)
  counter = counter + 1
  return string.format("%s_%d_%d_%d", prefix or "t", self_pid(), os.time() % 100000, counter)
end

return _M
