-- astrocyte.providers.opa: an AccessPolicyProvider (spi.md §1.12) that asks
-- an Open Policy Agent through its Data API: POST <url>/v1/data/<path> with
-- {"input": {principal, bank_id, permission, reference_permission, context}}.
-- The decision document may be a boolean (allow) or an object
-- {allow = bool, reason = string}; an undefined decision (no "result") is
-- "no opinion", which the access layer's composition resolves. Any transport
-- or HTTP failure raises, and the access layer denies (fail closed).
--
--   access_control:
--     enabled: true
--     policy_provider: opa
--     policy_provider_config: { url: "http://127.0.0.1:8181", path: "astrocyte/allow", token: "${OPA_TOKEN}" }
local shared = require "astrocyte.providers.shared"
local type, fmt = type, string.format

local _M = { name = "opa", SPI_VERSION = 1 }
local mt = { __index = _M }

-- new(conf) → provider | nil, err. conf: url, path (default astrocyte/allow),
-- token (bearer, optional), headers, timeout_ms (default 2000), and the
-- shared HTTP keys (max_retries, outbound_transport, ...).
function _M.new(conf)
  conf = conf or {}
  local base, err = shared.base_url(conf, "opa", nil)
  if not base then return nil, err end
  local path = conf.path or "astrocyte/allow"
  if type(path) ~= "string" or not path:match("^[%w_%-/]+$") then
    return nil, "opa: path must look like 'package/rule' (letters, digits, _ - /), got " .. tostring(path)
  end
  local copy = {}
  for k, v in pairs(conf) do copy[k] = v end
  copy.timeout_ms = conf.timeout_ms or 2000
  local client; client, err = shared.client(copy, "opa", { secrets = { conf.token } })
  if not client then return nil, err end
  return setmetatable({ url = base .. "/v1/data/" .. path:gsub("^/+", ""), client = client,
                        headers = shared.headers({ ["Content-Type"] = "application/json" },
                                                 shared.bearer(conf.token), conf.headers) }, mt)
end

-- check(principal, bank_id, permission, context) → true | false | nil, reason.
local KNOWN = { read = true, write = true, forget = true, admin = true,
                recall = true, retain = true, reflect = true }

function _M:check(principal, bank_id, permission, context)
  if not KNOWN[permission] then return false, "opa: unknown permission '" .. tostring(permission) .. "'" end
  context = context or {}
  local input = { principal = principal, bank_id = bank_id, permission = permission,
                  reference_permission = context.reference_permission }
  local ctx = context.context
  if type(ctx) == "table" then
    input.context = { principal = ctx.principal, teams = ctx.teams, tenant_id = ctx.tenant_id }
  end
  local doc, err = self.client:json({ method = "POST", url = self.url, headers = self.headers,
                                      json = { input = input }, idempotent = true })
  if not doc then error(fmt("opa: decision request failed: %s", tostring(err.message or err)), 0) end
  local result = doc.result
  if result == nil then return nil, "opa: decision undefined" end
  if type(result) == "boolean" then return result, result and nil or "opa: denied" end
  if type(result) == "table" and type(result.allow) == "boolean" then
    return result.allow, result.reason
  end
  error(fmt("opa: decision must be a boolean or {allow, reason}, got %s", type(result)), 0)
end

function _M:health()
  return shared.health(function()
    return self.client:json({ method = "GET", url = self.url:gsub("/v1/data/.*$", "/health"), allow = { [404] = true } })
  end)
end

return { access_policies = _M.new, new = _M.new }
