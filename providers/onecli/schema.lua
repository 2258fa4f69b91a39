-- Config schema of the onecli outbound transport (outbound_transport.config);
-- see astrocyte.config_check.
local S = require "astrocyte.config_schema"

return { outbound_transports = {
  gateway_url = { "string", pattern = S.URL, default = "http://localhost:10255" },
  token = { "string", non_empty = true, secret = true },
  access_token = { "string", non_empty = true, secret = true, alias_of = "token" },
  token_header = "string",   -- default: Proxy-Authorization, to the gateway only
  ca_bundle = "string", no_proxy = "string", agent = "string",
} }
