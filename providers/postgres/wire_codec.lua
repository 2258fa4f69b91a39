-- astrocyte.providers.postgres.wire_codec: the byte level of the wire
-- driver (wire.lua): big-endian integers, C strings, message framing, the
-- extended-query messages, and the values and errors shaped like
-- astrocyte.pq's (see bindings/lua/astro_pq.c). Arithmetic only, no bit
-- library, so Lua 5.4 and LuaJIT run it alike.
local fmt, char, byte, sub, floor, concat = string.format, string.char, string.byte, string.sub, math.floor, table.concat
local type, tonumber = type, tonumber
local tointeger = math.tointeger or function(x) return x end

local _M = {}

---------------------------------------------------------------------------
-- Framing: big-endian integers, C strings, messages.
---------------------------------------------------------------------------

local function i32(n)
  if n < 0 then n = n + 4294967296 end
  return char(floor(n / 16777216) % 256, floor(n / 65536) % 256, floor(n / 256) % 256, n % 256)
end
local function i16(n) return char(floor(n / 256) % 256, n % 256) end
local function u32(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
local function s32(s, i)
  local n = u32(s, i)
  if n >= 2147483648 then n = n - 4294967296 end
  return n
end
local function u16(s, i)
  local a, b = byte(s, i, i + 1)
  return a * 256 + b
end
local function cstr(s, i)
  local z = s:find("\0", i, true) or #s + 1
  return sub(s, i, z - 1), z + 1
end
local function msg(t, body) return t .. i32(#body + 4) .. body end

local SYNC, DESCRIBE_PORTAL, EXECUTE = msg("S", ""), msg("D", "P\0"), msg("E", "\0" .. i32(0))

-- Parameter values as libpq's binding sends them (text format); raises on a
-- value that cannot be a parameter, with astrocyte.pq's messages.
local function encode_params(params)
  if params == nil then return {}, 0 end
  if type(params) ~= "table" then error("pq: params must be a table", 0) end
  local n = tonumber(params.n) or #params
  if n < 0 or n > 65535 then error("pq: params.n must be between 0 and 65535", 0) end
  local out = {}
  for i = 1, n do
    local v, t = params[i], type(params[i])
    if v == nil then out[i] = false
    elseif t == "boolean" then out[i] = v and "t" or "f"
    elseif t == "number" then
      if math.type and math.type(v) == "integer" then out[i] = fmt("%d", v)
      elseif v ~= v or v == math.huge or v == -math.huge then error(fmt("pq: parameter $%d is not a finite number", i), 0)
      elseif v == floor(v) and math.abs(v) < 9.007199254740992e15 then out[i] = fmt("%.0f", v)
      else out[i] = fmt("%.17g", v) end
    elseif t == "string" then
      if v:find("\0", 1, true) then error(fmt("pq: parameter $%d contains a NUL byte", i), 0) end
      out[i] = v
    else error(fmt("pq: parameter $%d has unsupported type %s", i, t), 0) end
  end
  return out, n
end

local function bind_msg(stmt, vals, n)
  local parts = { "\0", stmt, "\0", i16(0), i16(n) }
  for i = 1, n do
    local v = vals[i]
    if v == false then parts[#parts + 1] = i32(-1)
    else parts[#parts + 1] = i32(#v); parts[#parts + 1] = v end
  end
  parts[#parts + 1] = i16(0)
  return msg("B", concat(parts))
end

local function parse_msg(name, sql)
  if sql:find("\0", 1, true) then error("pq: the statement contains a NUL byte", 0) end
  return msg("P", name .. "\0" .. sql .. "\0" .. i16(0))
end

---------------------------------------------------------------------------
-- Values and errors, shaped like astrocyte.pq's.
---------------------------------------------------------------------------

local INT = { [20] = true, [21] = true, [23] = true, [26] = true }
local FLOAT = { [700] = true, [701] = true, [1700] = true }
local SPECIAL = { NaN = 0 / 0, Infinity = math.huge, ["-Infinity"] = -math.huge }

local function decode(oid, v)
  if INT[oid] then return tointeger(tonumber(v)) or tonumber(v) end
  if FLOAT[oid] then return SPECIAL[v] or ((tonumber(v) or 0) + 0.0) end
  if oid == 16 then return sub(v, 1, 1) == "t" end
  return v
end

-- The fields of an ErrorResponse/NoticeResponse body.
local function fields_of(body)
  local f, i = {}, 1
  while i <= #body do
    local code = sub(body, i, i)
    if code == "\0" then break end
    f[code], i = cstr(body, i + 1)
  end
  return f
end

-- "pq: ERROR:  msg\nDETAIL:  ...\nHINT:  ... (SQLSTATE xxxxx)", as libpq
-- formats a result error at its default verbosity.
local function error_text(f)
  local t = { (f.S or f.V or "ERROR") .. ":  " .. (f.M or "") }
  if f.D then t[#t + 1] = "DETAIL:  " .. f.D end
  if f.H then t[#t + 1] = "HINT:  " .. f.H end
  if f.W then t[#t + 1] = "CONTEXT:  " .. f.W end
  local s = "pq: " .. concat(t, "\n")
  if f.C then s = s .. " (SQLSTATE " .. f.C .. ")" end
  return s
end

-- PQcmdTuples: the row count of the commands that report one.
local COUNTED = { INSERT = true, UPDATE = true, DELETE = true, SELECT = true, MOVE = true,
                  FETCH = true, COPY = true, MERGE = true }
local function cmd_tuples(tag)
  local verb = tag and tag:match("^(%u+)")
  if not verb or not COUNTED[verb] then return 0 end
  return tointeger(tonumber(tag:match("(%d+)$") or "0")) or 0
end

_M.i32, _M.i16, _M.u32, _M.s32, _M.u16, _M.cstr, _M.msg = i32, i16, u32, s32, u16, cstr, msg
_M.SYNC, _M.DESCRIBE_PORTAL, _M.EXECUTE = SYNC, DESCRIBE_PORTAL, EXECUTE
_M.encode_params, _M.bind_msg, _M.parse_msg = encode_params, bind_msg, parse_msg
_M.decode, _M.fields_of, _M.error_text, _M.cmd_tuples = decode, fields_of, error_text, cmd_tuples

return _M
