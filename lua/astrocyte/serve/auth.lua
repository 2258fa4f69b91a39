-- astrocyte.serve.auth: who is calling the gateway (surfaces.md §2.3). The
-- mode comes from ASTROCYTE_AUTH_MODE (or `serve --auth`):
--   dev        no credentials; principal = X-Astrocyte-Principal (absent →
--              anonymous). Only on a loopback listen address unless
--              ASTROCYTE_ALLOW_DEV_AUTH=1.
--   api_key    X-Api-Key must equal ASTROCYTE_API_KEY (constant time) and
--              X-Astrocyte-Principal names the principal; or a key listed in
--              ASTROCYTE_API_KEYS ("principal=key,..."), bound to its principal.
--   jwt_hs256  Authorization: Bearer, HS256 with ASTROCYTE_JWT_SECRET,
--              optional ASTROCYTE_JWT_AUDIENCE / ASTROCYTE_JWT_ISSUER; principal = sub.
--   jwt_oidc   RS256 against the JWKS at ASTROCYTE_OIDC_JWKS_URL; issuer and
--              audience (ASTROCYTE_OIDC_ISSUER / _AUDIENCE) required; principal
--              = claim astrocyte_principal, else <actor type>:<sub> (actor type
--              = claim astrocyte_actor_type, else ASTROCYTE_OIDC_ACTOR_TYPE, "user").
-- The result is the engine's access context {principal, teams?, claims?}
-- (astrocyte.policy.access), so access grants apply to it as to any caller.
-- Admin routes also need X-Admin-Token = ASTROCYTE_ADMIN_TOKEN; without a
-- token configured they answer only on a loopback listen address.
local core = require "astrocyte.core"
local errors = require "astrocyte.errors"
local jwt = require "astrocyte.serve.jwt"
local type, tostring, setmetatable, ipairs = type, tostring, setmetatable, ipairs

local _M = {}
local mt = { __index = _M }

_M.MODES = { dev = true, api_key = true, jwt_hs256 = true, jwt = true, jwt_oidc = true }

-- The environment variables the workers need (nginx passes only those named
-- by an `env` directive).
_M.ENV = {
  "ASTROCYTE_AUTH_MODE", "ASTROCYTE_ALLOW_DEV_AUTH", "ASTROCYTE_API_KEY", "ASTROCYTE_API_KEYS",
  "ASTROCYTE_JWT_SECRET", "ASTROCYTE_JWT_AUDIENCE", "ASTROCYTE_JWT_ISSUER",
  "ASTROCYTE_OIDC_JWKS_URL", "ASTROCYTE_OIDC_ISSUER", "ASTROCYTE_OIDC_AUDIENCE",
  "ASTROCYTE_OIDC_ACTOR_TYPE", "ASTROCYTE_ADMIN_TOKEN",
}

local function unauthorized(msg) return errors.new("Unauthorized", msg) end

local function truthy(v) return v == "1" or v == "true" or v == "yes" end

-- Whether a listen address ("127.0.0.1:8080", "[::1]:80", "8080") is loopback.
function _M.loopback(listen)
  local host = tostring(listen):match("^%[(.-)%]") or tostring(listen):match("^(.-):%d+$")
  if host == nil then return false end             -- a bare port listens on every address
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

local function need(env, name, mode)
  local v = env(name)
  if v == nil or v == "" then
    return nil, errors.config(("auth mode %s needs %s"):format(mode, name), { key_path = name })
  end
  return v
end

