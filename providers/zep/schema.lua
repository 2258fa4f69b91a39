-- Config schema of the zep engine provider (provider_config); see
-- astrocyte.config_check.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { engine_providers = S.extend(S.http_client, shared.base_url("https://api.getzep.com"), {
  api_key = { "string", secret = true },
  user_id = { "string", default = "astrocyte" },
  session_prefix = { "string", default = "astrocyte-" },
}) }
