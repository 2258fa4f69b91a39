-- astrocyte.policy.access: access control (pipeline.md §5, spi.md §1.12,
-- §4.4). Principals are "user:ana", "agent:planner", "team:support",
-- "service:ingest" (a bare string means user:<s>). Grants {bank_id,
-- principal, permissions} come from config access_grants and
-- banks.<id>.access (or set_grants). Permissions are recall, retain,
-- reflect, forget, admin; the reference's read (= recall + reflect), write
-- (= retain) and "*" (= all) are accepted too. Unlike the reference, globs
-- really match: "*" anywhere in a grant's principal or bank id matches any
-- run of characters ("team:*", "shared-*", "*"), and the default policies
-- differ: owner_only lets a principal do anything on its own convention bank
-- (identity.user_bank_prefix .. id, agent-<id>, service-<id>) and nothing
-- else without a grant; open (alias allow) allows everything; deny allows
-- explicit grants only. access_control.enabled = false allows everything.
--
-- A context is { principal = "user:ana", actor = {type =, id =}?,
-- on_behalf_of = "user:bob" | {type =, id =}?, teams = {"support", ...}? };
-- team grants apply to members listed in ctx.teams. With on_behalf_of the
-- effective permissions are the intersection of the actor's and the
-- represented principal's.
--
-- An external AccessPolicyProvider (access_control.policy_provider, resolved
-- through the registry group access_policies, configured by
-- access_control.policy_provider_config) answers check(principal, bank_id,
-- permission, context) with true (allow), false (deny) or nil (no opinion),
-- plus an optional reason. access_control.policy_composition chooses how it
-- combines with config grants: external_only (the provider alone; no opinion
-- = deny), config_then_external (default: config grants allow first, else the
-- provider decides), external_then_config (the provider decides unless it has
-- no opinion, then config). A provider that raises denies (fail closed).
--
-- How the engine calls it:
--   local ac, err = access.new(cfg)                        -- at open
--   local ok, aerr = ac:check(opts.context, bank_id, "retain")
--   if not ok then return nil, aerr end                     -- AccessDenied
-- Message: "user:ana may not recall bank 'x'" (tostring: "AccessDenied: ...").
local errors = require "astrocyte.errors"
local registry = require "astrocyte.registry"
local type, pairs, ipairs, fmt, tostring, concat = type, pairs, ipairs, string.format, tostring, table.concat
local setmetatable, pcall, sort = setmetatable, pcall, table.sort

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

_M.PERMISSIONS = { "recall", "retain", "reflect", "forget", "admin" }
local KINDS = { user = true, agent = true, team = true, service = true }
local EXPAND = {
  recall = { "recall" }, retain = { "retain" }, reflect = { "reflect" },
  forget = { "forget" }, admin = { "admin" },
  read = { "recall", "reflect" }, write = { "retain" },
  ["*"] = { "recall", "retain", "reflect", "forget", "admin" },
}
-- The reference permission an engine permission is checked as, for providers.
local REFERENCE_PERM = { recall = "read", reflect = "read", retain = "write", forget = "forget", admin = "admin" }
local POLICIES = { owner_only = "owner_only", open = "open", allow = "open", deny = "deny" }
local COMPOSITIONS = { external_only = true, config_then_external = true, external_then_config = true }

-- Returns the canonical principal string of s: "kind:id", bare ⇒ "user:s".
-- Patterns keep their "*" ("team:*", "*").
function _M.principal(s)
  if type(s) == "table" then
    return tostring(s.type or "user") .. ":" .. tostring(s.id)
  end
  if s == "*" then return s end
  local kind = s:match("^(%a+):")
  if kind and KINDS[kind] then return s end
  return "user:" .. s
end

-- Compiles a glob ("*" = any run of characters) into an anchored Lua
-- pattern; returns nil for a glob without "*" (compared exactly).
local function glob(s)
  if not s:find("*", 1, true) then return nil end
  return "^" .. s:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
end
_M.glob = glob

-- True if value matches the exact string or compiled glob.
local function matches(exact, pat, value)
  if pat then return value:find(pat) ~= nil end
  return exact == value
end

-- Expands a permission list into a set; returns nil, reason on bad input.
function _M.permission_set(list)
  if type(list) ~= "table" then return nil, "permissions must be a list" end
  local set = {}
  for i, p in ipairs(list) do
    local ex = EXPAND[p]
    if not ex then
      return nil, fmt("permissions[%d]: unknown permission '%s' (expected recall, retain, reflect, forget, admin, read, write or *)", i, tostring(p))
    end
    for _, q in ipairs(ex) do set[q] = true end
  end
  return set
end

