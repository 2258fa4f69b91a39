-- astrocyte.providers.postgres.pool: connections for the postgres provider.
-- A pool of N connections (libpq through astrocyte.pq, the wire protocol
-- in Lua through wire.lua, or any object with the same methods:
-- exec_params, prepare, exec_prepared, status, reset, close,
-- transaction_status), statements prepared once per connection, a health check
-- (SELECT 1) on checkout of a connection that saw an error, reconnect with
-- bounded retries and backoff, and a transaction helper that rolls back on
-- any error.
--
-- Why no acknowledged write is lost or applied twice:
--   * a call returns success only after the server acknowledged the
--     statement (or the COMMIT), so an acknowledged write is durable;
--   * a connection lost before a statement or COMMIT was sent (caught by the
--     checkout health check) is repaired first; nothing was applied, so the
--     statement is simply sent on the new connection;
--   * a connection lost mid-statement is ambiguous (applied or not). An
--     idempotent statement (every upsert keyed by (bank_id, id) with the full
--     row, every delete by id, every read) is retried once after reconnect:
--     applying it twice equals applying it once. A non-idempotent one
--     (revision bumps) runs in a transaction: lost before COMMIT was sent →
--     the server rolled it back, retried; lost during COMMIT → returned as an
--     error that says the outcome is unknown, never retried;
--   * a write while the server is down fails after the bounded reconnect
--     attempts and returns nil, err: an error, never a silent loss.
-- Every message passes through mask(), which removes the password.
local ipairs, fmt, tostring = ipairs, string.format, tostring
local setmetatable, pcall = setmetatable, pcall

local _M = {}
local Pool = {}
Pool.__index = Pool

-- SQLSTATEs that mean the connection (not the statement) failed.
local function conn_state(state)
  if not state then return false end
  return state:sub(1, 2) == "08" or state == "57P01" or state == "57P02" or state == "57P03"
end

local function lost(conn, state)
  local ok, st = pcall(conn.status, conn)
  return (not ok) or st ~= "ok" or conn_state(state)
end

local wire = require "astrocyte.providers.postgres.wire"

-- ngx.sleep only exists in phases with cosockets (not init_worker).
local function sleep_ms(pq, ms)
  if wire.cosockets() then return ngx.sleep(ms / 1000) end
  if pq and pq.sleep_ms then return pq.sleep_ms(ms) end
  return require("astrocyte.pq").sleep_ms(ms)
end

-- The driver a connection opened now uses → module, kind. "auto": the wire
-- protocol over cosockets where the nginx phase has them (a query then
-- never blocks the worker) unless the connection string has options it
-- does not know, libpq everywhere else; "wire": the wire protocol always (LuaSocket where there
-- are no cosockets); "libpq".
function Pool:_driver()
  local d = self.driver
  if type(d) == "table" then return d, "custom" end
  if d == "wire" then return wire, wire.cosockets() and "cosocket" or "luasocket" end
  if d == "auto" and wire.cosockets() then
    if self.wire_ok == nil then self.wire_ok = wire.supports(self.conninfo) end
    if self.wire_ok then return wire, "cosocket" end
  end
  return require "astrocyte.pq", "libpq"
end

-- Pool.new(opts) → pool. opts: conninfo (string), size (default 4),
-- driver ("auto" (default) | "libpq" | "wire" | a module with connect),
-- mask (function), retries (reconnect attempts, default 3), backoff_ms
-- (default 50, doubled per attempt), wait_ms (inside nginx, how long a
-- request waits for a busy pool, default 10000), on_connect(conn) → true |
-- nil, err (session setup).
function _M.new(opts)
  local driver = opts.driver or "auto"
  return setmetatable({
    conninfo = opts.conninfo, size = opts.size or 4, driver = driver,
    mask = opts.mask or function(s) return s end,
    retries = opts.retries or 3, backoff_ms = opts.backoff_ms or 50, wait_ms = opts.wait_ms or 10000,
    on_connect = opts.on_connect, slots = {}, idle = {}, names = {}, nnames = 0,
    -- Statement names are unique per pool: a proxy or a multiplexing server
    -- (PGlite serves every client from one session) may share sessions.
    prefix = "astro_" .. require("astrocyte.util").new_id() .. "_",
    label = opts.label or "postgres",
  }, Pool)
