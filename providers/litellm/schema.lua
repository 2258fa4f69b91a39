-- Config schema of the litellm provider: the OpenAI-compatible keys plus
-- user (LiteLLM spend tracking) and tags (sent as metadata.tags).
local S = require "astrocyte.config_schema"
local shared = require "astrocyte.providers.shared.schema"

return { llm_providers = S.extend(shared.openai_compat("http://localhost:4000"), {
  user = "string", tags = { "list", items = "string" },
}) }
