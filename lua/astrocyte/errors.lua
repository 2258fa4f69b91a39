-- astrocyte.errors: the error objects every public call returns as its second
-- value (`nil, err`). An error has `kind` (the reference's names: ConfigError,
-- ValidationError, AccessDenied, RateLimited, ProviderUnavailable, StorageError,
-- CapabilityNotSupported, ...), a `message` a person can act on, and optional
-- fields (bank_id, key_path, field, retry_after ...). tostring(err) gives
-- "<kind>: <message>".
local setmetatable, type, tostring, pairs, pcall = setmetatable, type, tostring, pairs, pcall

local _M = {}
local mt = {}
mt.__index = mt
mt.__tostring = function(e) return e.kind .. ": " .. e.message end

-- Returns a new error object of `kind` with `message` and the extra `fields`.
function _M.new(kind, message, fields)
  local e = { kind = kind, message = message }
  if fields then
    for k, v in pairs(fields) do
      if e[k] == nil then e[k] = v end
    end
  end
  return setmetatable(e, mt)
end

-- Returns true if v is an astrocyte error object.
function _M.is(v)
  return type(v) == "table" and getmetatable(v) == mt
end

-- Wraps anything a provider returned or raised as an error object of `kind`
-- (errors that already are error objects pass through unchanged).
function _M.wrap(kind, v, fields)
  if _M.is(v) then return v end
  return _M.new(kind, tostring(v), fields)
end

-- The one way the framework calls a provider: errors.call(p, method, fields,
-- ...) → p:method(...) → its result, or nil and an error object. An error
-- object the provider raised or returned passes through intact (its kind,
-- provider and cause are kept); any other value becomes an error of
-- fields.kind (StorageError by default) whose message names the provider
-- ("<name>: <reason>"), carrying fields.provider (default p.name), the other
-- fields (bank_id ...) and cause (the raw value). A nil result with no error
-- is a result (nil).
function _M.call(p, method, fields, ...)
  local ok, res, err = pcall(p[method], p, ...)
  if ok and (res ~= nil or err == nil) then return res end
  local cause = ok and err or res
  if _M.is(cause) then return nil, cause end
  local f = { cause = cause }
  for k, v in pairs(fields or {}) do f[k] = v end
  local kind = f.kind or "StorageError"
  f.kind = nil
  local name = tostring(f.provider or p.name or "store")
  f.provider = name
  local msg = tostring(cause)
  if msg:sub(1, #name + 1) ~= name .. ":" then msg = name .. ": " .. msg end
  return nil, _M.new(kind, msg, f)
end

-- Shorthands for the kinds the engine uses most.
function _M.validation(message, fields) return _M.new("ValidationError", message, fields) end
function _M.config(message, fields) return _M.new("ConfigError", message, fields) end
function _M.storage(message, fields) return _M.new("StorageError", message, fields) end

return _M
