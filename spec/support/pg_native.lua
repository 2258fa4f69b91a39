-- spec/support/pg_native.lua: a real PostgreSQL 15 server for the specs
-- that PGlite cannot serve (several connections at once, pg_sleep, the
-- password methods of pg_hba.conf). start() runs initdb in a fresh
-- temporary directory and postgres on 127.0.0.1 at a free port (no unix
-- socket), as the postgres (or nobody) user when run by root, since
-- postgres refuses root. A watcher stops the server when this process is
-- gone, so an aborted run leaves nothing behind.
--
-- TLS is on (server.cert: the self-signed certificate for 127.0.0.1).
-- Roles made by start(): postgres (superuser, SCRAM), wire_trust (trust),
-- wire_clear (password: cleartext), wire_md5 (md5, stored as md5),
-- wire_scram (scram-sha-256); every password is PASSWORD below.
local _M = { PASSWORD = "s3cret 'quoted' \\pw" }

local BIN = "/usr/lib/postgresql/15/bin/"

local nginx = require "support.nginx"
local q, run, capture, write_file = nginx.q, nginx.run, nginx.capture, nginx.write_file
local function read_file(path) return nginx.read_file(path) or "" end

-- Why a server cannot start here, or nil.
function _M.unavailable()
  if not run("test -x " .. BIN .. "initdb -a -x " .. BIN .. "postgres") then
    return "PostgreSQL 15 server binaries are missing (" .. BIN .. "): run scripts/setup --test (postgresql-15)"
  end
end

local Server = {}
Server.__index = Server

-- The command prefix that runs as the server's user. Under the sanitizer
-- pass LD_PRELOAD carries libasan for the Lua interpreter; the server must
-- not inherit it (postgres hangs under it).
local function as_user()
  if capture("id -u"):gsub("%s+$", "") ~= "0" then return "env -u LD_PRELOAD ", nil end
  local user = run("id -u postgres >/dev/null 2>&1") and "postgres" or "nobody"
  return "env -u LD_PRELOAD runuser -u " .. user .. " -- ", user
end

-- start() → server {port, dir, dsn(user), pid} | raises.
function _M.start()
  local why = _M.unavailable()
  assert(not why, why)
  local dir = capture("mktemp -d /tmp/astrocyte-pg.XXXXXX"):gsub("%s+$", "")
  assert(dir:match("^/tmp/astrocyte%-pg%."), "mktemp failed")
  local su, user = as_user()
  if user then assert(run("chown " .. user .. " " .. q(dir))) end
  write_file(dir .. "/pw", _M.PASSWORD .. "\n")
  if user then run("chown " .. user .. " " .. q(dir .. "/pw")) end
  local ok = run(su .. BIN .. "initdb -D " .. q(dir .. "/data") .. " -U postgres -A scram-sha-256 --pwfile="
    .. q(dir .. "/pw") .. " -E UTF8 --no-sync >" .. q(dir .. "/initdb.log") .. " 2>&1")
  assert(ok, "initdb failed:\n" .. read_file(dir .. "/initdb.log"))
  write_file(dir .. "/data/pg_hba.conf", table.concat({
    "host all wire_trust 127.0.0.1/32 trust",
    "host all wire_clear 127.0.0.1/32 password",
    "host all wire_md5 127.0.0.1/32 md5",
    "host all all 127.0.0.1/32 scram-sha-256", "" }, "\n"))
  if user then run("chown " .. user .. " " .. q(dir .. "/data/pg_hba.conf")) end
  -- TLS: a self-signed certificate for 127.0.0.1 (clients choose sslmode).
  assert(run("env -u LD_PRELOAD openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1"
    .. " -addext subjectAltName=IP:127.0.0.1 -keyout " .. q(dir .. "/server.key") .. " -out " .. q(dir .. "/server.crt")
    .. " >/dev/null 2>&1 && chmod 600 " .. q(dir .. "/server.key")), "openssl could not make the server certificate")
  if user then run("chown " .. user .. " " .. q(dir .. "/server.key") .. " " .. q(dir .. "/server.crt")) end
  local self = setmetatable({ dir = dir, cert = dir .. "/server.crt" }, Server)
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0) % 100000)
  local base = math.random(40000, 55000)
  local ppid = capture("echo $PPID"):gsub("%s+$", "")
  for attempt = 0, 9 do
    local port = base + attempt * 53
    local log = dir .. "/server.log"
    write_file(log, "")
    if user then run("chown " .. user .. " " .. q(log)) end
    local pid = capture(su .. BIN .. "postgres -D " .. q(dir .. "/data") .. " -p " .. port
      .. " -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=40"
      .. " -c ssl=on -c ssl_cert_file=" .. q(dir .. "/server.crt") .. " -c ssl_key_file=" .. q(dir .. "/server.key")
      .. " >" .. q(log) .. " 2>&1 </dev/null & echo $!"):match("%d+")
    for _ = 1, 100 do
      local out = read_file(log)
      if out:find("ready to accept connections", 1, true) then
        -- The postmaster's own pid (pid is runuser's when run by root).
        self.port, self.pid = port, read_file(dir .. "/data/postmaster.pid"):match("^%d+") or pid
        break
      end
      if out:find("could not bind", 1, true) or out:find("FATAL", 1, true) then break end
      os.execute("sleep 0.1")
    end
    if self.port then break end
    run("kill -9 " .. pid .. " 2>/dev/null")
  end
  if not self.port then
    local log = read_file(dir .. "/server.log")
    self:stop()
    error("postgres did not start; its log:\n" .. log)
  end
  -- Stop the server when the spec process is gone (an aborted run).
  run("(while kill -0 " .. ppid .. " 2>/dev/null; do sleep 1; done; kill -INT " .. self.pid
    .. " 2>/dev/null; rm -rf " .. q(dir) .. ") >/dev/null 2>&1 </dev/null &")
  local pq = require "astrocyte.pq"
  local conn = assert(pq.connect(self:dsn("postgres")))
  local pw = _M.PASSWORD:gsub("'", "''")
  for _, sql in ipairs({
    "CREATE ROLE wire_trust LOGIN SUPERUSER",
    "CREATE ROLE wire_clear LOGIN PASSWORD '" .. pw .. "'",
    "SET password_encryption = 'md5'",
    "CREATE ROLE wire_md5 LOGIN PASSWORD '" .. pw .. "'",
    "SET password_encryption = 'scram-sha-256'",
    "CREATE ROLE wire_scram LOGIN SUPERUSER PASSWORD '" .. pw .. "'",
  }) do
    assert(conn:exec_params(sql, nil))
  end
  conn:close()
  return self
end

-- A key=value connection string for user (password included unless
-- password == false).
function Server:dsn(user, password)
  local s = "host=127.0.0.1 port=" .. self.port .. " dbname=postgres sslmode=disable user=" .. (user or "postgres")
  if password ~= false then s = s .. " password='" .. (password or _M.PASSWORD):gsub("\\", "\\\\"):gsub("'", "\\'") .. "'" end
  return s
end

-- Stops the server (fast shutdown, waits up to 10 s) and removes its directory.
function Server:stop()
  if self.pid then
    run("kill -INT " .. self.pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not run("kill -0 " .. self.pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.1")
    end
    run("kill -9 " .. self.pid .. " 2>/dev/null")
    self.pid = nil
  end
  if self.dir and self.dir:match("^/tmp/astrocyte%-pg%.") then run("rm -rf " .. q(self.dir)) end
  self.dir = nil
  return true
end

return _M
