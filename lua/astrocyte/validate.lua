-- astrocyte.validate: checks on everything that enters through the public API.
-- Each checker returns the normalized value, or nil and a ValidationError that
-- names the field (and bank) that was wrong. Nothing here touches storage.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local util = require "astrocyte.util"
local type, fmt, floor, pairs = type, string.format, math.floor, pairs

local _M = {}

local BANK_ID_MAX = 255
_M.MAX_TAGS = 100
_M.MAX_TAG_CHARS = 256

local function verr(field, msg, extra)
  local f = { field = field }
  if extra then for k, v in pairs(extra) do f[k] = v end end
  return errors.validation(msg, f)
end

-- Bank ids follow the reference rule ^[a-zA-Z0-9][a-zA-Z0-9._:@-]{0,254}$.
function _M.bank_id(v, field)
  field = field or "bank_id"
  if type(v) ~= "string" then
    return nil, verr(field, fmt("%s must be a string, got %s", field, type(v)))
  end
  if #v == 0 or #v > BANK_ID_MAX or not v:match("^[%w][%w%._:@%-]*$") then
    return nil, verr(field, fmt("invalid %s '%s': use 1-255 characters from A-Z a-z 0-9 . _ : @ -, starting with a letter or digit", field, v), { bank_id = v })
  end
  return v
end

-- Memory text: a non-empty, valid UTF-8 string of at most max_chars characters.
function _M.content(v, max_chars, field, bank)
  field = field or "content"
  local extra = { bank_id = bank }
  if type(v) ~= "string" then
    return nil, verr(field, fmt("%s must be a string, got %s", field, type(v)), extra)
  end
  if not v:find("%S") then
    return nil, verr(field, fmt("%s is empty", field), extra)
  end
  local ok, bad = core.utf8_valid(v)
  if not ok then
    return nil, verr(field, fmt("%s is not valid UTF-8 (bad byte at offset %d)", field, bad), extra)
  end
  if max_chars then
    local n = core.utf8_len(v)
    if n > max_chars then
      return nil, verr(field, fmt("%s is too long: %d characters > %d", field, n, max_chars), extra)
    end
  end
  return v
end

-- Tags: nil or an array of at most 100 non-empty strings (duplicates dropped,
-- order kept).
function _M.tags(v, field)
  field = field or "tags"
  if v == nil then return nil end
  if type(v) ~= "table" or not util.is_array(v) then
    return nil, verr(field, fmt("%s must be an array of strings", field))
  end
  if #v > _M.MAX_TAGS then
    return nil, verr(field, fmt("too many %s (%d > %d)", field, #v, _M.MAX_TAGS))
  end
  local out, seen = {}, {}
  for i = 1, #v do
    local t = v[i]
    if type(t) ~= "string" or t == "" then
      return nil, verr(field, fmt("%s[%d] must be a non-empty string", field, i))
    end
    if #t > _M.MAX_TAG_CHARS or not core.utf8_valid(t) then
      return nil, verr(field, fmt("%s[%d] must be valid UTF-8 of at most %d bytes", field, i, _M.MAX_TAG_CHARS))
    end
    if not seen[t] then seen[t] = true; out[#out + 1] = t end
  end
  return out
end

-- Metadata: nil or a flat map of string keys to string/number/boolean values.
function _M.metadata(v, field)
  field = field or "metadata"
  if v == nil then return nil end
  if type(v) ~= "table" then
    return nil, verr(field, fmt("%s must be a table of scalar values", field))
  end
  local out = {}
  for k, val in pairs(v) do
    if type(k) ~= "string" then
      return nil, verr(field, fmt("%s keys must be strings", field))
    end
    local tv = type(val)
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" then
      return nil, verr(field .. "." .. k, fmt("%s.%s must be a string, number or boolean, got %s", field, k, tv))
    end
    if tv == "number" and (val ~= val or val == math.huge or val == -math.huge) then
      return nil, verr(field .. "." .. k, fmt("%s.%s must be a finite number", field, k))
    end
    if tv == "string" and not core.utf8_valid(val) then
      return nil, verr(field .. "." .. k, fmt("%s.%s is not valid UTF-8", field, k))
    end
    out[k] = val
  end
  return out
end

local TIME_MIN_MS, TIME_MAX_MS = -62135596800000, 253402300799999

-- Timestamp: nil, an ISO-8601 string or seconds since the epoch → ms.
function _M.time(v, field)
  if v == nil then return nil end
  if type(v) ~= "string" and type(v) ~= "number" then
    return nil, verr(field, fmt("%s must be an ISO-8601 string or seconds since the epoch, got %s", field, type(v)))
  end
  local ms, why = util.to_ms(v)
  if not ms then return nil, verr(field, fmt("%s: %s", field, why)) end
  -- Stores keep ISO-8601 dates: years 1 to 9999 only.
  if ms < TIME_MIN_MS or ms > TIME_MAX_MS then
    return nil, verr(field, fmt("%s is out of range (years 0001 to 9999)", field))
  end
  return ms
end

-- Time range: nil or {from, to} (either end may be nil) → from_ms, to_ms.
function _M.time_range(v, field)
  field = field or "time_range"
  if v == nil then return nil end
  if type(v) ~= "table" then
    return nil, verr(field, fmt("%s must be a table {from, to}", field))
  end
  local from_v = v[1]; if from_v == nil then from_v = v.from end
  local to_v = v[2]; if to_v == nil then to_v = v.to end
  local from, e1 = _M.time(from_v, field .. ".from")
  if e1 then return nil, e1 end
  local to, e2 = _M.time(to_v, field .. ".to")
  if e2 then return nil, e2 end
  if from and to and from > to then
    return nil, verr(field, fmt("%s: from is after to", field))
  end
  return { from = from, to = to }
end

-- Integer option within [lo, hi]; nil gives default.
function _M.int(v, field, lo, hi, default)
  if v == nil then return default end
  if type(v) ~= "number" or v ~= floor(v) then
    return nil, verr(field, fmt("%s must be an integer, got %s", field, type(v) == "number" and tostring(v) or type(v)))
  end
  if v < lo or v > hi then
    return nil, verr(field, fmt("%s must be between %d and %d, got %d", field, lo, hi, v))
  end
  return v
end

-- Optional string option; nil gives default.
function _M.str(v, field, default)
  if v == nil then return default end
  if type(v) ~= "string" then
    return nil, verr(field, fmt("%s must be a string, got %s", field, type(v)))
  end
  return v
end

-- Optional array of strings.
function _M.str_list(v, field)
  if v == nil then return nil end
  if type(v) ~= "table" or not util.is_array(v) then
    return nil, verr(field, fmt("%s must be an array of strings", field))
  end
  for i = 1, #v do
    if type(v[i]) ~= "string" then
      return nil, verr(field, fmt("%s[%d] must be a string", field, i))
    end
  end
  return v
end

-- Options table: nil or a table whose keys are all in `known` (a set).
-- Unknown keys are errors so typos never silently change behaviour.
function _M.opts(v, known, what)
  if v == nil then return {} end
  if type(v) ~= "table" then
    return nil, verr("opts", fmt("%s options must be a table, got %s", what, type(v)))
  end
  for k in pairs(v) do
    if not known[k] then
      local names = {}
      for n in pairs(known) do names[#names + 1] = n end
      table.sort(names)
      return nil, verr(tostring(k), fmt("unknown %s option '%s' (known: %s)", what, tostring(k), table.concat(names, ", ")))
    end
  end
  return v
end

return _M
