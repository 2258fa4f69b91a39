-- astrocyte.providers.postgres.wire_auth: what the wire backend
-- (wire.lua) needs before its first query: the libpq connection string
-- (key=value or postgres:// URI, with libpq's PG* environment defaults) and
-- the password exchanges of the startup phase: cleartext, md5 and
-- SCRAM-SHA-256 (RFC 5802 / RFC 7677, without channel binding, as libpq
-- does over a plain connection). Hashing is astrocyte.core's C (HMAC,
-- PBKDF2, MD5); only base64 and the byte XOR are Lua.
local core = require "astrocyte.core"
local b64enc = require("astrocyte.providers.shared").base64
local fmt, char, byte, floor, concat = string.format, string.char, string.byte, math.floor, table.concat
local tonumber, tostring = tonumber, tostring

local _M = {}

---------------------------------------------------------------------------
-- Connection strings.
---------------------------------------------------------------------------

-- The libpq keywords understood here; any other is an error, as in libpq.
local KNOWN = {
  host = true, hostaddr = true, port = true, user = true, password = true, dbname = true,
  connect_timeout = true, sslmode = true, application_name = true, fallback_application_name = true,
  options = true, client_encoding = true, keepalives = true, keepalives_idle = true,
  keepalives_interval = true, keepalives_count = true, target_session_attrs = true,
}
local ENV = { host = "PGHOST", hostaddr = "PGHOSTADDR", port = "PGPORT", user = "PGUSER",
  password = "PGPASSWORD", dbname = "PGDATABASE", connect_timeout = "PGCONNECT_TIMEOUT",
  sslmode = "PGSSLMODE", options = "PGOPTIONS", application_name = "PGAPPNAME" }