end

function Pool:err(msg)
  return self.mask(self.label .. ": " .. tostring(msg))
end

-- Opens one connection and runs on_connect. Returns conn, kind or nil, err.
function Pool:_open()
  local driver, kind = self:_driver()
  local conn, err = driver.connect(self.conninfo)
  if not conn then return nil, self:err("cannot connect: " .. tostring(err)) end
  if self.on_connect then
    local ok, herr = self.on_connect(conn)
    if not ok then conn:close(); return nil, self:err("session setup failed: " .. tostring(herr)) end
  end
  return conn, kind
end

-- Repairs a slot: health check, then reset/reconnect with bounded retries
-- and backoff. Returns true or nil, err.
function Pool:_revive(slot)
  local last
  for attempt = 0, self.retries do
    if attempt > 0 then sleep_ms(self:_driver(), self.backoff_ms * 2 ^ (attempt - 1)) end
    if slot.conn and not lost(slot.conn) then
      local res, _, state = slot.conn:exec_params("SELECT 1", nil)
      if res then slot.suspect = false; return true end
      if not lost(slot.conn, state) then slot.suspect = false; return true end
    end
    if slot.conn then pcall(slot.conn.close, slot.conn) end
    slot.conn, slot.prepared = nil, {}
    local conn, err = self:_open()
    if conn then
      slot.conn, slot.suspect, slot.kind = conn, false, err
      return true
    end
    last = err
  end
  return nil, self:err(fmt("server unreachable after %d reconnect attempts: %s", self.retries + 1, tostring(last)))
end

