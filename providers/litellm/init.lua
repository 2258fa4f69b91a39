-- astrocyte.providers.litellm: LLMProvider for a LiteLLM proxy, the gateway
-- that fronts Bedrock, Azure OpenAI, Vertex AI, Anthropic and local models
-- behind one OpenAI-compatible API. Requests go to base_url (default
-- http://localhost:4000) with the proxy's virtual or master key as a bearer
-- token; `model` is the proxy's model alias (e.g. "claude-sonnet" or
-- "bedrock/anthropic.claude-3"). Everything else — chat completions with
-- tools and response_format, batched embeddings, usage, retries, redaction —
-- is the shared OpenAI-compatible client. health() asks LiteLLM's own
-- /health/liveliness probe. Optional: user (sent as "user" for LiteLLM's
-- spend tracking), tags (sent as metadata.tags).
local compat = require "astrocyte.providers.shared.openai_compat"
local shared = require "astrocyte.providers.shared"

local _M = setmetatable({ name = "litellm" }, { __index = compat })
local mt = { __index = _M, __tostring = function(self) return "litellm provider (" .. self.base .. ")" end }

function _M.new(conf)
  conf = conf or {}
  local p, err = compat.new(conf, { name = "litellm", default_base = "http://localhost:4000" })
  if not p then return nil, err end
  p.extra_body = { user = conf.user, metadata = conf.tags and { tags = conf.tags } or nil }
  return setmetatable(p, mt)
end

-- LiteLLM's liveness probe (no model call, no spend).
function _M:health()
  local root = self.base:gsub("/v1$", "")
  return shared.health(function()
    return self.http:json { url = root .. "/health/liveliness", headers = self.headers }
  end)
end

return { llm_providers = _M.new, new = _M.new }