-- Validates and compiles one grant; key is its config path for errors.
local function compile_grant(g, key)
  if type(g) ~= "table" then
    return nil, errors.config(key .. " must be a table {bank_id, principal, permissions}", { key_path = key })
  end
  local missing = {}
  for _, f in ipairs({ "bank_id", "principal", "permissions" }) do
    if g[f] == nil then missing[#missing + 1] = f end
  end
  if #missing > 0 then
    return nil, errors.config(fmt("Invalid %s: missing required field(s): %s", key, concat(missing, ", ")), { key_path = key })
  end
  if type(g.bank_id) ~= "string" or type(g.principal) ~= "string" then
    return nil, errors.config(key .. ": bank_id and principal must be strings", { key_path = key })
  end
  local set, why = _M.permission_set(g.permissions)
  if not set then return nil, errors.config(key .. ": " .. why, { key_path = key .. ".permissions" }) end
  local p = _M.principal(g.principal)
  return { bank_id = g.bank_id, bank_pat = glob(g.bank_id), principal = p, principal_pat = glob(p), perms = set }
end

-- Collects grants from access_grants and banks.<id>.access.
local function config_grants(cfg)
  local out = {}
  local list = cfg.access_grants or {}
  if type(list) ~= "table" then return nil, errors.config("access_grants must be a list", { key_path = "access_grants" }) end
  for i, g in ipairs(list) do
    local c, err = compile_grant(g, fmt("access_grants entry at index %d", i - 1))
    if not c then return nil, err end
    out[#out + 1] = c
  end
  local banks = cfg.banks or {}
  local ids = {}
  for id in pairs(banks) do ids[#ids + 1] = id end
  sort(ids)
  for _, id in ipairs(ids) do
    local acc = type(banks[id]) == "table" and banks[id].access or nil
    if acc ~= nil then
      if type(acc) ~= "table" then return nil, errors.config(fmt("banks.%s.access must be a list", id), { key_path = "banks." .. id .. ".access" }) end
      for i, g in ipairs(acc) do
        local key = fmt("banks.%s.access[%d]", id, i - 1)
        local entry = g
        if type(g) == "table" then
          -- `grants:` (the user docs' spelling) is an alias of `permissions:`.
          if g.grants ~= nil and g.permissions ~= nil then
            return nil, errors.config(key .. ": give permissions or grants (its alias), not both", { key_path = key })
          end
          entry = { bank_id = id, principal = g.principal, permissions = g.permissions or g.grants }
        end
        local c, err = compile_grant(entry, key)
        if not c then return nil, err end
        out[#out + 1] = c
      end
    end
  end
  return out
end

-- access.new(cfg, opts) → access checker | nil, ConfigError. cfg is the
-- whole config (access_control, access_grants, banks, identity); opts:
-- { provider = <object with check> } to inject a policy provider directly.
function _M.new(cfg, opts)
  cfg = cfg or {}
  opts = opts or {}
  local ac = cfg.access_control or {}
  if type(ac) ~= "table" then return nil, errors.config("access_control must be a table", { key_path = "access_control" }) end
  local policy = POLICIES[ac.default_policy or "owner_only"]
  if not policy then
    return nil, errors.config(fmt("access_control.default_policy must be owner_only, open or deny, got '%s'", tostring(ac.default_policy)),
                              { key_path = "access_control.default_policy" })
  end
  local grants, err = config_grants(cfg)
  if not grants then return nil, err end
  local id = cfg.identity or {}
  local self = {
    enabled = ac.enabled == true, policy = policy, grants = grants,
    prefixes = { user = id.user_bank_prefix or "user-", agent = id.agent_bank_prefix or "agent-",
                 service = id.service_bank_prefix or "service-" },
  }
  local provider = opts.provider
  if provider == nil and ac.policy_provider ~= nil then
    provider, err = registry.build("access_policies", ac.policy_provider, ac.policy_provider_config, "access_control.policy_provider")
    if not provider then return nil, err end
  end
  if provider ~= nil then
    if type(provider) ~= "table" or type(provider.check) ~= "function" then
      return nil, errors.config("access_control.policy_provider: provider has no check method", { key_path = "access_control.policy_provider" })
    end
    local comp = ac.policy_composition or "config_then_external"
    if not COMPOSITIONS[comp] then
      return nil, errors.config(fmt("access_control.policy_composition must be external_only, config_then_external or external_then_config, got '%s'", tostring(comp)),
                                { key_path = "access_control.policy_composition" })
    end
    self.provider, self.composition = provider, comp
  end
  return setmetatable(self, mt)
end

-- ac:set_grants(list) → true | nil, ConfigError: replaces the grants
-- (entries {bank_id, principal, permissions}), as set_access_grants does.
function _M:set_grants(list)
  local out = {}
  for i, g in ipairs(list or {}) do
    local c, err = compile_grant(g, fmt("grant at index %d", i - 1))
    if not c then return nil, err end
    out[#out + 1] = c
  end
  self.grants = out
  return true
end

-- Permission set of one principal (plus its teams) on bank from grants and,
-- under owner_only, its convention bank.
local function perms_of(self, principal, teams, bank_id)
  local set = {}
  if self.policy == "owner_only" then
    local kind, id = principal:match("^(%a+):(.*)$")
    local prefix = kind and self.prefixes[kind]
    if prefix and bank_id == prefix .. id then
      for _, p in ipairs(_M.PERMISSIONS) do set[p] = true end
    end
  end
  for _, g in ipairs(self.grants) do
    if matches(g.bank_id, g.bank_pat, bank_id) then
      local hit = matches(g.principal, g.principal_pat, principal)
      if not hit and teams then
        for _, t in ipairs(teams) do
          if matches(g.principal, g.principal_pat, t) then hit = true; break end
        end
      end
      if hit then for p in pairs(g.perms) do set[p] = true end end
    end
  end
  return set
end

-- Canonical team principals of a context ("support" ⇒ "team:support").
local function teams_of(ctx)
  local t = ctx.teams
  if type(t) ~= "table" then return nil end
  local out = {}
  for i, s in ipairs(t) do
    out[i] = (type(s) == "string" and s:find("^team:")) and s or "team:" .. tostring(s)
  end
  return out
end

-- Actor and on-behalf-of principal strings of a context (either may be nil).
local function parties(ctx)
  if type(ctx) ~= "table" then return nil end
  local actor = ctx.actor or ctx.principal
  if actor == nil or actor == "" then return nil end
  local obo = ctx.on_behalf_of
  return _M.principal(actor), obo ~= nil and _M.principal(obo) or nil
end

-- ac:permissions(ctx, bank_id) → set of allowed permissions from grants and
-- owner_only convention banks (the default policy's "open" is not applied).
function _M:permissions(ctx, bank_id)
  local actor, obo = parties(ctx)
  if not actor then return {} end
  local set = perms_of(self, actor, teams_of(ctx), bank_id)
  if obo then
    local other = perms_of(self, obo, nil, bank_id)
    for p in pairs(set) do if not other[p] then set[p] = nil end end
  end
  return set
end

local function denied(label, obo, bank_id, perm, reason)
  local who = obo and (label .. " on behalf of " .. obo) or label
  local msg = fmt("%s may not %s bank '%s'", who, perm, bank_id)
  if reason then msg = msg .. " (" .. reason .. ")" end
  return nil, errors.new("AccessDenied", msg, { principal = label, on_behalf_of = obo, bank_id = bank_id, permission = perm, reason = reason })
end

-- Asks the provider: true, false or nil (no opinion), and a reason.
local function ask(self, actor, bank_id, perm, ctx)
  local ok, allow, reason = pcall(self.provider.check, self.provider, actor, bank_id, perm,
                                  { context = ctx, reference_permission = REFERENCE_PERM[perm] })
  if not ok then return false, "policy provider failed: " .. tostring(allow) end
  if allow == nil then return nil, reason end
  return allow and true or false, reason
end

-- ac:check(ctx, bank_id, permission) → true, or nil and AccessDenied
-- {principal, on_behalf_of?, bank_id, permission, reason?}. permission is
-- recall, retain, reflect, forget or admin (read/write are taken as recall/
-- retain). Misuse (unknown permission) raises.
function _M:check(ctx, bank_id, perm)
  if perm == "read" then perm = "recall" elseif perm == "write" then perm = "retain" end
  if not REFERENCE_PERM[perm] then error("access: unknown permission '" .. tostring(perm) .. "'", 2) end
  if not self.enabled then return true end
  local actor, obo = parties(ctx)
  if not actor then
    if self.policy == "open" then return true end
    return denied("anonymous", nil, bank_id, perm)
  end
  local by_config = self.policy == "open" or self:permissions(ctx, bank_id)[perm] == true
  if not self.provider then
    if by_config then return true end
    return denied(actor, obo, bank_id, perm)
  end
  local comp = self.composition
  if comp == "config_then_external" and by_config then return true end
  local allow, reason = ask(self, actor, bank_id, perm, ctx)
  if allow == true and obo then
    allow, reason = ask(self, obo, bank_id, perm, ctx)
  end
  if allow == true then return true end
  if allow == nil and comp == "external_then_config" and by_config then return true end
  return denied(actor, obo, bank_id, perm, reason)
end

-- ac:allowed_banks(ctx, candidates, perm) → sorted banks of candidates on
-- which ctx may perm (for identity.auto_resolve_banks).
function _M:allowed_banks(ctx, candidates, perm)
  local out = {}
  for _, b in ipairs(candidates) do
    if self:check(ctx, b, perm or "recall") then out[#out + 1] = b end
  end
  sort(out)
  return out
end

return _M
