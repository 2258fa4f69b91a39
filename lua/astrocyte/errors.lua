-- astrocyte.errors: the error objects every public call returns as its second
-- value (`nil, err`). An error has `kind` (the reference's names: ConfigError,
-- ValidationError, AccessDenied, RateLimited, ProviderUnavailable, StorageError,
-- CapabilityNotSupported, ...), a `message` a person can act on, and optional
-- fields (bank_id, key_path, field, retry_after ...). tostring(err) gives
-- "<kind>: <message>".
local setmetatable, type, tostring = setmetatable, type, tostring

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

-- Shorthands for the kinds the engine uses most.
function _M.validation(message, fields) return _M.new("ValidationError", message, fields) end
function _M.config(message, fields) return _M.new("ConfigError", message, fields) end
function _M.storage(message, fields) return _M.new("StorageError", message, fields) end

return _M
