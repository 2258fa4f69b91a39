-- astrocyte.providers.openai: LLMProvider for OpenAI and every
-- OpenAI-compatible server (Ollama at http://localhost:11434/v1, vLLM,
-- llama.cpp server, a LiteLLM proxy) through base_url. Chat completions
-- (tools, response_format, token usage) and batched embeddings; the code
-- lives in astrocyte.providers.shared.openai_compat, shared with litellm.
-- Config: base_url (https://api.openai.com/v1), api_key, model (chat, or the
-- embedding model when used as embedding_provider), chat_model,
-- embedding_model, dimensions, batch_size (256), batching (true),
-- organization, project, headers, timeout_ms, max_retries, outbound_transport.
local compat = require "astrocyte.providers.shared.openai_compat"

local function new(conf) return compat.new(conf, { name = "openai" }) end

return { llm_providers = new, new = new, Provider = compat }
