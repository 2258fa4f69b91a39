-- Config schema of the mem0 engine provider (provider_config); see
-- astrocyte.config_check. base_url defaults by api: https://api.mem0.ai
-- (platform) or http://localhost:8888 (oss), so it has no fixed default.
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { engine_providers = S.extend(S.http_client, shared.base_url(nil), {
  api_key = { "string", secret = true },
  api = { "string", one_of = { "platform", "oss" }, default = "platform" },
  bank_as = { "string", one_of = { "user_id", "agent_id", "run_id" }, default = "user_id" },
  org_id = "string", project_id = "string",
}) }
