-- astrocyte.config_check: checks a config table against a schema written as
-- data (astrocyte.config_schema for the top level, providers/<name>/schema.lua
-- for each provider's own section), fills a schema's defaults and masks its
-- secrets for display. A schema node is one of:
--   "integer"                  a type name: string, integer, number, boolean,
--                              map, list, table (map or list), function, any;
--                              "string|number" accepts either
--   { "integer", min = 1, max = 100, default = 4, required = true,
--     one_of = {...}, pattern = "^[a-z]+$", non_empty = true, secret = true,
--     values = node (each value of a map), items = node (each list item),
--     alias_of = "key" (another name for key: its default is not filled
--     when this one is set), check = function(v) → true | nil, why }
--   { key = node, ... }        a section (a nested map of known keys)
-- check(...) returns true, or nil, key_path, message.
local util = require "astrocyte.util"
local type, pairs, ipairs, tostring, fmt, floor = type, pairs, ipairs, tostring, string.format, math.floor

local _M = {}

-- Levenshtein distance, for did-you-mean suggestions.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- The key of section closest to `key` (at most 2 edits), or nil.
function _M.suggestion(key, section)
  local best, bestd
  for name in pairs(section) do
    local d = distance(key, tostring(name))
    if d <= 2 and (not bestd or d < bestd or (d == bestd and name < best)) then best, bestd = name, d end
  end
  return best
end

local function is_leaf(node) return type(node) == "string" or type(node[1]) == "string" end
local function leaf_type(node) return type(node) == "string" and node or node[1] end

local function one_type_ok(v, want)
  if want == "any" then return true end
  if want == "integer" then return type(v) == "number" and v == floor(v) end
  if want == "map" then return type(v) == "table" and (next(v) == nil or not util.is_array(v)) end
  if want == "list" then return type(v) == "table" and util.is_array(v) end
  return type(v) == want
end

function _M.type_ok(v, want)
  for t in want:gmatch("[^|]+") do
    if one_type_ok(v, t) then return true end
  end
  return false
end

local function article(t) return (t:match("^[aeiou]") and "an" or "a") end

-- Keys of t in a stable order (list indexes and names alike).
local function keys_of(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out, function(a, b)
    if type(a) == type(b) and type(a) == "number" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return out
end

-- What a leaf accepts: "an integer between 1 and 1000", "a string or number".
local function describe(node)
  local t = leaf_type(node):gsub("|", " or ")
  local s = article(t) .. " " .. t
  if type(node) == "string" then return s end
  if node.non_empty then s = article("non-empty") .. " non-empty " .. t end
  if node.min and node.max then s = fmt("%s between %s and %s", s, tostring(node.min), tostring(node.max))
  elseif node.min then s = fmt("%s >= %s", s, tostring(node.min))
  elseif node.max then s = fmt("%s <= %s", s, tostring(node.max)) end
  if node.pattern then s = fmt("%s matching %s", s, node.pattern) end
  return s
end

-- The offending value as a message shows it: never a secret's.
local function shown(v, node)
  if type(node) == "table" and node.secret then return "***" end
  if type(v) == "string" then return fmt("%q", v) end
  return tostring(v)
end

local check_section

-- True when t sets another name (alias_of) for key k of section.
local function aliased(t, section, k)
  for ak, anode in pairs(section) do
    if type(anode) == "table" and anode.alias_of == k and t[ak] ~= nil then return true end
  end
  return false
end

-- Checks value v (not nil) at key path kp against a leaf or section node.
local function check_node(v, node, kp, opts)
  if not is_leaf(node) then
    if type(v) ~= "table" or (next(v) ~= nil and util.is_array(v)) then
      return nil, kp, fmt("%s must be a mapping, got %s", kp, type(v) == "table" and "a list" or type(v))
    end
    return check_section(v, node, kp, opts)
  end
  local t = leaf_type(node)
  if not _M.type_ok(v, t) then
    return nil, kp, fmt("%s must be %s, got %s", kp, describe(node), type(v))
  end
  if type(node) == "string" then return true end
  if node.one_of then
    local ok = false
    for _, allowed in ipairs(node.one_of) do if v == allowed then ok = true end end
    if not ok then
      return nil, kp, fmt("%s must be one of %s; got '%s'", kp, table.concat(node.one_of, ", "),
                          node.secret and "***" or tostring(v))
    end
  end
  local bad = (node.min and type(v) == "number" and v < node.min) or (node.max and type(v) == "number" and v > node.max)
    or (node.non_empty and (v == "" or (type(v) == "table" and next(v) == nil)))
    or (node.pattern and type(v) == "string" and not v:find(node.pattern))
  if bad then return nil, kp, fmt("%s must be %s, got %s", kp, describe(node), shown(v, node)) end
  if node.check then
    local ok, why = node.check(v)
    if not ok then return nil, kp, fmt("%s %s, got %s", kp, why, shown(v, node)) end
  end
  if type(v) == "table" and (node.values or node.items) then
    local sub = node.values or node.items
    for _, k in ipairs(keys_of(v)) do
      local key = type(k) == "number" and fmt("%s[%d]", kp, k) or (kp .. "." .. tostring(k))
      local ok, ekp, msg = check_node(v[k], sub, key, opts)
      if not ok then return nil, ekp, msg end
    end
  end
  return true
end

-- Checks map t against section at key path `path` (nil at the top).
-- opts.warnings (a list): unknown keys are appended there as warnings;
-- without it they are errors. opts.src prefixes warnings. Keys starting with
-- "_" are internal and never reported.
function check_section(t, section, path, opts)
  opts = opts or {}
  for _, key in ipairs(keys_of(t)) do
    local v, k = t[key], tostring(key)
    local kp = path and (path .. "." .. k) or k
    local node = section[k]
    if node == nil then
      if k:sub(1, 1) ~= "_" then
        local s = _M.suggestion(k, section)
        local hint = s and fmt(" (did you mean '%s'?)", s) or ""
        if not opts.warnings then return nil, kp, fmt("unknown key '%s'%s", kp, hint) end
        opts.warnings[#opts.warnings + 1] = fmt("%sunknown key '%s'%s", opts.src and (opts.src .. ": ") or "", kp, hint)
      end
    else
      local ok, ekp, msg = check_node(v, node, kp, opts)
      if not ok then return nil, ekp, msg end
    end
  end
  for _, k in ipairs(keys_of(section)) do
    local node = section[k]
    if type(node) == "table" and node.required and t[k] == nil and not aliased(t, section, k) then
      local kp = path and (path .. "." .. k) or k
      return nil, kp, fmt("%s is required (%s)", kp, describe(node))
    end
  end
  return true
end
_M.check = check_section

-- Fills the schema's defaults into t (in place, copies of the defaults): a
-- missing key with a default gets it; a missing section is added when any
-- of its keys has a default; a key whose alias is set gets none.
function _M.fill(t, section)
  for k, node in pairs(section) do
    if is_leaf(node) then
      if t[k] == nil and type(node) == "table" and node.default ~= nil then
        if not aliased(t, section, k) then t[k] = util.deepcopy(node.default) end
      end
    elseif t[k] == nil or type(t[k]) == "table" then
      local sub = _M.fill(t[k] or {}, node)
      if next(sub) ~= nil then t[k] = sub end
    end
  end
  return t
end

-- Replaces the values of the schema's secret keys in t by "***" (in place;
-- every leaf of a secret map or list).
local function mask_all(v)
  if type(v) ~= "table" then return "***" end
  for k, x in pairs(v) do v[k] = mask_all(x) end
  return v
end

function _M.mask(t, section)
  for k, node in pairs(section) do
    local v = t[k]
    if v ~= nil then
      if is_leaf(node) then
        if type(node) == "table" and node.secret then t[k] = mask_all(v)
        elseif type(node) == "table" and type(v) == "table" and (node.values or node.items)
               and not is_leaf(node.values or node.items) then
          for _, item in pairs(v) do
            if type(item) == "table" then _M.mask(item, node.values or node.items) end
          end
        end
      elseif type(v) == "table" then
        _M.mask(v, node)
      end
    end
  end
  return t
end

return _M
