-- astrocyte.providers.postgres.wire: a PostgreSQL client in Lua speaking
-- the frontend/backend protocol v3 itself, so that inside nginx a query
-- waits on an ngx_lua cosocket (the worker serves other requests meanwhile)
-- instead of blocking the worker in libpq. It is a drop-in for astrocyte.pq:
-- connect(conninfo) gives a connection with the same methods (exec_params,
-- prepare, exec_prepared, status, transaction_status, reset, close,
-- server_version), the same result shape (rows keyed by column, integers,
-- numbers, booleans, other types as text, NULL as an absent key) and the
-- same errors ("pq: ERROR:  ... (SQLSTATE xxxxx)", sqlstate).
--
-- Transport: a cosocket where the nginx phase allows one; elsewhere
-- LuaSocket (blocking) when installed. A cosocket belongs to the request
-- that made it while the connection outlives requests, so after each
-- exchange the socket goes back to nginx's keepalive pool under a name only
-- this connection uses, and the next call (maybe in another request) takes
-- it out again. If nginx or the server dropped it meanwhile, the session
-- (and its prepared statements) is gone: the call fails before sending
-- anything and status() turns "bad", which makes the pool reconnect.
--
-- Inside nginx a host name needs a `resolver` directive (cosockets do not
-- read /etc/hosts); an IP address or a unix socket directory does not.
-- TLS only over cosockets (outside nginx "prefer" stays plain text and
-- "require" fails). Not supported: several hosts, .pgpass, sslrootcert and
-- client certificates, COPY, channel binding, the "LINE n:" excerpt libpq
-- adds under a syntax error.
local auth = require "astrocyte.providers.postgres.wire_auth"
local util = require "astrocyte.util"
local fmt, byte, sub, concat = string.format, string.byte, string.sub, table.concat
local type, tostring, tonumber, setmetatable, pcall = type, tostring, tonumber, setmetatable, pcall

local _M = { _NAME = "wire" }
local Conn = {}
Conn.__index = Conn

-- True inside nginx in a phase that has cosockets.
_M.cosockets = require("astrocyte.net.http_ngx").cosockets_available

local has_luasocket
function _M.luasocket()
  if has_luasocket == nil then has_luasocket = (pcall(require, "socket")) end
  return has_luasocket
end

-- Where this phase can talk to the server: "cosocket", "luasocket" or nil, why.
function _M.transport()
  if _M.cosockets() then return "cosocket" end
  if _M.luasocket() then return "luasocket" end
  return nil, ngx and ("the nginx phase " .. tostring(ngx.get_phase and ngx.get_phase()) .. " has no cosockets and LuaSocket is not installed")
    or "LuaSocket is not installed (the wire driver outside nginx needs it; use driver libpq)"
end

local codec = require "astrocyte.providers.postgres.wire_codec"
local i32, u32, s32, u16, cstr, msg = codec.i32, codec.u32, codec.s32, codec.u16, codec.cstr, codec.msg
local SYNC, DESCRIBE_PORTAL, EXECUTE = codec.SYNC, codec.DESCRIBE_PORTAL, codec.EXECUTE
local encode_params, bind_msg, parse_msg = codec.encode_params, codec.bind_msg, codec.parse_msg
local decode, fields_of, error_text = codec.decode, codec.fields_of, codec.error_text

---------------------------------------------------------------------------
-- Transports: open/send/recv/release/close over a cosocket or LuaSocket.
---------------------------------------------------------------------------

-- Reads exactly n bytes.
function Conn:_recv(n)
  if n == 0 then return "" end
  local data, err, partial = self.sock:receive(n)
  if not data then return nil, err, partial end
  return data
end

function Conn:_send(data)
  local sock = self.sock
  if self.kind == "cosocket" then return sock:send(data) end
  local i = 1
  while i <= #data do
    local last, err, partial = sock:send(data, i)
    if not last then
      if not partial or partial < i then return nil, err end
      last = partial
    end
    i = last + 1
  end
  return true
end

