-- astrocyte.providers.shared.schema: config schema fragments the network
-- providers have in common (not a provider: registry discovery skips
-- "shared", and it declares no group). See astrocyte.config_check.
local S = require "astrocyte.config_schema"

local _M = {}

-- base_url (or its other name url): an http(s) URL; `default` per provider.
function _M.base_url(default, primary)
  primary = primary or "base_url"
  local other = primary == "base_url" and "url" or "base_url"
  return { [primary] = { "string", pattern = S.URL, default = default },
           [other] = { "string", pattern = S.URL, alias_of = primary } }
end

-- A map of header name → value; values may be credentials, so masked.
_M.headers = { "map", values = "string", secret = true }

-- The OpenAI-compatible client (providers/shared/openai_compat), shared by
-- openai and litellm. chat_model and embedding_model default to `model`,
-- else gpt-4o-mini / text-embedding-3-small, so they have no fixed default.
function _M.openai_compat(default_base)
  return S.extend(S.http_client, _M.base_url(default_base), {
    api_key = { "string", non_empty = true, secret = true },
    api_key_header = { "string", non_empty = true },
    model = { "string", non_empty = true },
    chat_model = { "string", non_empty = true },
    embedding_model = { "string", non_empty = true },
    dimensions = { "integer", min = 1, max = 65536 },
    send_dimensions = "boolean",
    batch_size = { "integer", min = 1, max = 4096, default = 256 },
    batching = { "boolean", default = true },
    organization = "string", project = "string",
    headers = _M.headers,
  })
end

return _M