-- Checks out a connection slot (opening one when fewer than size exist);
-- a suspect slot is health-checked first. Returns slot or nil, err.
function Pool:acquire()
  local slot = table.remove(self.idle)
  if not slot and #self.slots >= self.size and wire.cosockets() then
    -- Requests of one nginx worker share the pool: wait (bounded) for one
    -- of them to give a connection back.
    local deadline = ngx.now() + self.wait_ms / 1000
    repeat ngx.sleep(0.002); slot = table.remove(self.idle) until slot or ngx.now() >= deadline
  end
  if not slot then
    if #self.slots >= self.size then
      return nil, self:err(fmt("pool exhausted (%d connections in use; raise pool_size)", self.size))
    end
    slot = { prepared = {}, suspect = true }
    self.slots[#self.slots + 1] = slot
  end
  -- A connection opened in another kind of phase (libpq in init_worker, a
  -- cosocket one in a request) is replaced by one this phase can use.
  if slot.conn and slot.kind ~= select(2, self:_driver()) then
    pcall(slot.conn.close, slot.conn)
    slot.conn, slot.prepared = nil, {}
  end
  -- A connection closed or broken while idle (status is local, no round
  -- trip) is revived like a suspect one instead of failing the statement.
  if slot.conn and not slot.suspect and lost(slot.conn) then slot.suspect = true end
  if slot.suspect or not slot.conn then
    local ok, err = self:_revive(slot)
    if not ok then self.idle[#self.idle + 1] = slot; return nil, err end
  end
  return slot
end

function Pool:release(slot)
  self.idle[#self.idle + 1] = slot
end

-- Statement name for sql (prepared once per connection); nil past 512
-- distinct statements, which then run unprepared.
function Pool:_name(sql)
  local n = self.names[sql]
  if n then return n end
  if self.nnames >= 512 then return nil end
  self.nnames = self.nnames + 1
  n = self.prefix .. self.nnames
  self.names[sql] = n
  return n
end

-- Runs one statement on slot. Returns res or nil, err, sqlstate.
function Pool:_exec(slot, sql, params, prepare)
  local conn = slot.conn
  if prepare ~= false then
    local name = self:_name(sql)
    if name then
      if not slot.prepared[name] then
        local ok, err, state = conn:prepare(name, sql)
        if not ok then return nil, err, state end
        slot.prepared[name] = true
      end
      return conn:exec_prepared(name, params)
    end
  end
  return conn:exec_params(sql, params)
end

-- pool:query(sql, params, opts) → res | nil, err, sqlstate. One statement
-- in autocommit. opts.idempotent (default true): retried once after a
-- reconnect when the connection was lost mid-statement. opts.prepare=false
-- runs it unprepared.
function Pool:query(sql, params, opts)
  opts = opts or {}
  local slot, err = self:acquire()
  if not slot then return nil, err end
  -- A raised error (a value that cannot be a parameter) gives the slot back.
  local ok, res, qerr, state = pcall(self._exec, self, slot, sql, params, opts.prepare)
  if not ok then self:release(slot); error(res, 0) end
  if not res and lost(slot.conn, state) then
    slot.suspect = true
    if opts.idempotent ~= false then
      local ok, rerr = self:_revive(slot)
      if ok then
        res, qerr, state = self:_exec(slot, sql, params, opts.prepare)
        if not res and lost(slot.conn, state) then slot.suspect = true end
      else
        qerr = rerr
      end
    else
      qerr = tostring(qerr) .. " (connection lost while the statement ran: its outcome is unknown)"
    end
  elseif not res then
    slot.suspect = true
  end
  self:release(slot)
  if not res then return nil, self:err(qerr), state end
  return res
end

-- Runs fn(q) inside BEGIN ... COMMIT on one connection, where q(sql,
-- params) → res | nil, err. fn returns a result or nil, err; nil (or a
-- raised error) rolls back. Retried once after a reconnect when the
-- connection was lost before COMMIT was sent, or at any point when
-- opts.idempotent. Returns fn's result or nil, err.
function Pool:tx(fn, opts)
  opts = opts or {}
  local last
  for _ = 1, 2 do
    local slot, err = self:acquire()
    if not slot then return nil, err end
    local phase, lost_conn = "begin", false
    local function q(sql, params, prepare)
      local res, qerr, state = self:_exec(slot, sql, params, prepare)
      if not res then
        if lost(slot.conn, state) then lost_conn = true end
        return nil, self:err(qerr), state
      end
      return res
    end
    local res, ferr
    local ok, berr = q("BEGIN", nil, false)
    if ok then
      phase = "body"
      local pok, r, e = pcall(fn, q)
      if not pok then r, e = nil, self:err("transaction body raised: " .. tostring(r)) end
      res, ferr = r, e
      if res ~= nil then
        phase = "commit"
        local cok, cerr = q("COMMIT", nil, false)
        if not cok then res, ferr = nil, cerr end
      end
      if res == nil and not lost_conn then
        local rok = q("ROLLBACK", nil, false)
        if not rok and not lost_conn then lost_conn = true end
      end
    else
      ferr = berr
    end
    if lost_conn then slot.suspect = true
    elseif res == nil and slot.conn:transaction_status() ~= "idle" then slot.suspect = true end
    self:release(slot)
    if res ~= nil then return res end
    last = ferr
    if not lost_conn then return nil, ferr end
    if phase == "commit" and not opts.idempotent then
      return nil, self:err("connection lost during COMMIT: the write's outcome is unknown (not retried): " .. tostring(ferr))
    end
    -- The next acquire() health-checks and reconnects the suspect slot.
  end
  return nil, last
end

-- Closes every connection. Idempotent.
function Pool:close()
  for _, s in ipairs(self.slots) do
    if s.conn then
      if next(s.prepared) and not lost(s.conn) then pcall(s.conn.exec_params, s.conn, "DEALLOCATE ALL", nil) end
      pcall(s.conn.close, s.conn)
      s.conn = nil
    end
  end
  self.slots, self.idle = {}, {}
  return true
end

---------------------------------------------------------------------------
-- Shared pools: every store of one process that names the same server,
-- schema and pool size uses one pool (a single-connection server such as
-- PGlite could not serve two), reference-counted by the stores.
---------------------------------------------------------------------------
local shared = {}

-- Returns the shared pool for key (creating it with opts) and bumps its count.
function _M.shared(key, opts)
  local e = shared[key]
  if e and e.pool.slots then
    e.refs = e.refs + 1
    return e.pool, e
  end
  local p = _M.new(opts)
  e = { pool = p, refs = 1, key = key, state = {} }
  shared[key] = e
  return p, e
end

-- Drops one reference; closes the pool with the last one.
function _M.unshare(entry)
  entry.refs = entry.refs - 1
  if entry.refs <= 0 then
    entry.pool:close()
    if shared[entry.key] == entry then shared[entry.key] = nil end
  end
end

---------------------------------------------------------------------------
-- Connection strings and password masking.
---------------------------------------------------------------------------

-- Quotes a conninfo value: 'value' with \ and ' escaped.
local function cv(v)
  return "'" .. tostring(v):gsub("\\", "\\\\"):gsub("'", "\\'") .. "'"
end

local function pct_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function plain_find_replace(s, needle, rep)
  if not needle or needle == "" then return s end
  local out, i = {}, 1
  while true do
    local a, b = s:find(needle, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = rep
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

-- Builds (conninfo, mask) from a provider config. conf.dsn (URI or
-- key=value) or host/port/user/password/dbname; connect_timeout defaults to
-- 5 s. mask(s) replaces every form of the password in s with "***".
-- Returns conninfo, mask or nil, err (naming key_path).
function _M.conninfo(conf, key_path)
  local secrets = {}
  local parts = {}
  local dsn = conf.dsn
  if dsn ~= nil then
    if type(dsn) ~= "string" or dsn == "" then
      return nil, fmt("%s.dsn must be a non-empty string", key_path)
    end
    local upw = dsn:match("^postgres[%w]*://[^:/@]*:([^@]*)@")
    if upw then secrets[#secrets + 1] = upw; secrets[#secrets + 1] = pct_decode(upw) end
    local kpw = dsn:match("password%s*=%s*'([^']*)'") or dsn:match("password%s*=%s*([^%s]+)")
    if kpw then secrets[#secrets + 1] = kpw end
    local qpw = dsn:match("[?&]password=([^&]*)")
    if qpw then secrets[#secrets + 1] = qpw; secrets[#secrets + 1] = pct_decode(qpw) end
    parts[1] = dsn
  end
  for _, k in ipairs({ "host", "port", "user", "password", "dbname", "sslmode", "connect_timeout" }) do
    local v = conf[k]
    if v ~= nil then
      if type(v) ~= "string" and type(v) ~= "number" then
        return nil, fmt("%s.%s must be a string or number", key_path, k)
      end
      if k == "password" then secrets[#secrets + 1] = tostring(v) end
      if dsn ~= nil and dsn:match("^postgres[%w]*://") then
        return nil, fmt("%s: give either dsn as a URI or the %s key, not both", key_path, k)
      end
      parts[#parts + 1] = k .. "=" .. cv(v)
    end
  end
  if #parts == 0 then
    return nil, fmt("%s needs dsn (or host/port/user/password/dbname)", key_path)
  end
  local info = table.concat(parts, " ")
  if not info:find("connect_timeout", 1, true) then
    if info:match("^postgres[%w]*://") then
      info = info .. (info:find("?", 1, true) and "&" or "?") .. "connect_timeout=5"
    else
      info = info .. " connect_timeout=5"
    end
  end
  local function mask(s)
    s = tostring(s)
    for _, pw in ipairs(secrets) do s = plain_find_replace(s, pw, "***") end
    s = s:gsub("(postgres[%w]*://[^:/@%s]*:)[^@%s]*@", "%1***@")
    s = s:gsub("([Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]%s*=%s*)'[^']*'", "%1***")
    s = s:gsub("([Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]%s*=%s*)[^%s'&]+", "%1***")
    return s
  end
  return info, mask
end

return _M
