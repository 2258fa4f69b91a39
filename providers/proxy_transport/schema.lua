-- Config schema of the proxy_transport outbound transport
-- (outbound_transport.config); see astrocyte.config_check. Proxy URLs may
-- carry user-info and headers credentials, so they are masked.
local shared = require "astrocyte.providers.shared.schema"

local proxy_url = { "string", pattern = "^%a[%w+.-]*://[^%s]+$", secret = true }
local seconds = { "number", min = 0 }
return { outbound_transports = {
  proxy = proxy_url, http_proxy = proxy_url, https_proxy = proxy_url,
  no_proxy = "string", ca_bundle = "string",
  headers = shared.headers, proxy_headers = shared.headers,
  timeouts = { connect = seconds, read = seconds, total = seconds },
} }