local function pct_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- key=value pairs; values may be single-quoted with \ escapes.
local function parse_kv(s, out)
  local i, n = 1, #s
  while true do
    i = s:find("%S", i)
    if not i then return out end
    local k, j = s:match("^([%w_]+)%s*=%s*()", i)
    if not k then return nil, fmt("malformed connection string near %q", s:sub(i, i + 20)) end
    local buf = {}
    if s:sub(j, j) == "'" then
      j = j + 1
      while true do
        local c = s:sub(j, j)
        if c == "" then return nil, "unterminated quoted value of " .. k end
        if c == "\\" then buf[#buf + 1] = s:sub(j + 1, j + 1); j = j + 2
        elseif c == "'" then j = j + 1; break
        else buf[#buf + 1] = c; j = j + 1 end
      end
    else
      while j <= n do
        local c = s:sub(j, j)
        if c:match("%s") then break end
        if c == "\\" then buf[#buf + 1] = s:sub(j + 1, j + 1); j = j + 2
        else buf[#buf + 1] = c; j = j + 1 end
      end
    end
    out[k] = concat(buf)
    i = j
  end
end

-- postgres[ql]://[user[:password]@][host][:port][/dbname][?k=v&...]
local function parse_uri(s, out)
  local rest = s:match("^postgres[%w]*://(.*)$")
  local query = rest:match("%?(.*)$")
  rest = rest:gsub("%?.*$", "")
  local auth, hostpart = rest:match("^(.-)@(.*)$")
  if not auth then hostpart = rest end
  if auth then
    local u, p = auth:match("^([^:]*):(.*)$")
    out.user = pct_decode(u or auth)
    if p then out.password = pct_decode(p) end
  end
  local hp, db = hostpart:match("^([^/]*)/?(.*)$")
  if db ~= "" then out.dbname = pct_decode(db) end
  local host, port = hp:match("^%[([^%]]*)%]:?(%d*)$")
  if not host then host, port = hp:match("^([^:]*):?(%d*)$") end
  if host and host ~= "" then out.host = pct_decode(host) end
  if port and port ~= "" then out.port = port end
  for k, v in (query or ""):gmatch("([^&=]+)=([^&]*)") do out[pct_decode(k)] = pct_decode(v) end
  return out
end

-- parse(conninfo) → { host, port, user, password, dbname, connect_timeout
-- (ms), sslmode, params (startup parameters) } | nil, err. No part of the
-- string is quoted in an error (it may hold the password).
function _M.parse(info)
  if type(info) ~= "string" then return nil, "conninfo must be a string" end
  local o = {}
  local dsn, tail = info:match("^(postgres[%w]*://%S*)(.*)$")
  if dsn then
    parse_uri(dsn, o)
    info = tail
  end
  local _, err = parse_kv(info, o)
  if err then return nil, err end
  for k in pairs(o) do
    if not KNOWN[k] then return nil, fmt("invalid connection option %q", k) end
  end
  for k, e in pairs(ENV) do
    if o[k] == nil then o[k] = os.getenv(e) end
  end
  local c = {
    host = o.hostaddr or o.host or "localhost", port = tonumber(o.port or 5432),
    user = o.user or os.getenv("USER"), password = o.password, sslmode = o.sslmode or "prefer",
    connect_timeout = (tonumber(o.connect_timeout) or 0) * 1000,
  }
  if not c.port or c.port < 1 or c.port > 65535 or c.port ~= floor(c.port) then
    return nil, "invalid port number in the connection string"
  end
  if c.host:find(",", 1, true) then return nil, "several hosts in one connection string are not supported by the wire driver" end
  if not c.user or c.user == "" then return nil, "no user name in the connection string (and PGUSER is not set)" end
  if c.connect_timeout <= 0 then c.connect_timeout = 60000 end
  c.dbname = o.dbname or c.user
  c.params = { user = c.user, database = c.dbname, client_encoding = o.client_encoding or "UTF8",
               application_name = o.application_name or o.fallback_application_name, options = o.options }
  return c
end

---------------------------------------------------------------------------
-- Password exchanges.
---------------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64I = {}
for i = 1, 64 do B64I[B64:sub(i, i)] = i - 1 end

local function b64dec(s)
  s = s:gsub("=+$", "")
  local out, bits, nbits = {}, 0, 0
  for i = 1, #s do
    local v = B64I[s:sub(i, i)]
    if not v then return nil end
    bits, nbits = bits * 64 + v, nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local b = floor(bits / 2 ^ nbits)
      out[#out + 1] = char(b)
      bits = bits - b * 2 ^ nbits
    end
  end
  return concat(out)
end
_M.b64dec = b64dec

-- XOR of two equal-length byte strings (arithmetic: no bit library on 5.4/LuaJIT alike).
local function xor(a, b)
  local out = {}
  for i = 1, #a do
    local x, y, r, p = byte(a, i), byte(b, i), 0, 1
    for _ = 1, 8 do
      if x % 2 ~= y % 2 then r = r + p end
      x, y, p = floor(x / 2), floor(y / 2), p * 2
    end
    out[i] = char(r)
  end
  return concat(out)
end

local function sha256(s)
  return (core.sha256_hex(s):gsub("%x%x", function(h) return char(tonumber(h, 16)) end))
end

-- md5 password message: "md5" .. md5(md5(password .. user) .. salt).
function _M.md5_password(user, password, salt)
  return "md5" .. core.md5_hex(core.md5_hex(password .. user) .. salt)
end

local function nonce()
  local f = io.open("/dev/urandom", "rb")
  local raw = f and f:read(18)
  if f then f:close() end
  if not raw or #raw ~= 18 then
    local t = {}
    for i = 1, 18 do t[i] = char(math.random(0, 255)) end
    raw = concat(t)
  end
  return b64enc(raw)
end

-- A SCRAM-SHA-256 exchange: scram(password, client_nonce?) → s with
-- s.first (the client-first-message), s:final(server_first) →
-- client_final | nil, err, and s:verify(server_final) → true | nil, err.
-- The password is not SASLprep-normalized (identical for ASCII passwords).
function _M.scram(password, cnonce)
  local s = { bare = "n=,r=" .. (cnonce or nonce()) }
  s.cnonce = s.bare:sub(6)
  s.first = "n,," .. s.bare
  function s.final(_, server_first)
    local r, salt, iter = server_first:match("^r=([^,]+),s=([^,]+),i=(%d+)")
    if not r then return nil, "malformed SCRAM server-first-message" end
    if r:sub(1, #s.cnonce) ~= s.cnonce or #r <= #s.cnonce then
      return nil, "SCRAM server nonce does not extend the client nonce"
    end
    salt = b64dec(salt)
    iter = tonumber(iter)
    if not salt or iter < 1 or iter > 10000000 then return nil, "malformed SCRAM salt or iteration count" end
    local salted = core.pbkdf2_sha256(password, salt, iter)
    local without_proof = "c=biws,r=" .. r
    local auth = s.bare .. "," .. server_first .. "," .. without_proof
    local ckey = core.hmac_sha256(salted, "Client Key")
    local proof = xor(ckey, core.hmac_sha256(sha256(ckey), auth))
    s.server_sig = core.hmac_sha256(core.hmac_sha256(salted, "Server Key"), auth)
    return without_proof .. ",p=" .. b64enc(proof)
  end
  function s.verify(_, server_final)
    local e = server_final:match("^e=(.*)$")
    if e then return nil, "SCRAM authentication failed: " .. e end
    local v = b64dec(server_final:match("^v=([^,]+)") or "")
    if not v or not s.server_sig or not core.constant_time_eq(v, s.server_sig) then
      return nil, "the server's SCRAM signature is wrong (not the server that knows the password)"
    end
    return true
  end
  return s
end

-- The password, or nil and libpq's message when the server asks for one
-- that the connection string lacks.
function _M.need_password(c)
  if c.password == nil or c.password == "" then return nil, "fe_sendauth: no password supplied" end
  return tostring(c.password)
end

return _M