-- new(listen, env, mode?) → authenticator | nil, ConfigError. env(name) reads
-- a variable (os.getenv); mode overrides ASTROCYTE_AUTH_MODE.
function _M.new(listen, env, mode)
  mode = mode or env("ASTROCYTE_AUTH_MODE") or "dev"
  if mode == "" then mode = "dev" end
  if not _M.MODES[mode] then
    return nil, errors.config("auth mode must be dev, api_key, jwt_hs256 or jwt_oidc, got '" .. tostring(mode) .. "'",
                              { key_path = "ASTROCYTE_AUTH_MODE" })
  end
  if mode == "jwt" then mode = "jwt_hs256" end
  local self = { mode = mode, loopback = _M.loopback(listen), admin_token = env("ASTROCYTE_ADMIN_TOKEN") }
  if self.admin_token == "" then self.admin_token = nil end
  local err
  if mode == "dev" and not self.loopback and not truthy(env("ASTROCYTE_ALLOW_DEV_AUTH")) then
    return nil, errors.config("auth mode dev serves only a loopback address (listen " .. tostring(listen)
      .. "); pick another mode or set ASTROCYTE_ALLOW_DEV_AUTH=1", { key_path = "ASTROCYTE_AUTH_MODE" })
  elseif mode == "api_key" then
    self.api_key = env("ASTROCYTE_API_KEY")
    if self.api_key == "" then self.api_key = nil end
    self.keys = {}
    for item in (env("ASTROCYTE_API_KEYS") or ""):gmatch("[^,]+") do
      local p, k = item:match("^%s*([^=]+)=(.-)%s*$")
      if not p or k == "" then
        return nil, errors.config("ASTROCYTE_API_KEYS takes principal=key,...; got '" .. item .. "'",
                                  { key_path = "ASTROCYTE_API_KEYS" })
      end
      self.keys[#self.keys + 1] = { principal = p, key = k }
    end
    if not self.api_key and #self.keys == 0 then
      return nil, errors.config("auth mode api_key needs ASTROCYTE_API_KEY or ASTROCYTE_API_KEYS",
                                { key_path = "ASTROCYTE_API_KEY" })
    end
  elseif mode == "jwt_hs256" then
    self.secret, err = need(env, "ASTROCYTE_JWT_SECRET", mode); if not self.secret then return nil, err end
    self.audience, self.issuer = env("ASTROCYTE_JWT_AUDIENCE"), env("ASTROCYTE_JWT_ISSUER")
  elseif mode == "jwt_oidc" then
    local url
    url, err = need(env, "ASTROCYTE_OIDC_JWKS_URL", mode); if not url then return nil, err end
    self.issuer, err = need(env, "ASTROCYTE_OIDC_ISSUER", mode); if not self.issuer then return nil, err end
    self.audience, err = need(env, "ASTROCYTE_OIDC_AUDIENCE", mode); if not self.audience then return nil, err end
    self.actor_type = env("ASTROCYTE_OIDC_ACTOR_TYPE") or "user"
    self.jwks = require("astrocyte.serve.jwks").new({ url = url })
  end
  if self.audience == "" then self.audience = nil end
  if self.issuer == "" then self.issuer = nil end
  return setmetatable(self, mt)
end

-- The context of a principal header value; nil → anonymous.
local function header_context(v)
  if v == nil or v == "" then return nil end
  if type(v) ~= "string" or #v > 256 or v:find("[%c]") then
    return nil, unauthorized("X-Astrocyte-Principal must be one principal like user:ana")
  end
  return { principal = v }
end

local function bearer(headers)
  local h = headers["authorization"]
  if type(h) ~= "string" then return nil, unauthorized("missing Authorization: Bearer token") end
  local tok = h:match("^[Bb]earer%s+(%S+)%s*$")
  if not tok then return nil, unauthorized("Authorization must be 'Bearer <token>'") end
  return tok
end

-- Claims → context: principal, teams (a claim `teams`: list of strings).
local function claims_context(principal, claims)
  local ctx = { principal = principal }
  if type(claims.teams) == "table" then
    local teams = {}
    for _, t in ipairs(claims.teams) do if type(t) == "string" then teams[#teams + 1] = t end end
    ctx.teams = teams
  end
  return ctx
end

local function check_token(self, tok)
  local t, why = jwt.parse(tok)
  if not t then return nil, unauthorized(why) end
  local ok
  if self.mode == "jwt_hs256" then ok, why = jwt.verify_hs256(t, self.secret)
  else ok, why = self.jwks:verify(t) end
  if not ok then return nil, unauthorized(why) end
  ok, why = jwt.check_claims(t.claims, { issuer = self.issuer, audience = self.audience,
                                         now = ngx and ngx.time() or os.time() })
  if not ok then return nil, unauthorized(why) end
  local c = t.claims
  if self.mode == "jwt_hs256" then
    if type(c.sub) ~= "string" or c.sub == "" then return nil, unauthorized("token has no sub claim") end
    return claims_context(c.sub, c)
  end
  local p = c.astrocyte_principal
  if p == nil then
    if type(c.sub) ~= "string" or c.sub == "" then return nil, unauthorized("token has no sub claim") end
    local actor = type(c.astrocyte_actor_type) == "string" and c.astrocyte_actor_type or self.actor_type
    p = actor .. ":" .. c.sub
  end
  if type(p) ~= "string" then return nil, unauthorized("claim astrocyte_principal must be a string") end
  return claims_context(p, c)
end

-- auth:authenticate(headers) → ctx | false (anonymous) | nil, Unauthorized.
-- headers: lower-case names → value (a repeated header is refused).
function _M:authenticate(headers)
  for _, name in ipairs({ "authorization", "x-api-key", "x-astrocyte-principal" }) do
    if type(headers[name]) == "table" then return nil, unauthorized(name .. " header given more than once") end
  end
  local mode = self.mode
  if mode == "dev" then
    local ctx, err = header_context(headers["x-astrocyte-principal"])
    if err then return nil, err end
    return ctx or false
  elseif mode == "api_key" then
    local given = headers["x-api-key"]
    if type(given) ~= "string" or given == "" then return nil, unauthorized("missing X-Api-Key") end
    for _, k in ipairs(self.keys) do
      if core.constant_time_eq(given, k.key) then return { principal = k.principal } end
    end
    if self.api_key and core.constant_time_eq(given, self.api_key) then
      local ctx, err = header_context(headers["x-astrocyte-principal"])
      if err then return nil, err end
      if not ctx then return nil, unauthorized("api_key auth needs X-Astrocyte-Principal") end
      return ctx
    end
    return nil, unauthorized("invalid API key")
  end
  local tok, err = bearer(headers)
  if not tok then return nil, err end
  return check_token(self, tok)
end

-- auth:admin(headers) → true | nil, Unauthorized / AccessDenied.
function _M:admin(headers)
  if self.admin_token then
    local given = headers["x-admin-token"]
    if type(given) == "string" and core.constant_time_eq(given, self.admin_token) then return true end
    return nil, unauthorized("admin routes need a valid X-Admin-Token")
  end
  if self.loopback then return true end
  return nil, errors.new("AccessDenied", "admin routes are disabled on a public address without ASTROCYTE_ADMIN_TOKEN")
end

return _M
