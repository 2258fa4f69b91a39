-- Config schema of the openai provider (llm_provider_config,
-- embedding_provider_config); see astrocyte.config_check.
local shared = require "astrocyte.providers.shared.schema"

return { llm_providers = shared.openai_compat("https://api.openai.com/v1") }
