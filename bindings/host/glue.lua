-- The Lua side of libastrocyte_host (compiled into the library as text and
-- run once per Lua state): turns the C API's JSON requests into calls of the
-- public Lua API and its results back into JSON, and defines the module
-- astrocyte.host (host.call(name, args) -> a registered C function).
-- Errors come back as nil, kind, message; kind "JSON" is a request that is
-- not a JSON object (the C side's ASTRO_E_JSON).
local raw_call, raw_has = ...
local astrocyte = require "astrocyte"
local util = require "astrocyte.util"
local json = util.json
local type, pairs, tostring, pcall = type, pairs, tostring, pcall

local M = {}

-- Drops JSON nulls (cjson's null, lyaml's null): a null field is an absent one.
local function strip(v, null)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if x == null then v[k] = nil else strip(x, null) end
  end
  return v
end

-- The host module: host.call(name, args) -> decoded result | nil, err;
-- host.has(name) -> boolean.
package.preload["astrocyte.host"] = function()
  local H = {}
  function H.call(name, args)
    if type(name) ~= "string" then error("astrocyte.host.call: name must be a string", 2) end
    local text, eerr = util.encode(args == nil and json.null or args)
    if not text then return nil, "astrocyte.host: arguments cannot be encoded: " .. tostring(eerr) end
    local out, err = raw_call(name, text)
    if out == nil then return nil, err end
    if out == true then return true end
    local v, derr = json.decode(out)
    if derr then return nil, "host function '" .. name .. "' returned invalid JSON: " .. tostring(derr) end
    return strip(v, json.null)
  end
  function H.has(name) return raw_has(name) end
  return H
end

-- Reads an inline config (YAML or JSON text) into a table.
local function parse_config(text)
  if text:match("^%s*{") then
    local t, err = json.decode(text)
    if err then return nil, "inline JSON config: " .. tostring(err) end
    return strip(t, json.null)
  end
  local ok, lyaml = pcall(require, "lyaml")
  if not ok then return nil, "YAML support (lua-yaml) is not installed" end
  local pok, t = pcall(lyaml.load, text)
  if not pok then return nil, "inline YAML config: " .. tostring(t) end
  if t == nil then t = {} end
  if type(t) ~= "table" then return nil, "inline config: the top level must be a mapping" end
  return strip(t, lyaml.null)
end

-- Opens the engine. how: "none" (defaults), "path" or "text".
function M.open(config, how, db)
  local input = nil
  if how == "path" then
    input = config
  elseif how == "text" then
    local err
    input, err = parse_config(config)
    if not input then return nil, "ConfigError", err end
  end
  local eng, err = astrocyte.open(input, db and { db = db } or nil)
  if not eng then return nil, err.kind or "InternalError", tostring(err.message or err) end
  return eng
end

local TEXT_ARG = { retain = "content", recall = "query", reflect = "query" }

-- Runs one verb; returns result, JSON text | nil, kind, message.
function M.call(eng, verb, request)
  local res, err
  if verb == "banks" then
    res, err = eng:banks()
  else
    if request == nil then return nil, "ARG", "request JSON is required" end
    local r, jerr = json.decode(request)
    if jerr then return nil, "JSON", "request is not valid JSON: " .. tostring(jerr) end
    if type(r) ~= "table" or (next(r) ~= nil and util.is_array(r)) then
      return nil, "JSON", "request must be a JSON object, got " .. (type(r) == "table" and "an array" or type(r))
    end
    strip(r, json.null)
    local key = TEXT_ARG[verb]
    if verb == "retain_many" then
      local items = r.items
      r.items = nil
      res, err = eng:retain_many(items, r)
    elseif key then
      local text = r[key]
      r[key] = nil
      res, err = eng[verb](eng, text, r)
    else
      res, err = eng:forget(r)
    end
  end
  if res == nil then
    if type(err) == "table" then return nil, err.kind or "InternalError", tostring(err.message) end
    return nil, "InternalError", tostring(err)
  end
  local text, eerr = util.encode(res)
  if not text then return nil, "InternalError", "result cannot be encoded as JSON: " .. tostring(eerr) end
  return res, text
end

function M.reload(eng)
  local ok, err = eng:reload()
  if not ok then return nil, err.kind or "InternalError", tostring(err.message or err) end
  return true
end

function M.close(eng)
  pcall(eng.close, eng)
end

return M
