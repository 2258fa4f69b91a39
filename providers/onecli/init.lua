-- astrocyte.providers.onecli: an OutboundTransportProvider in the style of
-- the reference's astrocyte-transport-onecli. OneCLI is a credential
-- gateway: agents send their outbound HTTP through a local gateway
-- (default http://localhost:10255) that holds the real API keys and injects
-- them on the way out, so the agent process never sees them. apply(ctx)
-- therefore routes every request through the gateway as an HTTP(S) proxy,
-- trusts the gateway's CA (it terminates TLS to inject credentials) and
-- identifies the agent to the gateway with its access token — sent to the
-- proxy only (Proxy-Authorization), never to the upstream API, or as a
-- plain header when `token_header` names one. The token is never logged.
local _M = { SPI_VERSION = 1, name = "onecli" }
local mt = { __index = _M, __tostring = function() return "onecli transport" end }

local DEFAULT_GATEWAY = "http://localhost:10255"

-- conf: { gateway_url? (http://localhost:10255), token? / access_token?,
--         token_header? (default: Proxy-Authorization to the gateway only),
--         ca_bundle?, no_proxy?, agent? (sent as X-OneCLI-Agent) }
function _M.new(conf)
  conf = conf or {}
  local gw = conf.gateway_url or DEFAULT_GATEWAY
  if type(gw) ~= "string" or not gw:match("^https?://[^%s]+$") then
    return nil, "onecli: gateway_url must be an http(s) URL like " .. DEFAULT_GATEWAY
  end
  local token = conf.token or conf.access_token
  if token ~= nil and (type(token) ~= "string" or token == "") then
    return nil, "onecli: token must be a non-empty string"
  end
  if conf.ca_bundle ~= nil and type(conf.ca_bundle) ~= "string" then
    return nil, "onecli: ca_bundle must be a file path"
  end
  return setmetatable({ gateway = gw:gsub("/+$", ""), token = token, conf = conf }, mt)
end

function _M:apply(ctx)
  ctx.proxy = self.gateway
  ctx.proxies = nil
  if self.conf.no_proxy then ctx.no_proxy = self.conf.no_proxy end
  if self.conf.ca_bundle then ctx.ca_bundle = self.conf.ca_bundle end
  ctx.headers = ctx.headers or {}
  if self.conf.agent then ctx.headers["X-OneCLI-Agent"] = self.conf.agent end
  if self.token then
    local h = self.conf.token_header
    if h then
      ctx.headers[h] = self.token
    else
      ctx.proxy_headers = ctx.proxy_headers or {}
      ctx.proxy_headers["Proxy-Authorization"] = "Bearer " .. self.token
    end
  end
end

function _M:subprocess_env()
  local e = { HTTP_PROXY = self.gateway, HTTPS_PROXY = self.gateway,
              http_proxy = self.gateway, https_proxy = self.gateway }
  if self.conf.ca_bundle then
    e.SSL_CERT_FILE, e.NODE_EXTRA_CA_CERTS, e.REQUESTS_CA_BUNDLE =
      self.conf.ca_bundle, self.conf.ca_bundle, self.conf.ca_bundle
  end
  if self.token then e.ONECLI_TOKEN = self.token end
  return e
end

function _M:capabilities()
  return { supports_proxy = true, supports_custom_ca = true, supports_client_cert = false, supports_headers = true }
end

return { outbound_transports = _M.new, new = _M.new }
