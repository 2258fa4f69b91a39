-- astrocyte.providers.proxy_transport: a static OutboundTransportProvider
-- (spi.md §1.10) for corporate proxies — one proxy URL (or one per scheme),
-- a no_proxy list, a CA bundle, extra headers for every request, headers
-- for the proxy only (Proxy-Authorization), and default timeouts. apply()
-- copies them into the HttpClientContext before any client is built;
-- subprocess_env() gives the same settings to child processes. Credentials
-- in the config (proxy user-info, header values) never appear in a message.
local _M = { SPI_VERSION = 1, name = "proxy_transport" }
local mt = { __index = _M }

local function check_url(v, key)
  if v == nil then return true end
  if type(v) ~= "string" or not v:match("^%a[%w+.-]*://[^%s]+$") then
    return nil, "proxy_transport: " .. key .. " must be a URL like http://host:port"
  end
  return true
end

-- conf: { proxy?, http_proxy?, https_proxy?, no_proxy?, ca_bundle?,
--         headers? {name = value}, proxy_headers? {name = value},
--         timeouts? {connect, read, total} (seconds) }
function _M.new(conf)
  conf = conf or {}
  for _, k in ipairs { "proxy", "http_proxy", "https_proxy" } do
    local ok, err = check_url(conf[k], k)
    if not ok then return nil, err end
  end
  if conf.ca_bundle ~= nil and type(conf.ca_bundle) ~= "string" then
    return nil, "proxy_transport: ca_bundle must be a file path"
  end
  for _, k in ipairs { "headers", "proxy_headers", "timeouts" } do
    if conf[k] ~= nil and type(conf[k]) ~= "table" then return nil, "proxy_transport: " .. k .. " must be a map" end
  end
  return setmetatable({ conf = conf }, mt)
end

function _M:apply(ctx)
  local c = self.conf
  if c.proxy then ctx.proxy = c.proxy end
  if c.http_proxy or c.https_proxy then
    ctx.proxies = { http = c.http_proxy or c.proxy, https = c.https_proxy or c.proxy }
  end
  if c.no_proxy then ctx.no_proxy = c.no_proxy end
  if c.ca_bundle then ctx.ca_bundle = c.ca_bundle end
  ctx.headers = ctx.headers or {}
  for k, v in pairs(c.headers or {}) do ctx.headers[k] = v end
  if c.proxy_headers then
    ctx.proxy_headers = ctx.proxy_headers or {}
    for k, v in pairs(c.proxy_headers) do ctx.proxy_headers[k] = v end
  end
  ctx.timeouts = ctx.timeouts or {}
  for k, v in pairs(c.timeouts or {}) do ctx.timeouts[k] = v end
end

function _M:subprocess_env()
  local c, e = self.conf, {}
  local hp, hsp = c.http_proxy or c.proxy, c.https_proxy or c.proxy
  if hp then e.HTTP_PROXY, e.http_proxy = hp, hp end
  if hsp then e.HTTPS_PROXY, e.https_proxy = hsp, hsp end
  if c.no_proxy then e.NO_PROXY, e.no_proxy = c.no_proxy, c.no_proxy end
  if c.ca_bundle then e.SSL_CERT_FILE, e.REQUESTS_CA_BUNDLE = c.ca_bundle, c.ca_bundle end
  return e
end

function _M:capabilities()
  local c = self.conf
  return { supports_proxy = true, supports_custom_ca = true, supports_client_cert = false,
           supports_headers = true, configured_proxy = (c.proxy or c.http_proxy or c.https_proxy) ~= nil }
end

function _M:__tostring() return "proxy_transport" end
mt.__tostring = _M.__tostring

return { outbound_transports = _M.new, new = _M.new }