-- Makes a socket and connects it; for a cosocket, takes this connection's
-- socket out of nginx's keepalive pool. Returns true, reused | nil, err.
function Conn:_connect()
  local c = self.c
  if self.kind == "cosocket" then
    local sock = ngx.socket.tcp()
    sock:settimeouts(c.connect_timeout, 3600000, 3600000)
    local ok, err
    if c.host:sub(1, 1) == "/" then
      ok, err = sock:connect("unix:" .. c.host .. "/.s.PGSQL." .. c.port, { pool = self.pool_name, pool_size = 1 })
    else
      ok, err = sock:connect(c.host, c.port, { pool = self.pool_name, pool_size = 1 })
    end
    if not ok then return nil, err end
    self.sock = sock
    return true, (sock:getreusedtimes() or 0) > 0
  end
  if c.host:sub(1, 1) == "/" then return nil, "unix sockets need nginx (cosockets); give host as an address" end
  local socket = require "socket"
  local sock = socket.tcp()
  sock:settimeout(c.connect_timeout / 1000)
  local ok, err = sock:connect(c.host, c.port)
  if not ok then sock:close(); return nil, err end
  sock:settimeout(3600)
  sock:setoption("tcp-nodelay", true)
  self.sock = sock
  return true, false
end

-- After an exchange: a cosocket returns to the keepalive pool (no idle
-- timeout: the pool owns the connection), a LuaSocket stays open.
function Conn:_release()
  if self.kind ~= "cosocket" or not self.sock then return end
  local ok = self.sock:setkeepalive(0)
  if not ok then self.bad = true end
  self.sock = nil
end

function Conn:_drop(why)
  if self.sock then pcall(self.sock.close, self.sock) end
  self.sock, self.bad = nil, true
  return why
end

-- Reads one message → type, body | nil, err.
function Conn:_read()
  local head, err = self:_recv(5)
  if not head then return nil, err end
  local n = u32(head, 2) - 4
  if n < 0 or n > 1073741824 then return nil, "malformed message length from the server" end
  local body, berr = self:_recv(n)
  if not body then return nil, berr end
  return sub(head, 1, 1), body
end

---------------------------------------------------------------------------
-- Startup.
---------------------------------------------------------------------------

local TLS_REQUIRED = { require = true, ["verify-ca"] = true, ["verify-full"] = true }
local AUTH_NAMES = { [0] = "trust", [3] = "password", [5] = "md5", [10] = "scram-sha-256" }

