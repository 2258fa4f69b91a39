-- astrocyte.util: small helpers shared by the framework — time stamps
-- (milliseconds <-> ISO-8601 UTC), random ids, table copies and a JSON
-- instance. Pure Lua that runs unchanged on Lua 5.4 and LuaJIT 2.1.
local cjson_safe = require "cjson.safe"
local core = require "astrocyte.core"
local floor, fmt, tonumber, type = math.floor, string.format, tonumber, type

local _M = {}

-- One JSON instance for the framework (decode, and encode of non-empty
-- data). Debian's lua-cjson 2.1.0 cannot encode an empty table as an array,
-- so DTO output goes through _M.encode below.
local json = cjson_safe.new()
json.encode_sparse_array(true)
_M.json = json

-- Tables with this metatable encode as a JSON object even when empty.
local OBJECT_MT = { __jsontype = "object" }
_M.OBJECT_MT = OBJECT_MT

-- Encodes v as JSON; returns the text, or nil and an error (a function
-- value, a non-finite number, a cycle). Like cjson, but an empty table
-- becomes [] (DTO lists are far more common than empty maps, which the
-- engine stores as nil), OBJECT_MT tables are objects, object keys are
-- sorted so output is stable, and integers below 2^53 are exact. Written in
-- C (bindings/lua/astro_json.c): gateway answers are encoded per request.
local json_encode = core.json_encode
function _M.encode(v)
  return json_encode(v, OBJECT_MT)
end

-- Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- Returns the current time in integer milliseconds since the epoch (UTC),
-- never going backwards within this process.
local last_ms = 0
function _M.now_ms()
  local ms
  if ngx and ngx.now then
    ngx.update_time()
    ms = floor(ngx.now() * 1000)
  else
    ms = core.now_ms()
  end
  if ms < last_ms then ms = last_ms end
  last_ms = ms
  return ms
end

-- Formats milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS[.mmm]Z"
-- (core.iso_ms: a recall formats two instants per candidate hit).
local iso_ms = core.iso_ms
function _M.iso(ms)
  if ms == nil then return nil end
  return iso_ms(ms)
end

-- Parses an ISO-8601 date or date-time ("2024-05-01", "2024-05-01T10:00:00Z",
-- "2024-05-01 10:00:00+02:00", fractional seconds allowed; no zone = UTC).
-- Returns milliseconds since the epoch, or nil and a reason.
function _M.parse_iso(s)
  if type(s) ~= "string" then return nil, "expected an ISO-8601 string" end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "'" .. s .. "' is not an ISO-8601 date" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 then
    return nil, "'" .. s .. "' has an invalid month or day"
  end
  local h, mi, sec, frac, zone = 0, 0, 0, 0, nil
  if rest ~= "" then
    local hh, mm, tail = rest:match("^[T ](%d%d):(%d%d)(.*)$")
    if not hh then return nil, "'" .. s .. "' has an invalid time part" end
    h, mi = tonumber(hh), tonumber(mm)
    local ss, tail2 = tail:match("^:(%d%d)(.*)$")
    if ss then sec, tail = tonumber(ss), tail2 end
    local fr, tail3 = tail:match("^[.,](%d+)(.*)$")
    if fr then frac, tail = tonumber("0." .. fr), tail3 end
    zone = tail
    if h > 23 or mi > 59 or sec > 60 then
      return nil, "'" .. s .. "' has an invalid time of day"
    end
  end
  local offset = 0
  if zone and zone ~= "" and zone ~= "Z" and zone ~= "z" then
    local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil, "'" .. s .. "' has an invalid time zone" end
    offset = (tonumber(zh) * 60 + tonumber(zm)) * 60
    if sign == "-" then offset = -offset end
  end
  local secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
  return secs * 1000 + floor(frac * 1000 + 0.5)
end

-- Accepts a timestamp as an ISO-8601 string or a number of seconds since the
-- epoch; returns milliseconds, or nil and a reason.
-- The last ISO string parsed is remembered: the items of a batch share
-- their time stamps.
local to_ms_iso, to_ms_val
function _M.to_ms(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, "expected a finite number of seconds"
    end
    return floor(v * 1000 + 0.5)
  end
  if v == to_ms_iso and v ~= nil then return to_ms_val end
  local ms, err = _M.parse_iso(v)
  if ms and type(v) == "string" then to_ms_iso, to_ms_val = v, ms end
  return ms, err
end

-- Returns a random 16-hex-digit id (the reference's uuid4().hex[:16] shape).
-- Seeded once per process from time and address entropy.
local seeded = false
function _M.new_id()
  if not seeded then
    local addr = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
    math.randomseed((os.time() + floor(os.clock() * 1e6) + addr) % 2147483647)
    seeded = true
  end
  return fmt("%08x%08x", math.random(0, 0x7fffffff) * 2 + math.random(0, 1),
             math.random(0, 0x7fffffff) * 2 + math.random(0, 1))
end

-- Shallow copy of a table (nil passes through).
function _M.copy(t)
  if t == nil then return nil end
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- Deep copy of plain data tables.
function _M.deepcopy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = _M.deepcopy(v) end
  return c
end

-- The keys of t, sorted (names of a registry table, in a stable order).
function _M.sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- Returns true if t is a sequence (array) table with n >= 0 items.
function _M.is_array(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true
end

-- Trims leading and trailing whitespace.
function _M.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

return _M
