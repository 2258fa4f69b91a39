-- astrocyte.transport: the OutboundTransport seam (spi.md §1.10). It builds
-- the HttpClientContext every astrocyte.http client starts from:
--   { proxy, proxies = {http, https}, no_proxy, ca_bundle, headers,
--     proxy_headers, timeouts = {connect, read, total} (seconds) }
-- (proxy, ca_bundle, headers and timeouts are the reference DTO's fields;
-- proxies, no_proxy and proxy_headers are this port's additions). The
-- configured OutboundTransportProvider — config `outbound_transport:
-- {provider, config}`, resolved through the registry group
-- outbound_transports — mutates a fresh context through apply(ctx) before
-- any client is built. With no provider configured, the standard
-- environment is honoured: HTTP_PROXY / HTTPS_PROXY / NO_PROXY /
-- SSL_CERT_FILE (lower-case variants too).
--
-- The active transport is per Lua state (per OpenResty worker): the engine
-- (or a host) calls transport.use(spec) once at open; a provider config may
-- also carry its own `outbound_transport` to override it.
local errors = require "astrocyte.errors"
local registry = require "astrocyte.registry"
local type, pairs = type, pairs

local _M = {}

local active   -- { spec, provider } of the transport set by use(), or nil

local function env(name, getenv)
  getenv = getenv or os.getenv
  local v = getenv(name) or getenv(name:lower())
  if v == "" then return nil end
  return v
end

-- Context from the environment (getenv injectable for tests).
function _M.from_env(getenv)
  local ctx = { headers = {} }
  local hp, hsp = env("HTTP_PROXY", getenv), env("HTTPS_PROXY", getenv)
  local all = env("ALL_PROXY", getenv)
  if hp or hsp or all then ctx.proxies = { http = hp or all, https = hsp or all } end
  ctx.no_proxy = env("NO_PROXY", getenv)
  ctx.ca_bundle = env("SSL_CERT_FILE", getenv) or env("CURL_CA_BUNDLE", getenv)
  return ctx
end

-- Builds the provider of spec = {provider = name, config = {...}} (or
-- returns an already built provider). Returns provider or nil, ConfigError.
function _M.build(spec)
  if type(spec) ~= "table" then
    return nil, errors.config("outbound_transport must be a map {provider, config}", { key_path = "outbound_transport" })
  end
  if type(spec.apply) == "function" then return spec end
  return registry.build("outbound_transports", spec.provider, spec.config or {}, "outbound_transport.provider")
end

-- Returns a fresh HttpClientContext after the provider's apply(ctx), or the
-- environment's context when spec is nil. nil, err when the provider fails.
function _M.context(spec)
  if spec == nil then return _M.from_env() end
  local p, err = _M.build(spec)
  if not p then return nil, err end
  local ctx = { headers = {}, proxy_headers = {}, timeouts = {} }
  local ok, aerr = pcall(p.apply, p, ctx)
  if not ok then
    return nil, errors.config("outbound_transport: apply failed: " .. tostring(aerr), { key_path = "outbound_transport" })
  end
  if next(ctx.proxy_headers) == nil then ctx.proxy_headers = nil end
  return ctx
end

-- Sets the transport of this Lua state (nil restores the environment
-- default). Returns true or nil, err (the previous one stays on error).
function _M.use(spec)
  if spec == nil then active = nil; return true end
  local p, err = _M.build(spec)
  if not p then return nil, err end
  local ctx; ctx, err = _M.context(p)
  if not ctx then return nil, err end
  active = { provider = p }
  return true
end

-- The context new clients start from: the active transport's, else env's.
function _M.current()
  if active then
    local ctx = _M.context(active.provider)
    if ctx then return ctx end
  end
  return _M.from_env()
end

-- Environment for child processes (HTTPS_PROXY, tokens ...) of the active
-- transport; {} without one.
function _M.subprocess_env()
  if not active then return {} end
  local ok, e = pcall(active.provider.subprocess_env, active.provider)
  return ok and type(e) == "table" and e or {}
end

-- Copy of a context with credential values masked (for `config check`,
-- logs); never use the result for requests.
function _M.masked(ctx)
  local http_secret = { authorization = true, ["proxy-authorization"] = true, ["x-api-key"] = true, ["api-key"] = true }
  local out = {}
  for k, v in pairs(ctx or {}) do out[k] = v end
  local function mask_headers(h)
    if not h then return nil end
    local m = {}
    for k, v in pairs(h) do
      m[k] = (http_secret[k:lower()] or k:lower():find("token", 1, true)) and "***" or v
    end
    return m
  end
  out.headers, out.proxy_headers = mask_headers(ctx.headers), mask_headers(ctx.proxy_headers)
  local function mask_url(u) return u and (u:gsub("(%a[%w+.-]*://)[^/@]+@", "%1***@")) end
  out.proxy = mask_url(ctx.proxy)
  if ctx.proxies then out.proxies = { http = mask_url(ctx.proxies.http), https = mask_url(ctx.proxies.https) } end
  return out
end

return _M
