-- astrocyte.providers.static_policy: a built-in AccessPolicyProvider
-- (spi.md §1.12) that answers from a list of rules in its config, for tests,
-- small deployments and as the model of an external PDP adapter.
--
--   access_control:
--     enabled: true
--     policy_provider: static_policy
--     policy_composition: external_then_config
--     policy_provider_config:
--       default: deny            # allow | deny | none (no opinion; default)
--       rules:
--         - { principal: "team:*", bank_id: "shared-*", permissions: [read], effect: allow }
--         - { principal: "user:eve", bank_id: "*", permissions: ["*"], effect: deny }
--
-- The first rule whose principal and bank_id globs match and whose
-- permissions cover the permission decides; effect defaults to allow.
-- check(principal, bank_id, permission, context) → true | false | nil, reason.
local spi = require "astrocyte.spi"
local type, ipairs, fmt, tostring = type, ipairs, string.format, tostring

local _M = { name = "static_policy", SPI_VERSION = 1 }
local mt = { __index = _M }

local DEFAULTS = { allow = true, deny = false, none = "none" }

-- new(conf) → provider | nil, err. conf: { rules = {...}, default = "none" }.
function _M.new(conf)
  conf = conf or {}
  local rules = conf.rules or {}
  if type(rules) ~= "table" then return nil, "static_policy: rules must be a list" end
  local out = {}
  for i, r in ipairs(rules) do
    local where = fmt("static_policy: rules[%d]", i)
    if type(r) ~= "table" or type(r.principal) ~= "string" or type(r.bank_id) ~= "string" then
      return nil, where .. " needs principal and bank_id strings"
    end
    local perms, why = spi.permission_set(r.permissions or { "*" })
    if not perms then return nil, where .. ": " .. why end
    local effect = r.effect or "allow"
    if effect ~= "allow" and effect ~= "deny" then
      return nil, fmt("%s: effect must be allow or deny, got '%s'", where, tostring(effect))
    end
    local p = spi.principal(r.principal)
    out[i] = { principal = p, ppat = spi.glob(p), bank_id = r.bank_id, bpat = spi.glob(r.bank_id),
               perms = perms, allow = effect == "allow", index = i }
  end
  local default = DEFAULTS[conf.default or "none"]
  if default == nil then return nil, "static_policy: default must be allow, deny or none" end
  return setmetatable({ rules = out, default = default }, mt)
end

local function match(exact, pat, v)
  if pat then return v:find(pat) ~= nil end
  return exact == v
end

-- AccessPolicyProvider.check: the first matching rule decides.
function _M:check(principal, bank_id, permission, _context)
  for _, r in ipairs(self.rules) do
    if r.perms[permission] and match(r.principal, r.ppat, principal) and match(r.bank_id, r.bpat, bank_id) then
      return r.allow, fmt("static_policy rule %d", r.index)
    end
  end
  if self.default == "none" then return nil end
  return self.default, "static_policy default"
end

return { access_policies = _M.new, new = _M.new }
