-- Config schema of the opa access policy provider
-- (access_control.policy_provider_config); see astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

local base = shared.base_url(nil, "url")
base.url.required = true
return { access_policies = S.extend(S.http_client, base, {
  path = { "string", pattern = "^[%w_%-/]+$", default = "astrocyte/allow" },
  token = { "string", secret = true },   -- bearer
  headers = shared.headers,
  timeout_ms = { "integer", min = 1, default = 2000 },
}) }