-- Authenticates and reads until the first ReadyForQuery. Returns true or
-- nil, err, sqlstate.
function Conn:_startup()
  local c, parts = self.c, { i32(196608) }
  for _, k in ipairs({ "user", "database", "client_encoding", "application_name", "options" }) do
    local v = c.params[k]
    if v ~= nil and v ~= "" then parts[#parts + 1] = k .. "\0" .. v .. "\0" end
  end
  parts[#parts + 1] = "\0"
  local body = concat(parts)
  local ok, err = self:_send(i32(#body + 4) .. body)
  if not ok then return nil, err end
  local scram
  while true do
    local t, b = self:_read()
    if not t then return nil, b end
    if t == "R" then
      local code, reply = u32(b, 1), nil
      self.auth_method = self.auth_method or AUTH_NAMES[code]
      if code == 3 or code == 5 then
        local pw, perr = auth.need_password(c)
        if not pw then return nil, perr end
        reply = msg("p", (code == 3 and pw or auth.md5_password(c.user, pw, sub(b, 5, 8))) .. "\0")
      elseif code == 10 then
        local mechs, i = {}, 5
        while i <= #b and byte(b, i) ~= 0 do
          local m; m, i = cstr(b, i); mechs[m] = true
        end
        if not mechs["SCRAM-SHA-256"] then return nil, "the server offers no SASL mechanism this client supports (SCRAM-SHA-256)" end
        local pw, perr = auth.need_password(c)
        if not pw then return nil, perr end
        scram = auth.scram(pw)
        reply = msg("p", "SCRAM-SHA-256\0" .. i32(#scram.first) .. scram.first)
      elseif code == 11 then
        if not scram then return nil, "unexpected SASL continuation from the server" end
        local final, serr = scram:final(sub(b, 5))
        if not final then return nil, serr end
        reply = msg("p", final)
      elseif code == 12 then
        if not scram then return nil, "unexpected SASL final message from the server" end
        local vok, verr = scram:verify(sub(b, 5))
        if not vok then return nil, verr end
      elseif code ~= 0 then
        return nil, fmt("authentication method %d requested by the server is not supported by the wire driver", code)
      end
      if reply then
        ok, err = self:_send(reply)
        if not ok then return nil, err end
      end
    elseif t == "S" then
      local k, i = cstr(b, 1)
      self.params[k] = cstr(b, i)
    elseif t == "E" then
      local f = fields_of(b)
      return nil, error_text(f):gsub("^pq: ", ""), f.C
    elseif t == "Z" then
      self.txs = sub(b, 1, 1)
      return true
    end -- K (cancel key) and N (notices) are not needed
  end
end

-- Whether this driver can serve conninfo here: driver "auto" leaves to
-- libpq a string with options this parser does not know, and TLS outside
-- cosockets.
function _M.supports(conninfo)
  local c = auth.parse(conninfo)
  return c ~= nil and (_M.cosockets() or not TLS_REQUIRED[c.sslmode])
end

-- SSLRequest and, when the server agrees, the TLS handshake (cosockets
-- only: LuaSocket has no TLS). sslmode as libpq: disable/allow plain,
-- prefer TLS when offered, require TLS, verify-ca the chain against
-- nginx's lua_ssl_trusted_certificate, verify-full also the host name.
function Conn:_tls()
  local c = self.c
  local mode = c.sslmode
  if mode == "disable" or mode == "allow" or c.host:sub(1, 1) == "/" then return true end
  if self.kind ~= "cosocket" then
    if TLS_REQUIRED[mode] then return nil, "sslmode " .. mode .. " needs nginx (TLS over cosockets); use driver libpq" end
    return true
  end
  local ok, err = self:_send(i32(8) .. i32(80877103))
  if not ok then return nil, err end
  local b, rerr = self:_recv(1)
  if not b then return nil, rerr end
  if b == "N" then
    if TLS_REQUIRED[mode] then return nil, "server does not support SSL, but SSL was required" end
    return true
  end
  if b ~= "S" then return nil, "unexpected reply to the SSL request" end
  local sok, serr = self.sock:sslhandshake(false, mode == "verify-full" and c.host or nil,
    mode == "verify-ca" or mode == "verify-full")
  if not sok then return nil, "TLS handshake failed: " .. tostring(serr) end
  self.tls = true
  return true
end

-- wire.connect(conninfo) → conn | nil, err (astrocyte.pq's connect).
function _M.connect(conninfo)
  local kind, why = _M.transport()
  if not kind then return nil, "pq: " .. why end
  local c, perr = auth.parse(conninfo)
  if not c then return nil, "pq: " .. perr end
  local self = setmetatable({ conninfo = conninfo, c = c, kind = kind, params = {}, notices = {}, txs = "I",
                              pool_name = "astrocyte_pg_" .. util.new_id() }, Conn)
  local ok, err = self:_connect()
  if ok then ok, err = self:_tls() end
  if not ok then
    self:_drop()
    return nil, fmt("pq: connection to server at %s, port %d failed: %s", c.host, c.port, tostring(err))
  end
  local sok, serr, state = self:_startup()
  if not sok then
    self:_drop()
    return nil, "pq: " .. tostring(serr), state
  end
  self:_release()
  return self
end

---------------------------------------------------------------------------
-- Statements.
---------------------------------------------------------------------------

-- Sends one extended-protocol exchange (ending in Sync) and reads to
-- ReadyForQuery. Returns res | nil, err, sqlstate.
function Conn:_exchange(data)
  if self.closed then error("pq: connection is closed", 0) end
  if self.bad then return nil, "pq: no connection to the server" end
  if self.busy then return nil, "pq: another command is already in progress" end
  if self.kind == "cosocket" and not _M.cosockets() then
    return nil, "pq: this connection needs cosockets, which the nginx phase " .. tostring(ngx.get_phase()) .. " lacks"
  end
  if not self.sock then
    local ok, reused = self:_connect()
    if not ok then self.bad = true; return nil, "pq: could not reach the server: " .. tostring(reused) end
    if not reused and self.kind == "cosocket" then
      return nil, self:_drop("pq: server closed the connection while it was idle (session lost; nothing was sent)")
    end
  end
  self.busy = true
  local ok, err = self:_send(data)
  if not ok then self.busy = false; return nil, self:_drop("pq: could not send data to server: " .. tostring(err)) end
  local res = { rows = {}, ntuples = 0, cmd_tuples = 0, fields = {} }
  local oids, names, failure = {}, res.fields, nil
  while true do
    local t, b = self:_read()
    if not t then
      self.busy = false
      if failure then self:_drop(); return nil, error_text(failure), failure.C end
      return nil, self:_drop("pq: server closed the connection unexpectedly: " .. tostring(b))
    end
    if t == "D" then
      local row, i = {}, 3
      for j = 1, u16(b, 1) do
        local len = s32(b, i)
        i = i + 4
        if len >= 0 then
          row[names[j]] = decode(oids[j], sub(b, i, i + len - 1))
          i = i + len
        end
      end
      res.ntuples = res.ntuples + 1
      res.rows[res.ntuples] = row
    elseif t == "T" then
      local i = 3
      for j = 1, u16(b, 1) do
        names[j], i = cstr(b, i)
        oids[j] = u32(b, i + 6)
        i = i + 18
      end
    elseif t == "C" then
      res.cmd_tuples = codec.cmd_tuples(cstr(b, 1))
    elseif t == "E" then
      failure = failure or fields_of(b)
      local sev = failure.V or failure.S  -- V: the severity untranslated
      if sev == "FATAL" or sev == "PANIC" then self.bad = true end
    elseif t == "N" then
      local n = self.notices
      n[#n + 1] = fields_of(b)
      if #n > 20 then table.remove(n, 1) end
    elseif t == "S" then
      local k, i = cstr(b, 1)
      self.params[k] = cstr(b, i)
    elseif t == "I" then
      failure = failure or { S = "ERROR", M = "empty query" }
    elseif t == "Z" then
      self.txs, self.busy = sub(b, 1, 1), false
      if self.bad then self:_drop() else self:_release() end
      if failure then return nil, error_text(failure), failure.C end
      return res
    end -- 1 2 3 n t s A: nothing to keep
  end
end

function Conn:exec_params(sql, params)
  if type(sql) ~= "string" then error("pq: sql must be a string", 0) end
  local vals, n = encode_params(params)
  return self:_exchange(parse_msg("", sql) .. bind_msg("", vals, n) .. DESCRIBE_PORTAL .. EXECUTE .. SYNC)
end

function Conn:prepare(name, sql)
  if type(name) ~= "string" or type(sql) ~= "string" then error("pq: name and sql must be strings", 0) end
  local res, err, state = self:_exchange(parse_msg(name, sql) .. SYNC)
  if not res then return nil, err, state end
  return true
end

function Conn:exec_prepared(name, params)
  if type(name) ~= "string" then error("pq: name must be a string", 0) end
  local vals, n = encode_params(params)
  return self:_exchange(bind_msg(name, vals, n) .. DESCRIBE_PORTAL .. EXECUTE .. SYNC)
end

function Conn:status()
  return (self.closed or self.bad) and "bad" or "ok"
end

local TXS = { I = "idle", T = "intrans", E = "inerror" }
function Conn:transaction_status()
  if self.closed or self.bad then return "unknown" end
  if self.busy then return "active" end
  return TXS[self.txs] or "unknown"
end

-- server_version_num's shape: 150018 for "15.18", 90603 for "9.6.3".
function Conn:server_version()
  local a, b, c = (self.params.server_version or ""):match("^(%d+)%.?(%d*)%.?(%d*)")
  a, b, c = tonumber(a), tonumber(b) or 0, tonumber(c) or 0
  if not a then return 0 end
  if a >= 10 then return a * 10000 + b end
  return a * 10000 + b * 100 + c
end

-- Terminate and close. Idempotent. Inside nginx the socket is fetched from
-- the keepalive pool first, which needs a cosocket phase (elsewhere nginx
-- closes it when the worker exits).
function Conn:close()
  if self.closed then return true end
  self.closed = true
  if not self.bad and not self.sock and self.kind == "cosocket" and _M.cosockets() then
    local ok, reused = self:_connect()
    if ok and not reused then self:_drop() end
  end
  if self.sock and not self.bad then pcall(self._send, self, msg("X", "")) end
  if self.sock then pcall(self.sock.close, self.sock) end
  self.sock = nil
  return true
end

-- Reconnects with the same connection string (a new session).
function Conn:reset()
  if self.closed then error("pq: connection is closed", 0) end
  self:close()
  local fresh, err = _M.connect(self.conninfo)
  if not fresh then self.bad = true; return nil, err end
  self.closed, self.bad, self.busy = nil, nil, nil
  for k, v in pairs(fresh) do self[k] = v end
  return true
end

function Conn:__tostring()
  return "astrocyte.wire.conn (" .. self.kind .. ")" .. (self.closed and " (closed)" or "")
end

return _M
