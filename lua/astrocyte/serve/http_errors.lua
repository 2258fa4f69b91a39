-- astrocyte.serve.http_errors: the gateway's error contract — which HTTP
-- status an error kind answers with (the reference gateway's exception
-- handlers, surfaces.md §2.2) and the JSON body every error carries:
--   {"detail": message, "error": {"kind", "message", field?, key_path?,
--    bank_id?, provider?, retry_after?}}
-- `detail` is the reference's field; `error` keeps the engine's kind and
-- the field or bank it names. Pure data and Lua: no ngx here, so both
-- runtimes can check the mapping.
local errors = require "astrocyte.errors"
local type, tostring, ceil = type, tostring, math.ceil

local _M = {}

-- Kind → status. Kinds not listed are 500 (an engine bug or an unexpected
-- failure; the message still says which).
_M.STATUS = {
  ValidationError = 400, ConfigError = 400, BadRequest = 400,
  Unauthorized = 401,
  AccessDenied = 403,
  NotFound = 404,
  MethodNotAllowed = 405,
  LegalHoldActive = 409,
  PayloadTooLarge = 413,
  UnsupportedMediaType = 415,
  PiiRejected = 422, PolicyViolation = 422,
  RateLimited = 429,
  CapabilityNotSupported = 501,
  ProviderUnavailable = 503, StorageError = 503, NotReady = 503,
}

-- Status → the kind the gateway names for an error nginx itself raised
-- (error_page: a request line too long, a body over client_max_body_size).
_M.KIND_OF_STATUS = {
  [400] = "BadRequest", [401] = "Unauthorized", [403] = "AccessDenied", [404] = "NotFound",
  [405] = "MethodNotAllowed", [408] = "BadRequest", [413] = "PayloadTooLarge", [414] = "BadRequest",
  [431] = "BadRequest", [494] = "BadRequest", [500] = "InternalError", [502] = "ProviderUnavailable",
  [503] = "ProviderUnavailable", [504] = "ProviderUnavailable",
}

-- The fields of an engine error a client may act on (never `cause`: it may
-- hold a provider's raw reply).
local SAFE_FIELDS = { "field", "key_path", "bank_id", "provider", "capability", "hold_id", "pii_types" }

-- status_of(err) → HTTP status of an error object (or raised value).
function _M.status_of(err)
  return type(err) == "table" and _M.STATUS[err.kind] or 500
end

-- body(err) → status, body table, retry_after seconds (integer) or nil.
function _M.body(err)
  if type(err) ~= "table" then err = errors.new("InternalError", tostring(err)) end
  local kind = type(err.kind) == "string" and err.kind or "InternalError"
  local message = err.message ~= nil and tostring(err.message) or kind
  local e = { kind = kind, message = message }
  for _, f in ipairs(SAFE_FIELDS) do
    if err[f] ~= nil then e[f] = err[f] end
  end
  local out = { detail = message, error = e }
  local retry
  if kind == "RateLimited" then
    retry = ceil(tonumber(err.retry_after) or 1)
    if retry < 1 then retry = 1 end
    e.retry_after = err.retry_after or retry
    out.retry_after_seconds = retry
  end
  return _M.STATUS[kind] or 500, out, retry
end

-- An error object of kind with message and fields (shorthand for routes).
function _M.new(kind, message, fields)
  return errors.new(kind, message, fields)
end

return _M
